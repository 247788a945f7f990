/**
 * A lab: one SoC configuration, one policy, and the ordered list of steps applied so far (design.md "The bench").
 * The step list is the source of truth; undo and time travel restore the nearest checkpoint (checkpoint.ts) at or
 * before the target and replay the steps after it; reset rebuilds the SoC.
 *
 * The timeline is `records` (applied, in order) followed by `redoSteps()` (undone or jumped over, kept for redo and
 * forward jumps). Applying a new step ends the timeline there: the steps after it are dropped, as in an editor.
 *
 * The timeline itself is held in columns (step-log.ts): a bind or unbind takes 17 bytes and no object, so that the
 * garbage collector has nothing to copy or mark for the steps a lab keeps; a record read back is made afresh, equal to
 * the one the step returned. While a step is in the window (below) the lab hands out the record it made itself.
 *
 * Traces are derived too. A record is the step's data (StepRecord); the lab keeps each step's trace and touched sets
 * while it is among the last `traceWindow` steps applied, and `traceOf(record)` regenerates an older one on demand by
 * replaying from the nearest checkpoint with tracing off up to that step (determinism says it comes out the same; a
 * test checks it). A jump replays the steps far behind its target with tracing off, three times faster. `traces()`
 * regenerates a range in one pass (exports).
 */
import { isDeepStrictEqual } from 'node:util';
import type { StepResult, Finding } from '../../shared/results.js';
import type { SocConfig } from '../../shared/soc-config.js';
import type { Op, PolicyName } from '../../shared/steps.js';
import { StepSet, type TraceRecord } from '../sim/kernel/trace.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import type { IommuDomain, IommuSva, MmStruct } from '../sim/kernel/structs.js';
import { buildSoc, type BootReport } from '../sim/soc.js';
import { applyOp } from './apply.js';
import { causeText } from '../sim/devices/isolation.js';
import { CheckpointStore, type CheckpointOptions } from './checkpoint.js';
import { checkDirty, markAll } from './invariants.js';
import { stateView, type View } from './view.js';
import { NO_FINDINGS, StepList, StepLog, type StepRecord, type Timeline } from './step-log.js';

export type { StepRecord } from './step-log.js';
export { StepList } from './step-log.js';

export interface LabOptions {
  /** Check invariants after every step (default true). */
  check?: boolean;
  /** Record the trace (default true). */
  trace?: boolean;
  /** Report what each step touched (default true; hosts build their diffs from it). */
  touched?: boolean;
  /** Checkpoints for undo and time travel (default: every 1000 steps, see CheckpointOptions); false: replay from boot. */
  checkpoints?: CheckpointOptions | false;
  /** How many of the last steps keep their trace in memory (default 1024); older traces are regenerated on demand. */
  traceWindow?: number;
}

const DEFAULT_TRACE_WINDOW = 1024;

/** The trace of a step that has none to give (rejected, or a lab that does not trace). */
const NO_TRACE: TraceRecord[] = Object.freeze([]) as unknown as TraceRecord[];

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

export class Lab implements Timeline {
  kernel!: Kernel;
  boot!: BootReport;
  /** Findings at boot (step -1), e.g. a configuration that breaks an invariant before anything runs. */
  bootFindings: Finding[] = [];
  bootTrace: TraceRecord[] = [];
  /**
   * The timeline: every step applied, then the steps to redo (undone or jumped over), held in columns (step-log.ts).
   * `records` and `redoSteps()` are views of its two parts.
   */
  private readonly log = new StepLog();
  /** Steps applied: where on the timeline the kernel is. */
  private pos = 0;
  /** The steps applied, in order (a live view: records are made as they are read). */
  readonly records: StepList = new StepList(this, false);
  private readonly redoList: StepList = new StepList(this, true);
  /** Open violations by invariant|subject. */
  private open = new Map<string, Finding>();
  private readonly check: boolean;
  private readonly trace: boolean;
  private readonly wantTouched: boolean;
  private readonly checkpoints: CheckpointStore<Map<string, Finding>> | null;
  private readonly traceWindow: number;
  /**
   * The window: the traces and touched sets of the last `traceWindow` steps, each in slot `index % traceWindow` beside
   * the record it belongs to (a slot is read only for that record, so one overwritten, or left by a jump for a record
   * no longer on the timeline, is simply not found). Writing a step's slot drops what the step `traceWindow` before it
   * kept there: nothing else ages. Empty in a lab that keeps neither traces nor touched sets.
   */
  private winRec: (StepRecord | undefined)[] = [];
  private winTrace: (TraceRecord[] | null)[] = [];
  private winTouched: Touched[] = [];

