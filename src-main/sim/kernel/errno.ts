/**
 * Errors are values (design.md): a modelled kernel call returns `KOk<T> | KErr`, it never throws for a modelled
 * failure. A thrown exception means a bug in the simulator.
 */

/** The errno names the model can return, as in include/uapi/asm-generic/errno-base.h and errno.h. */
export const ERRNOS = [
  'EPERM',
  'ENOENT',
  'ENOMEM',
  'EBUSY',
  'ENODEV',
  'EINVAL',
  'ENOSPC',
  'ERANGE',
  'EOVERFLOW',
  'EOPNOTSUPP',
  'ENXIO',
  'EFAULT',
] as const;
export type Errno = (typeof ERRNOS)[number];

/** Outcomes that are not errnos but signals or device-level results (ENQCMD #GP with no PASID -> SIGSEGV). */
export const SIGNALS = ['SIGSEGV', 'SIGILL'] as const;
export type Signal = (typeof SIGNALS)[number];

export interface KErr {
  ok: false;
  errno: Errno | Signal;
  why: string;
}
export type KOk<T> = { ok: true } & T;
export type KResult<T = object> = KOk<T> | KErr;

export function err(errno: Errno | Signal, why: string): KErr {
  return { ok: false, errno, why };
}

export const OK: KOk<object> = Object.freeze({ ok: true as const });
