/**
 * A lab: one SoC configuration, one policy, and the ordered list of steps applied so far (design.md "The bench").
 * The step list is the source of truth; undo and time travel restore the nearest checkpoint (checkpoint.ts) at or
 * before the target and replay the steps after it; reset rebuilds the SoC.
 *
 * The timeline is `records` (applied, in order) followed by `redoSteps()` (undone or jumped over, kept for redo and
 * forward jumps). Applying a new step ends the timeline there: the steps after it are dropped, as in an editor.
 */
import type { StepResult, Finding } from '../../shared/results.js';
import type { SocConfig } from '../../shared/soc-config.js';
import type { Op, PolicyName } from '../../shared/steps.js';
import type { TraceRecord } from '../sim/kernel/trace.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import type { IommuDomain, IommuSva, MmStruct } from '../sim/kernel/structs.js';
import { buildSoc, type BootReport } from '../sim/soc.js';
import { applyOp } from './apply.js';
import { CheckpointStore, type CheckpointOptions } from './checkpoint.js';
import { checkDirty, markAll } from './invariants.js';
import { stateView, type View } from './view.js';

export interface LabOptions {
  /** Check invariants after every step (default true). */
  check?: boolean;
  /** Record the trace (default true). */
  trace?: boolean;
  /** Report what each step touched (default true; hosts build their diffs from it). */
  touched?: boolean;
  /** Checkpoints for undo and time travel (default: every 1000 steps, see CheckpointOptions); false: replay from boot. */
  checkpoints?: CheckpointOptions | false;
}

/**
 * What a step touched, by name: enough for a view to refresh exactly those parts (compact diffs for the UI)
 * without rebuilding the whole state. Always recorded, whether invariants are checked or not.
 */
export interface Touched {
  devices: string[];
  groups: string[];
  processes: string[];
  mms: MmStruct[];
  domains: IommuDomain[];
  bonds: IommuSva[];
  /** PASID numbers whose global IDA or mm ownership may have changed. */
  pasids: number[];
  /** pasid_array slots, as [group name, PASID]. */
  slots: [string, number][];
  /** CDs written, as [device name, SSID]. */
  cds: [string, number][];
}

export interface StepRecord {
  index: number;
  op: Op;
  result: StepResult;
  touched: Touched;
  /** Invariant violations this step caused. */
  findings: Finding[];
  trace: TraceRecord[];
}

export class Lab {
  kernel!: Kernel;
  boot!: BootReport;
  /** Findings at boot (step -1), e.g. a configuration that breaks an invariant before anything runs. */
  bootFindings: Finding[] = [];
  bootTrace: TraceRecord[] = [];
  records: StepRecord[] = [];
  /** Open violations by invariant|subject. */
  private open = new Map<string, Finding>();
  private readonly check: boolean;
  private readonly trace: boolean;
  private readonly wantTouched: boolean;
  /** The steps after the current position (undone or jumped over), in order: what redo and forward jumps apply. */
  private future: StepRecord[] = [];
  private readonly checkpoints: CheckpointStore<Map<string, Finding>> | null;

  constructor(
    readonly config: SocConfig,
    readonly policy: PolicyName,
    options: LabOptions = {},
  ) {
    this.check = options.check ?? true;
    this.trace = options.trace ?? true;
    this.wantTouched = options.touched ?? true;
    this.checkpoints = options.checkpoints === false ? null : new CheckpointStore(options.checkpoints ?? {});
    this.reset();
  }

  /** Rebuilds the SoC from the configuration, with no steps applied (and none to redo). */
  reset(): void {
    this.boot0();
    this.future = [];
    this.checkpoints?.clear();
  }

  /** The SoC at boot, records emptied. Deterministic: the same kernel, boot findings and trace every time. */
  private boot0(): void {
    const { kernel, boot } = buildSoc(this.config, this.policy, this.trace);
    this.kernel = kernel;
    this.boot = boot;
    this.records = [];
    this.open.clear();
    this.bootTrace = kernel.tr.drain();
    if (this.check) {
      markAll(kernel);
      this.bootFindings = this.collect(-1);
    } else {
      kernel.dirty.clear();
      this.bootFindings = [];
      if (!this.wantTouched) kernel.dirty.disable();
    }
  }