  constructor(
    readonly config: SocConfig,
    readonly policy: PolicyName,
    options: LabOptions = {},
  ) {
    this.check = options.check ?? true;
    this.trace = options.trace ?? true;
    this.wantTouched = options.touched ?? true;
    this.checkpoints = options.checkpoints === false ? null : new CheckpointStore(options.checkpoints ?? {});
    const w = options.traceWindow ?? DEFAULT_TRACE_WINDOW;
    if (!Number.isSafeInteger(w) || w < 1) throw new RangeError(`traceWindow must be a positive integer, got ${w}`);
    this.traceWindow = w;
    this.reset();
  }

  /** Rebuilds the SoC from the configuration, with no steps applied (and none to redo). */
  reset(): void {
    this.boot0();
    this.log.clear();
    this.checkpoints?.clear();
  }

  /** The SoC at boot, records emptied. Deterministic: the same kernel, boot findings and trace every time. */
  private boot0(): void {
    const { kernel, boot } = buildSoc(this.config, this.policy, this.trace);
    this.kernel = kernel;
    this.boot = boot;
    this.pos = 0;
    this.winRec = [];
    this.winTrace = [];
    this.winTouched = [];
    this.open.clear();
    this.bootTrace = kernel.tr.drain();
    if (this.check) {
      markAll(kernel);
      this.bootFindings = this.collect(-1);
    } else {
      kernel.dirty.clear();
      kernel.dropCheckerIndexes();
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
    const future = this.log.length > this.pos;
    if (future) this.checkpoints?.dropAfter(this.pos);
    const rec = this.applyStep(op, this.trace);
    if (rec.result.rejected === undefined && future) this.log.truncate(this.pos);
    return rec;
  }

  /** Applies one step, tracing it or not (a replay far behind its target does not: that trace would be dropped). */
  private applyStep(op: Op, traced: boolean): StepRecord {
    const index = this.pos;
    const t0 = this.checkpoints ? performance.now() : 0;
    this.kernel.tr.on = traced;
    const result = applyOp(this.kernel, op);
    const drained = this.kernel.tr.drain();
    const trace = traced || !this.trace ? drained : null;
    if (result.rejected !== undefined) {
      this.kernel.dirty.clear();
      return { index, op, result, findings: [] }; // not recorded: nothing of it is kept
    }
    const touched = this.wantTouched ? touchedBy(this.kernel) : EMPTY_TOUCHED;
    let findings = this.check ? this.collect(index) : NO_FINDINGS;
    if (result.isolation || result.crossed) {
      if (findings === NO_FINDINGS) findings = [];
      const cause = result.cause ? { cause: result.cause } : {};
      if (result.isolation) findings.push({ step: index, invariant: 'isolation', subject: `dma:${index}`, message: result.isolation, ...cause });
      if (result.crossed) {
        const message = `ENQCMD from ${'process' in op.args ? op.args.process : '?'} carried PASID ${result.pasid}, which names ${result.reaches} on ${'device' in op.args ? op.args.device : '?'}`;
        findings.push({ step: index, invariant: 'isolation', subject: `enqcmd:${index}`, message: result.cause ? message + causeText(result.cause) : message, ...cause });
      }
    }
    if (!this.check) this.kernel.dirty.clear();
    const rec: StepRecord = { index, op, result, findings };
    // In place of the step at this index, if any: a replay writes the same step again; a new step's caller (apply)
    // then drops the steps after it.
    this.log.write(index, op, result, findings);
    const n = (this.pos = index + 1);
    if (this.trace || this.wantTouched) {
      const slot = index % this.traceWindow;
      this.winRec[slot] = rec;
      this.winTrace[slot] = trace;
      this.winTouched[slot] = touched;
    }
    if (this.checkpoints?.stepped(n, performance.now() - t0)) this.checkpoints.take(n, this.kernel, new Map(this.open));
    return rec;
  }

  /** Removes the last step (restoring the nearest checkpoint and replaying); it stays available to redo. */
  undo(): StepRecord | null {
    if (this.pos === 0) return null;
    const last = this.stepAt(this.pos - 1);
    this.jumpTo(this.pos - 1);
    return last;
  }

  /** Applies the next step of the timeline again (after an undo or a jump back); null when there is none. */
  redo(): StepRecord | null {
    if (this.pos >= this.log.length) return null;
    return this.replayStep(this.log.opAt(this.pos), this.trace);
  }

  /** The steps available to redo, in order (after undo or a jump back). */
  redoSteps(): StepList {
    return this.redoList;
  }

  /** Steps applied: the timeline's steps before the current position (records.length). */
  get position(): number {
    return this.pos;
  }

  /**
   * Timeline step `i` (0 <= i < timelineLength): the record the lab made, while the step is in the window (so that
   * `holds()` and identity work there), else one made afresh from the log, equal to it.
   */
  stepAt(i: number): StepRecord {
    const w = this.winRec[i % this.traceWindow];
    if (w !== undefined && w.index === i && i < this.log.length) return w;
    return this.log.at(i);
  }

  /** Steps applied plus steps to redo: the length of the timeline a jump can reach. */
  get timelineLength(): number {
    return this.log.length;
  }

  /**
   * Time travel: the state after the first `n` steps of the timeline, backwards or forwards. The nearest checkpoint
   * at or before `n` is restored (or, going forwards, the current state kept when that is nearer) and the steps
   * between replayed; the steps after `n` are kept for redo and later jumps.
   */
  jumpTo(n: number): void {
    const len = this.pos;
    const total = this.log.length;
    if (!Number.isSafeInteger(n) || n < 0 || n > total) throw new RangeError(`jumpTo(${n}): the timeline has ${total} step(s)`);
    if (n === len) return;
    const cp = this.checkpoints?.at(n) ?? null;
    const base = cp?.n ?? 0;
    let from: number;
    if (n > len && n - len <= n - base) {
      from = len; // forwards from here: nearer than any checkpoint
    } else {
      // A new live kernel: the touched sets kept from before must not keep the old one alive. Only the window holds
      // objects; those of the steps from base to n are replaced by the replay, detaching them is harmless.
      for (const t of this.winTouched) if (t) detachTouched(t);
      if (cp) {
        this.kernel = this.checkpoints!.restore(cp);
        this.open = new Map(cp.extra);
        this.pos = base;
      } else this.boot0();
      from = base;
    }
    const traceFrom = n - this.traceWindow;
    for (let i = from; i < n; i++) this.replayStep(this.log.opAt(i), this.trace && i >= traceFrom);
    this.kernel.tr.on = this.trace;
    // Slots the replay did not rewrite keep what they held: a step still on the timeline (before n, or now to redo)
    // is the same step with the same trace; a replaced one is no longer found (its record is gone).
  }

  /** Applies a step that was applied before at this position; determinism says it applies the same way again. */
  private replayStep(op: Op, traced: boolean): StepRecord {
    const rec = this.applyStep(op, traced);
    if (rec.result.rejected !== undefined) throw new Error(`replay diverged at step ${rec.index}: ${rec.result.rejected}`);
    return rec;
  }

  /**
   * The traces of timeline steps [from, to), in order, regenerated in one pass: the nearest checkpoint at or before
   * `from` is copied (the live kernel is untouched) and the steps replayed, traced from `from` on. A lab that does
   * not trace yields empty traces.
   */
  *traces(from: number, to: number): Generator<TraceRecord[]> {
    const total = this.log.length;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to > total || from > to) {
      throw new RangeError(`traces(${from}, ${to}): the timeline has ${total} step(s)`);
    }
    if (!this.trace) {
      for (let i = from; i < to; i++) yield [];
      return;
    }
    // Kept traces need no replay: yield them until the first dropped one.
    let i = from;
    for (; i < to; i++) {
      const kept = this.keptTrace(this.stepAt(i));
      if (!kept) break;
      yield kept;
    }
    if (i === to) return;
    const cp = this.checkpoints?.at(i) ?? null;
    const kernel = cp ? this.checkpoints!.scratch(cp) : buildSoc(this.config, this.policy, false).kernel;
    kernel.dirty.disable();
    for (let j = cp?.n ?? 0; j < to; j++) {
      kernel.tr.on = j >= i;
      const result = applyOp(kernel, this.log.opAt(j));
      const trace = kernel.tr.drain();
      if (result.rejected !== undefined) throw new Error(`trace replay diverged at step ${j}: ${result.rejected}`);
      if (j >= i) yield trace;
    }
  }

