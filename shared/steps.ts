/**
 * Lab steps and scenario files: the operations a person (or a scenario, or the UI's command bar) can apply to a lab,
 * the expectations a scenario attaches to them, and the scenario file itself. Validation produces messages that
 * name the step and the field.
 */
import { z } from 'zod';
import { Name, SocConfig } from './soc-config.js';

export const POLICY_NAMES = ['mainline', 'rfc-v1', 'arch-gated', 'driver-pasid'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export const ERRNO_NAMES = ['EPERM', 'ENOENT', 'ENOMEM', 'EBUSY', 'ENODEV', 'EINVAL', 'ENOSPC', 'ERANGE', 'EOVERFLOW', 'EOPNOTSUPP', 'ENXIO', 'EFAULT', 'SIGSEGV', 'SIGILL'] as const;

const ProcessRef = z.object({ process: Name }).strict();
/** A 48-bit virtual address. */
const Va = z.int().min(0).max(2 ** 48 - 1);
/** A transfer length: at most 1 MiB per step. */
const Len = z.int().min(1).max(1 << 20);
/** Bytes as hex, e.g. "deadbeef". */
const Hex = z.string().regex(/^([0-9a-fA-F]{2})+$/, 'hex bytes, an even number of hex digits').max(2 << 20);

/** Jobs of the `submit` step: copy/fill (the accelerator), memmove/fill/compare (dsa), memmove/compress/decompress (iaa). */
export const SUBMIT_OPS = ['copy', 'fill', 'memmove', 'compare', 'compress', 'decompress'] as const;
export type SubmitOp = (typeof SUBMIT_OPS)[number];

/** Every operation with the schema of its arguments. Processes are created on first mention. */
export const OPS = {
  /** Open the device's SVA file: the driver binds the opener's mm (iommu_sva_bind_device or the policy's variant). */
  bind: z.object({ process: Name, device: Name }).strict(),
  /** Close the process's most recent file on the device: drops one reference of that bond. */
  unbind: z.object({ process: Name, device: Name }).strict(),
  /** Create a process explicitly (otherwise created on first mention). */
  spawn: ProcessRef,
  /** fork(): the child gets a new mm without a PASID and copies of the parent's open files. */
  fork: z.object({ process: Name, child: Name }).strict(),
  /** execve(): a new mm; open files are kept. */
  exec: ProcessRef,
  /** exit(): the mm is dropped and the files close; `files_kept` models another process still holding them (S5). */
  exit: z.object({ process: Name, files_kept: z.boolean().default(false) }).strict(),
  /** idxd_enable_system_pasid(): a global kernel PASID with the DMA domain attached, named `as`. */
  alloc_global_pasid: z.object({ device: Name, as: Name.optional() }).strict(),
  /** idxd_disable_system_pasid(): detach and free the kernel PASID named `name`. */
  free_global_pasid: z.object({ name: Name }).strict(),
  /** A kernel driver attaches its DMA domain at a PASID it picked itself, outside the IDA (S8.3). */
  attach_kernel_pasid: z.object({ device: Name, pasid: z.int().min(0).max(0xfffff), as: Name.optional() }).strict(),
  /** Change the RID domain of the device's group (a VFIO/iommufd attach, iommu.passthrough, ...). */
  attach_rid: z.object({ device: Name, domain: z.enum(['dma', 'identity', 'blocked', 's2']) }).strict(),
  /** idxd: open a work queue's char device (a dedicated WQ opened twice gets -EBUSY, S13). */
  open_wq: z.object({ process: Name, device: Name, wq: Name }).strict(),
  /** x86 ENQCMD from a thread of the process to a shared WQ of the device (S9). Threads are created on first mention. */
  enqcmd: z.object({ process: Name, thread: Name.default('main'), device: Name, wq: Name.optional() }).strict(),
  /** mmap(): a VMA in the process's address space; pages are populated on first touch (CPU or IOPF). */
  map: z.object({ process: Name, va: Va, length: Len, write: z.boolean().default(true) }).strict(),
  /** The CPU touches memory: reads, or writes `data` (hex bytes, repeated) / a counting pattern. Faults pages in. */
  touch: z.object({ process: Name, va: Va, length: Len.default(1), write: z.boolean().default(true), data: Hex.optional() }).strict(),
  /** munmap(): pages go; `notify: false` skips the mmu-notifier invalidation (a kernel bug, to show stale TLBs). */
  unmap: z.object({ process: Name, va: Va, length: Len, notify: z.boolean().default(true) }).strict(),
  /**
   * dma_map_single() of a kernel buffer for the device: pages mapped at `iova` in its group's DMA domain (the RID's
   * io-pgtable), for RID traffic (no SSID) and kernel PASIDs. Fails when the RID is not on a DMA domain.
   */
  dma_map: z.object({ device: Name, iova: Va, length: Len, data: Hex.optional() }).strict(),
  /**
   * A DMA from the device through its SMMU. `process`: tagged with the PASID the device's driver programmed for that
   * process's open file; `ssid`: a raw SubstreamID; neither: no SubstreamID (RID traffic).
   */
  dma: z
    .object({
      device: Name,
      process: Name.optional(),
      ssid: z.int().min(0).max(0xfffff).optional(),
      /** A raw StreamID instead of the device's own (traffic from a stream the kernel does not know). */
      sid: z.int().min(0).max(0xffffffff).optional(),
      va: Va,
      length: Len.default(64),
      write: z.boolean().default(false),
      data: Hex.optional(),
    })
    .strict()
    .refine((a) => a.process === undefined || a.ssid === undefined, { message: 'give process or ssid, not both' }),
  /**
   * A job executed by the device as real DMA through its SMMU (docs/model.md "Devices").
   * - platform device with PASID support (the seed's accelerator): `copy` (src -> dst) or `fill` (value -> dst) in
   *   the context of `process`'s open file, tagged with that context's SSID register;
   * - dsa (`memmove`, `fill`, `compare` of src with dst) and iaa (`memmove`, `compress`, `decompress` src -> dst, at
   *   most `dst_length` bytes out): a descriptor on work queue `wq`. With `process`: a dedicated WQ takes WQCFG.pasid
   *   (MOVDIR64B), a shared WQ the PASID of `thread`'s ENQCMD (IA32_PASID, or ACCDATA_EL1 on an arm64 SoC with
   *   `enqcmd: true`). Without `process`: a kernel descriptor with the idxd kernel PASID, on IOVAs from dma_map.
   *   `completion`: where the device writes the completion record (32-byte aligned for dsa, 64 for iaa).
   */
  submit: z
    .object({
      device: Name,
      process: Name.optional(),
      wq: Name.optional(),
      thread: Name.optional(),
      op: z.enum(SUBMIT_OPS),
      src: Va.optional(),
      dst: Va,
      length: Len,
      /** fill: the pattern, 1 to 8 bytes as hex, repeated. */
      value: z.string().regex(/^([0-9a-fA-F]{2}){1,8}$/, '1 to 8 bytes as hex').optional(),
      dst_length: Len.optional(),
      completion: Va.optional(),
    })
    .strict()
    .refine((a) => a.op === 'fill' || a.src !== undefined, { message: 'this operation reads `src`: give it', path: ['src'] })
    .refine((a) => a.op !== 'fill' || a.value !== undefined, { message: 'fill needs a `value` (hex bytes)', path: ['value'] })
    .refine((a) => a.op !== 'fill' || a.src === undefined, { message: 'fill reads nothing: drop `src`', path: ['src'] })
    .refine((a) => a.op === 'fill' || a.value === undefined, { message: '`value` is the pattern of a fill', path: ['value'] }),
} as const;

export type OpName = keyof typeof OPS;
export const OP_NAMES = Object.keys(OPS) as OpName[];
export type OpArgs<O extends OpName> = z.infer<(typeof OPS)[O]>;

/** One applied operation, the unit of the lab's step list. */
export type Op = { [O in OpName]: { op: O; args: OpArgs<O> } }[OpName];

/** What a step's result must be. */
export const Outcome = z
  .object({
    ok: z.boolean(),
    pasid: z.int().min(0).max(0xffffffff),
    error: z.enum(ERRNO_NAMES),
    /** A count of new invariant violations, or the names of the invariants broken by this step. */
    violations: z.union([z.int().min(0), z.array(z.string())]),
    /** enqcmd: whose address space the descriptor's PASID names on the device (null: nothing attached). */
    reaches: z.string().nullable(),
    /** dma, submit: the last SMMU event recorded during the step (null: none was recorded). */
    event: z.string().nullable(),
    /** dma, submit: every SMMU event recorded during the step, in order. */
    events: z.array(z.string()),
    /** dma (read) / touch (read): the bytes read back, as hex; submit (dsa/iaa): the completion record the device wrote. */
    data: z.string(),
    /** State after the step: a dotted path into the lab's state view, and the value expected there. */
    state: z.record(z.string(), z.unknown()),
  })
  .partial()
  .strict();
export type Outcome = z.infer<typeof Outcome>;

/** Top-level keys apply under every policy; a key named after a policy adds to (and overrides) them for it. */
export const Expect = Outcome.extend(Object.fromEntries(POLICY_NAMES.map((p) => [p, Outcome.optional()])) as Record<PolicyName, z.ZodOptional<typeof Outcome>>).strict();
export type Expect = z.infer<typeof Expect>;

export interface ScenarioStep {
  op: Op;
  expect: Expect | null;
  note: string | null;
  /** Where the step came from (its index in the file, 0-based). */
  index: number;
}

export interface Scenario {
  name: string;
  description: string | null;
  policies: PolicyName[];
  soc: SocConfig;
  steps: ScenarioStep[];
}

export interface Problem {
  path: string;
  message: string;
}

/** Formats a zod error's issues as path-qualified problems under `prefix`. */
export function zodProblems(e: z.ZodError, prefix: string): Problem[] {
  return e.issues.map((i) => ({ path: joinPath(prefix, i.path), message: i.message }));
}

function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let s = prefix;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

/** Parses one step object: exactly one operation key, plus optional `expect` and `note`. */
export function parseStep(raw: unknown, index: number): { step: ScenarioStep } | { problems: Problem[] } {
  const at = `steps[${index}]`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { problems: [{ path: at, message: 'a step must be a mapping such as { bind: { process: p1, device: dev0 } }' }] };
  const o = raw as Record<string, unknown>;
  const opKeys = Object.keys(o).filter((k) => k !== 'expect' && k !== 'note');
  if (opKeys.length !== 1) {
    return { problems: [{ path: at, message: opKeys.length === 0 ? 'no operation in this step' : `one operation per step, found ${opKeys.join(', ')}` }] };
  }
  const name = opKeys[0]!;
  if (!(name in OPS)) return { problems: [{ path: `${at}.${name}`, message: `unknown operation '${name}' (known: ${OP_NAMES.join(', ')})` }] };
  const op = name as OpName;
  const args = OPS[op].safeParse(o[op] ?? {});
  const problems: Problem[] = [];
  if (!args.success) problems.push(...zodProblems(args.error, `${at}.${op}`));
  let expect: Expect | null = null;
  if (o.expect !== undefined) {
    const e = Expect.safeParse(o.expect);
    if (!e.success) problems.push(...zodProblems(e.error, `${at}.expect`));
    else expect = e.data;
  }
  if (o.note !== undefined && typeof o.note !== 'string') problems.push({ path: `${at}.note`, message: 'a note is a string' });
  if (problems.length || !args.success) return { problems };
  return { step: { op: { op, args: args.data } as Op, expect, note: (o.note as string | undefined) ?? null, index } };
}

const ScenarioHead = z
  .object({
    name: z.string().min(1).max(200),
    description: z.string().max(10000).optional(),
    policy: z.union([z.enum(POLICY_NAMES), z.array(z.enum(POLICY_NAMES)).min(1)]).default('mainline'),
    soc: SocConfig,
    steps: z.array(z.unknown()).max(1_000_000),
  })
  .strict();

/** Validates a parsed scenario document (from YAML or JSON): schema, then the steps, then cross-references. */
export function parseScenario(doc: unknown, checkRefs: (s: Scenario) => Problem[]): { scenario: Scenario } | { problems: Problem[] } {
  const head = ScenarioHead.safeParse(doc);
  if (!head.success) return { problems: zodProblems(head.error, '') };
  const problems: Problem[] = [];
  const steps: ScenarioStep[] = [];
  head.data.steps.forEach((raw, i) => {
    const r = parseStep(raw, i);
    if ('problems' in r) problems.push(...r.problems);
    else steps.push(r.step);
  });
  if (problems.length) return { problems };
  const p = head.data.policy;
  const scenario: Scenario = {
    name: head.data.name,
    description: head.data.description ?? null,
    policies: [...new Set(Array.isArray(p) ? p : [p])],
    soc: head.data.soc,
    steps,
  };
  const refs = checkRefs(scenario);
  return refs.length ? { problems: refs } : { scenario };
}

/** The outcome expected under `policy`: the top-level keys, overridden by the policy's own block. */
export function outcomeFor(expect: Expect | null, policy: PolicyName): Outcome | null {
  if (!expect) return null;
  const base: Outcome = {};
  for (const [k, v] of Object.entries(expect)) if (!(POLICY_NAMES as readonly string[]).includes(k)) (base as Record<string, unknown>)[k] = v;
  const own = expect[policy];
  const merged = own ? { ...base, ...own } : base;
  return Object.keys(merged).length ? merged : null;
}