  /**
   * Applies one step. A rejected step changes nothing and is not recorded. An applied step ends the timeline here:
   * the steps that were there to redo are dropped.
   */
  apply(op: Op): StepRecord {
    // Checkpoints past this point belong to the old continuation (dropping them is harmless if the step is rejected).
    if (this.future.length) this.checkpoints?.dropAfter(this.records.length);
    const rec = this.applyStep(op);
    if (rec.result.rejected === undefined) this.future = [];
    return rec;
  }

  private applyStep(op: Op): StepRecord {
    const index = this.records.length;
    const t0 = this.checkpoints ? performance.now() : 0;
    const result = applyOp(this.kernel, op);
    const trace = this.kernel.tr.drain();
    if (result.rejected !== undefined) {
      this.kernel.dirty.clear();
      return { index, op, result, touched: EMPTY_TOUCHED, findings: [], trace: [] };
    }
    const touched = this.wantTouched ? touchedBy(this.kernel) : EMPTY_TOUCHED;
    const findings = this.check ? this.collect(index) : [];
    if (result.isolation) findings.push({ step: index, invariant: 'isolation', subject: `dma:${index}`, message: result.isolation });
    if (result.crossed) {
      findings.push({ step: index, invariant: 'isolation', subject: `enqcmd:${index}`, message: `ENQCMD from ${'process' in op.args ? op.args.process : '?'} carried PASID ${result.pasid}, which names ${result.reaches} on ${'device' in op.args ? op.args.device : '?'}` });
    }
    if (!this.check) this.kernel.dirty.clear();
    const rec: StepRecord = { index, op, result, touched, findings, trace };
    this.records.push(rec);
    const n = this.records.length;
    if (this.checkpoints?.stepped(n, performance.now() - t0)) this.checkpoints.take(n, this.kernel, new Map(this.open));
    return rec;
  }

  /** Removes the last step (restoring the nearest checkpoint and replaying); it stays available to redo. */
  undo(): StepRecord | null {
    const last = this.records.at(-1);
    if (!last) return null;
    this.jumpTo(this.records.length - 1);
    return last;
  }

  /** Applies the next step of the timeline again (after an undo or a jump back); null when there is none. */
  redo(): StepRecord | null {
    const next = this.future.shift();
    if (!next) return null;
    return this.replayStep(next.op);
  }

  /** The steps available to redo, in order (after undo or a jump back). */
  redoSteps(): readonly StepRecord[] {
    return this.future;
  }

  /** Steps applied plus steps to redo: the length of the timeline a jump can reach. */
  get timelineLength(): number {
    return this.records.length + this.future.length;
  }

  /**
   * Time travel: the state after the first `n` steps of the timeline, backwards or forwards. The nearest checkpoint
   * at or before `n` is restored (or, going forwards, the current state kept when that is nearer) and the steps
   * between replayed; the steps after `n` are kept for redo and later jumps.
   */
  jumpTo(n: number): void {
    const len = this.records.length;
    const total = len + this.future.length;
    if (!Number.isSafeInteger(n) || n < 0 || n > total) throw new RangeError(`jumpTo(${n}): the timeline has ${total} step(s)`);
    if (n === len) return;
    const timeline = this.future.length ? this.records.concat(this.future) : this.records;
    const cp = this.checkpoints?.at(n) ?? null;
    const base = cp?.n ?? 0;
    let from: number;
    if (n > len && n - len <= n - base) {
      from = len; // forwards from here: nearer than any checkpoint
    } else {
      // A new live kernel: the records kept from before must not keep the old one alive.
      for (let i = 0; i < timeline.length; i++) if (i < base || i >= n) detachTouched(timeline[i]!.touched);
      if (cp) {
        this.kernel = this.checkpoints!.restore(cp);
        this.open = new Map(cp.extra);
        this.records = timeline.slice(0, base);
      } else this.boot0();
      from = base;
    }
    for (let i = from; i < n; i++) this.replayStep(timeline[i]!.op);
    this.future = timeline.slice(n);
  }