  /**
   * What the step did, call by call: kept for the last `traceWindow` steps, else regenerated by a replay from the
   * nearest checkpoint (tracing from the step on; determinism says it comes out the same). Empty for a rejected step
   * and in a lab that does not trace. Throws for a record no longer on the lab's timeline.
   */
  traceOf(rec: StepRecord): TraceRecord[] {
    if (!this.trace || rec.result.rejected !== undefined) return NO_TRACE;
    return this.keptTrace(rec) ?? this.regenerateTrace(rec);
  }

  /**
   * What the step touched: while it is among the last `traceWindow` steps, the kernel's own objects; for older steps
   * (and steps applied on a kernel since replaced by time travel), stand-ins holding only what hosts read of an older
   * step: names, labels, an mm's owner's name, a domain's ASID. Empty for a rejected step and in a lab that does not
   * report touched sets. Throws for a record no longer on the lab's timeline.
   */
  touchedOf(rec: StepRecord): Touched {
    if (!this.wantTouched || rec.result.rejected !== undefined) return EMPTY_TOUCHED;
    const slot = rec.index % this.traceWindow;
    return this.winRec[slot] === rec ? this.winTouched[slot]! : this.regenerateTouched(rec);
  }

  /**
   * Whether the record is in the window (one of the last `traceWindow` steps, or left there by a jump): its touched
   * sets are held, and its trace unless a jump replayed the step untraced (far behind its target).
   */
  holds(rec: StepRecord): boolean {
    return this.winRec[rec.index % this.traceWindow] === rec;
  }

