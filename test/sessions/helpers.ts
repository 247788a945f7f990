/** Shared by the session tests: a small SoC, random step sequences over it, and the compiled CLI. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { SocConfig } from '../../shared/soc-config.js';
import type { Op } from '../../shared/steps.js';
import type { Lab } from '../../src-main/lab/lab.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** tiny: a platform accelerator with 2 PASID bits (hardware contexts); big; two PCI functions in one group; a DSA. */
export const SMALL_SOC: SocConfig = SocConfig.parse({
  arch: 'arm64',
  smmus: [{ name: 'smmu0', ssidsize: 20 }],
  devices: [
    { name: 'tiny', smmu: 'smmu0', sid: 0x10, pasid_bits: 2, stall: true, driver_pasid: true },
    { name: 'big', smmu: 'smmu0', sid: 0x20, pasid_bits: 20 },
    { name: 'fnA', kind: 'pci', smmu: 'smmu0', sid: 0x200, pasid_bits: 4 },
    { name: 'fnB', kind: 'pci', smmu: 'smmu0', sid: 0x201, pasid_bits: 2 },
    { name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 0x100, pasid_bits: 20, kernel_pasid: true },
  ],
  groups: [['fnA', 'fnB']],
});

const PROCS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
const DEVICES = ['tiny', 'big', 'fnA', 'fnB', 'dsa0'];
const proc = fc.constantFrom(...PROCS);
const device = fc.constantFrom(...DEVICES);
const va = fc.constantFrom(0x400000, 0x401000, 0x402000);

/** Random operations: bonds, processes, kernel PASIDs, RID domains, and the data path (pages, DMA, jobs). */
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ process: proc, device }).map((args): Op => ({ op: 'bind', args })) },
  { weight: 5, arbitrary: fc.record({ process: proc, device }).map((args): Op => ({ op: 'unbind', args })) },
  { weight: 1, arbitrary: fc.record({ process: proc, child: proc }).map((args): Op => ({ op: 'fork', args })) },
  { weight: 1, arbitrary: fc.record({ process: proc }).map((args): Op => ({ op: 'exec', args })) },
  { weight: 1, arbitrary: fc.record({ process: proc, files_kept: fc.boolean() }).map((args): Op => ({ op: 'exit', args })) },
  { weight: 1, arbitrary: fc.record({ device }).map((args): Op => ({ op: 'alloc_global_pasid', args })) },
  { weight: 1, arbitrary: fc.record({ name: fc.constantFrom('k1', 'k2', 'dsa0-kernel') }).map((args): Op => ({ op: 'free_global_pasid', args })) },
  { weight: 1, arbitrary: fc.record({ device, domain: fc.constantFrom('dma' as const, 'identity' as const, 'blocked' as const) }).map((args): Op => ({ op: 'attach_rid', args })) },
  { weight: 2, arbitrary: fc.record({ process: proc, va, length: fc.constant(8192), write: fc.constant(true) }).map((args): Op => ({ op: 'map', args })) },
  { weight: 2, arbitrary: fc.record({ process: proc, va, length: fc.constantFrom(16, 64), write: fc.boolean() }).map((args): Op => ({ op: 'touch', args })) },
  { weight: 2, arbitrary: fc.record({ device, process: proc, va, length: fc.constant(32), write: fc.boolean() }).map((args): Op => ({ op: 'dma', args })) },
  {
    weight: 1,
    arbitrary: fc.record({ process: proc, dst: va, length: fc.constant(32) }).map((a): Op => ({ op: 'submit', args: { device: 'tiny', process: a.process, op: 'fill', value: 'a5', dst: a.dst, length: a.length } }) as Op),
  },
);

/** A lab's steps as plain data, with their traces when asked (touched sets hold object references, for hosts). */
export const recordData = (l: Lab, withTrace = true): string =>
  JSON.stringify(l.records.map((r) => ({ index: r.index, op: r.op, result: r.result, findings: r.findings, ...(withTrace ? { trace: l.traceOf(r) } : {}) })));

/** Everything observable about a lab's current state. */
export const stateData = (l: Lab): string => JSON.stringify({ view: l.view(), open: l.openFindings(), boot: [l.bootFindings, l.bootTrace] });

const ENTRY = join(ROOT, 'dist', 'src-main', 'cli', 'session-cmds.js');
const SOURCES = ['shared/session.ts', 'shared/contract.ts', 'src-main/lab/session-io.ts', 'src-main/lab/checkpoint.ts', 'src-main/lab/lab.ts', 'src-main/cli/session-cmds.ts', 'src-main/cli/main.ts'];

const mtime = (p: string): number => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

/**
 * Builds dist/ when the compiled session code is missing or older than its sources (`npm test` builds first; a lone
 * `vitest run` may not have). One build at a time across test files, which vitest runs in parallel.
 */
export function ensureBuilt(): void {
  const fresh = (): boolean => existsSync(ENTRY) && SOURCES.every((s) => mtime(join(ROOT, s)) <= mtime(join(ROOT, 'dist', s.replace(/\.ts$/, '.js'))));
  if (fresh()) return;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const lock = join(ROOT, 'dist', '.sessions-build.lock');
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() - mtime(lock) > 120_000) rmSync(lock, { recursive: true, force: true });
      Atomics.wait(wait, 0, 0, 200);
    }
  }
  try {
    if (fresh()) return;
    const b = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    if (!fresh()) throw new Error(`build failed:\n${b.stdout}${b.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
  all: string;
}

export function svalab(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'svalab.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, all: r.stdout + r.stderr };
}