  /** Applies a step that was applied before at this position; determinism says it applies the same way again. */
  private replayStep(op: Op): StepRecord {
    const rec = this.applyStep(op);
    if (rec.result.rejected !== undefined) throw new Error(`replay diverged at step ${rec.index}: ${rec.result.rejected}`);
    return rec;
  }

  /** Forgets the steps to redo (the timeline ends at the current step). */
  discardRedo(): void {
    this.future = [];
    this.checkpoints?.dropAfter(this.records.length);
  }

  /** Checkpoints held: how many, at which steps, their estimated memory, the current interval. */
  checkpointInfo(): { count: number; positions: number[]; bytes: number; interval: number } {
    const c = this.checkpoints;
    return c ? { count: c.count, positions: c.positions(), bytes: c.bytes, interval: c.interval } : { count: 0, positions: [], bytes: 0, interval: 0 };
  }

  /** Every finding so far, boot included, in step order. */
  findings(): Finding[] {
    return [...this.bootFindings, ...this.records.flatMap((r) => r.findings)];
  }

  /** Violations not yet resolved. */
  openFindings(): Finding[] {
    return [...this.open.values()];
  }

  view(): View {
    return stateView(this.kernel);
  }

  private collect(step: number): Finding[] {
    const { violations, checked } = checkDirty(this.kernel);
    const now = new Map(violations.map((v) => [`${v.invariant}|${v.subject}`, v]));
    const fresh: Finding[] = [];
    for (const key of this.open.keys()) {
      const subject = key.slice(key.indexOf('|') + 1);
      if (checked.has(subject) && !now.has(key)) this.open.delete(key);
    }
    for (const [key, v] of now) {
      if (this.open.has(key)) continue;
      const f: Finding = { step, invariant: v.invariant, subject: v.subject, message: v.message };
      this.open.set(key, f);
      fresh.push(f);
    }
    return fresh;
  }
}

const DETACHED = Symbol('detached');

/**
 * Replaces the kernel objects in a record's touched sets by stand-ins holding only what hosts read from an older
 * record (labels, an mm's owner's name, a domain's ASID: an undo's patch). Once the live kernel is a restored copy,
 * records of earlier steps must not keep earlier kernels alive.
 */
function detachTouched(t: Touched): void {
  const mark = t as Touched & { [DETACHED]?: true };
  if (t === EMPTY_TOUCHED || mark[DETACHED]) return;
  t.mms = t.mms.map((mm) => ({ label: mm.label, owner: { name: mm.owner.name } }) as unknown as MmStruct);
  t.domains = t.domains.map((d) => ({ label: d.label, smmuDomain: d.smmuDomain ? { asid: d.smmuDomain.asid } : null }) as unknown as IommuDomain);
  t.bonds = t.bonds.map((h) => ({ label: h.label }) as unknown as IommuSva);
  mark[DETACHED] = true;
}

const EMPTY_TOUCHED: Touched = Object.freeze({ devices: [], groups: [], processes: [], mms: [], domains: [], bonds: [], pasids: [], slots: [], cds: [] }) as unknown as Touched;

function touchedBy(k: Kernel): Touched {
  const d = k.dirty;
  const devices = new Set<string>();
  for (const m of d.masters) devices.add(m.dev.name);
  for (const g of d.groups) for (const dev of g.devices) devices.add(dev.name);
  const slots: [string, number][] = [];
  for (const [g, ps] of d.slots) for (const p of ps) slots.push([g.name, p]);
  const cds: [string, number][] = [];
  for (const [m, ss] of d.cds) for (const s of ss) cds.push([m.dev.name, s]);
  return {
    devices: [...devices],
    groups: [...d.groups].map((g) => g.name),
    processes: [...d.processes].map((p) => p.name),
    mms: [...d.mms],
    domains: [...d.domains],
    bonds: [...d.handles],
    pasids: [...d.pasids],
    slots,
    cds,
  };
}