  /** The record's trace if the window holds it. */
  private keptTrace(rec: StepRecord): TraceRecord[] | null {
    const slot = rec.index % this.traceWindow;
    return this.winRec[slot] === rec ? this.winTrace[slot]! : null;
  }

  /** The trace of a record whose kept copy was dropped (traceOf). */
  private regenerateTrace(rec: StepRecord): TraceRecord[] {
    if (!this.onTimeline(rec)) throw new Error(`the trace of step ${rec.index} is gone: that step is no longer on the lab's timeline`);
    for (const t of this.traces(rec.index, rec.index + 1)) return t;
    return [];
  }

  /**
   * The touched sets of a record that left the window (touchedOf): the nearest checkpoint at or before it is
   * copied (the live kernel is untouched), the steps up to it replayed, and the sets the step itself marks read off
   * the copy, as stand-ins (names, labels, owners, ASIDs: what detachTouched keeps).
   */
  private regenerateTouched(rec: StepRecord): Touched {
    if (!this.onTimeline(rec)) throw new Error(`the touched sets of step ${rec.index} are gone: that step is no longer on the lab's timeline`);
    if (!this.wantTouched) return EMPTY_TOUCHED;
    const cp = this.checkpoints?.at(rec.index) ?? null;
    const kernel = cp ? this.checkpoints!.scratch(cp) : buildSoc(this.config, this.policy, false).kernel;
    kernel.tr.on = false;
    kernel.dirty.clear();
    for (let j = cp?.n ?? 0; j <= rec.index; j++) {
      const result = applyOp(kernel, this.log.opAt(j));
      kernel.tr.drain();
      if (result.rejected !== undefined) throw new Error(`touched replay diverged at step ${j}: ${result.rejected}`);
      if (j < rec.index) kernel.dirty.clear();
    }
    const t = touchedBy(kernel);
    detachTouched(t);
    return t;
  }

  /** Forgets the steps to redo (the timeline ends at the current step). */
  discardRedo(): void {
    this.log.truncate(this.pos);
    this.checkpoints?.dropAfter(this.pos);
  }

  /**
   * Whether `rec` is the step at its index on the timeline: the window's own record there, or a record equal to the
   * step there (the log makes records afresh, so identity cannot say it). [choice] Equal, not identical: a record of a
   * step that a new branch replaced by an equal step (same operation, same result, at the same index) counts as on
   * the timeline; what it is asked for is then the equal step's.
   */
  private onTimeline(rec: StepRecord): boolean {
    if (!Number.isSafeInteger(rec.index) || rec.index < 0 || rec.index >= this.log.length) return false;
    const here = this.stepAt(rec.index);
    return here === rec || (isDeepStrictEqual(here.op, rec.op) && isDeepStrictEqual(here.result, rec.result));
  }

  /** How the timeline is held (step-log.ts): steps, steps kept as given beside the columns, names, column bytes. */
  logStats(): { steps: number; kept: number; names: number; columnBytes: number } {
    const l = this.log;
    return { steps: l.length, kept: l.keptCount, names: l.nameCount, columnBytes: l.columnBytes };
  }

  /** Checkpoints held: how many, at which steps, their estimated memory, the current interval. */
  checkpointInfo(): { count: number; positions: number[]; bytes: number; interval: number } {
    const c = this.checkpoints;
    return c ? { count: c.count, positions: c.positions(), bytes: c.bytes, interval: c.interval } : { count: 0, positions: [], bytes: 0, interval: 0 };
  }

  /** Every finding so far, boot included, in step order. */
  findings(): Finding[] {
    return [...this.bootFindings, ...this.log.findingsBefore(this.pos)];
  }

  /** Violations not yet resolved. */
  openFindings(): Finding[] {
    return [...this.open.values()];
  }

  view(): View {
    return stateView(this.kernel);
  }

  /**
   * Checks the step's dirty sets: the violations it caused (not open before), and the open ones a passing check of
   * their subject resolved. A clean step with nothing open (the usual case) allocates nothing here.
   */
  private collect(step: number): Finding[] {
    const { violations, checked } = checkDirty(this.kernel, this.open.size > 0);
    if (violations.length === 0 && checked === null) return NO_FINDINGS;
    const now = new Map(violations.map((v) => [`${v.invariant}|${v.subject}`, v]));
    const fresh: Finding[] = [];
    if (checked) {
      for (const key of this.open.keys()) {
        const subject = key.slice(key.indexOf('|') + 1);
        if (checked.has(subject) && !now.has(key)) this.open.delete(key);
      }
    }
    for (const [key, v] of now) {
      if (this.open.has(key)) continue;
      const f: Finding = { step, invariant: v.invariant, subject: v.subject, message: v.message };
      this.open.set(key, f);
      fresh.push(f);
    }
    return fresh.length ? fresh : NO_FINDINGS;
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
  if (t.mms.length) t.mms = t.mms.map((mm) => ({ label: mm.label, owner: { name: mm.owner.name } }) as unknown as MmStruct);
  if (t.domains.length) t.domains = t.domains.map((d) => ({ label: d.label, smmuDomain: d.smmuDomain ? { asid: d.smmuDomain.asid } : null }) as unknown as IommuDomain);
  if (t.bonds.length) t.bonds = t.bonds.map((h) => ({ label: h.label }) as unknown as IommuSva);
  mark[DETACHED] = true;
}

const EMPTY_TOUCHED: Touched = Object.freeze({ devices: [], groups: [], processes: [], mms: [], domains: [], bonds: [], pasids: [], slots: [], cds: [] }) as unknown as Touched;

/** One frozen empty list shared by every touched set that has nothing in it (most lists of most steps). */
const NONE = Object.freeze([]) as unknown as never[];

/** The elements of a set as a list (mapped), or the shared empty list. */
function listOf<T, U = T>(set: StepSet<T>, f?: (x: T) => U): U[] {
  if (set.size === 0) return NONE;
  const out: U[] = [];
  for (const x of set) out.push(f ? f(x) : (x as unknown as U));
  return out;
}

/** touchedBy's scratch set of device names (emptied before each use: touchedBy is not reentrant). */
const DEVICES = new StepSet<string>();

function touchedBy(k: Kernel): Touched {
  const d = k.dirty;
  const devices = DEVICES;
  devices.clear();
  for (const m of d.masters) devices.add(m.dev.name);
  for (const g of d.groups) for (const dev of g.devices) devices.add(dev.name);
  let slots: [string, number][] = NONE;
  if (d.slots.size) {
    slots = [];
    for (const [g, ps] of d.slots) for (const p of ps) slots.push([g.name, p]);
  }
  let cds: [string, number][] = NONE;
  if (d.cds.size) {
    cds = [];
    for (const [m, ss] of d.cds) for (const s of ss) cds.push([m.dev.name, s]);
  }
  return {
    devices: listOf(devices),
    groups: listOf(d.groups, (g) => g.name),
    processes: listOf(d.processes, (p) => p.name),
    mms: listOf(d.mms),
    domains: listOf(d.domains),
    bonds: listOf(d.handles),
    pasids: listOf(d.pasids),
    slots,
    cds,
  };
}
