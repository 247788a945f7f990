/**
 * A lab: one SoC configuration, one policy, and the ordered list of steps applied so far (design.md "The bench").
 * The step list is the source of truth; undo and time travel restore the nearest checkpoint (checkpoint.ts) at or
 * before the target and replay the steps after it; reset rebuilds the SoC.
 *
 * The timeline is `records` (applied, in order) followed by `redoSteps()` (undone or jumped over, kept for redo and
 * forward jumps). Applying a new step ends the timeline there: the steps after it are dropped, as in an editor.
 *
 * Traces are derived too. A record is the step's data (StepRecord); the lab keeps each step's trace and touched sets
 * while it is among the last `traceWindow` steps applied, and `traceOf(record)` regenerates an older one on demand by
 * replaying from the nearest checkpoint with tracing off up to that step (determinism says it comes out the same; a
 * test checks it). A 100,000-step session thus holds about a kilobyte per step instead of four, most of it not
 * objects the garbage collector must walk, and a jump replays the steps far behind its target with tracing off, three
 * times faster. `traces()` regenerates a range in one pass (exports).
 */
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

/** The findings of a step that caused none, in a lab that does not check: one frozen array for all of them. */
const NO_FINDINGS: Finding[] = Object.freeze([]) as unknown as Finding[];

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

/**
 * One applied step: its data, a plain object. What the step did call by call and what it touched are the lab's to
 * give (`Lab.traceOf`, `Lab.touchedOf`): it keeps them for its last `traceWindow` steps and regenerates older ones.
 *
 * A plain object literal, not a class instance, because a lab keeps every record for good: V8 allocates the objects of
 * a literal site whose objects survive straight in the old generation (allocation-site pretenuring), and never does
 * for `new` of a class. As a class instance each record was copied twice by the scavenger (into the survivor space,
 * then into the old generation). Over 320,000 bind+unbind pairs on a 10,000-process lab, checking off, the scavenger
 * promoted 86-120 MB with class records and 66-82 MB with these, and paused the main thread 200-307 ms against
 * 163-202 ms (four paired runs, `node --trace-gc-nvp`). Checked in place with `%InYoungGeneration`: in an optimized
 * caller's loop, no record is young. V8 may still decline for good: a site whose objects sat on young pages promoted
 * whole (page promotion, when a page is mostly live, as while 10,000 processes are first bound) has their survival
 * uncounted, and a site judged below the 85% ratio once is never pretenured. That happened in 2 of 6 and 3 of 5 runs
 * of the bench's set-up, and never with `--no-page-promotion`; the records are then copied as the class's were.
 */
export interface StepRecord {
  readonly index: number;
  readonly op: Op;
  readonly result: StepResult;
  /** Invariant violations this step caused. */
  readonly findings: Finding[];
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
    this.future = [];
    this.checkpoints?.clear();
  }

  /** The SoC at boot, records emptied. Deterministic: the same kernel, boot findings and trace every time. */
  private boot0(): void {
    const { kernel, boot } = buildSoc(this.config, this.policy, this.trace);
    this.kernel = kernel;
    this.boot = boot;
    this.records = [];
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
    if (this.future.length) this.checkpoints?.dropAfter(this.records.length);
    const rec = this.applyStep(op, this.trace);
    if (rec.result.rejected === undefined && this.future.length) this.future = [];
    return rec;
  }

  /** Applies one step, tracing it or not (a replay far behind its target does not: that trace would be dropped). */
  private applyStep(op: Op, traced: boolean): StepRecord {
    const index = this.records.length;
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
    this.records.push(rec);
    const n = this.records.length;
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
    const last = this.records.at(-1);
    if (!last) return null;
    this.jumpTo(this.records.length - 1);
    return last;
  }

  /** Applies the next step of the timeline again (after an undo or a jump back); null when there is none. */
  redo(): StepRecord | null {
    const next = this.future.shift();
    if (!next) return null;
    return this.replayStep(next.op, this.trace);
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
      // A new live kernel: the touched sets kept from before must not keep the old one alive. Only the window holds
      // objects; those of the steps from base to n are replaced by the replay, detaching them is harmless.
      for (const t of this.winTouched) if (t) detachTouched(t);
      if (cp) {
        this.kernel = this.checkpoints!.restore(cp);
        this.open = new Map(cp.extra);
        this.records = timeline.slice(0, base);
      } else this.boot0();
      from = base;
    }
    const traceFrom = n - this.traceWindow;
    for (let i = from; i < n; i++) this.replayStep(timeline[i]!.op, this.trace && i >= traceFrom);
    this.kernel.tr.on = this.trace;
    this.future = timeline.slice(n);
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
    const timeline = this.future.length ? this.records.concat(this.future) : this.records;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to > timeline.length || from > to) {
      throw new RangeError(`traces(${from}, ${to}): the timeline has ${timeline.length} step(s)`);
    }
    if (!this.trace) {
      for (let i = from; i < to; i++) yield [];
      return;
    }
    // Kept traces need no replay: yield them until the first dropped one.
    let i = from;
    for (; i < to; i++) {
      const kept = this.keptTrace(timeline[i]!);
      if (!kept) break;
      yield kept;
    }
    if (i === to) return;
    const cp = this.checkpoints?.at(i) ?? null;
    const kernel = cp ? this.checkpoints!.scratch(cp) : buildSoc(this.config, this.policy, false).kernel;
    kernel.dirty.disable();
    for (let j = cp?.n ?? 0; j < to; j++) {
      kernel.tr.on = j >= i;
      const result = applyOp(kernel, timeline[j]!.op);
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
    const timeline = this.future.length ? this.records.concat(this.future) : this.records;
    if (timeline[rec.index] !== rec) throw new Error(`the trace of step ${rec.index} is gone: that step is no longer on the lab's timeline`);
    for (const t of this.traces(rec.index, rec.index + 1)) return t;
    return [];
  }

  /**
   * The touched sets of a record that left the window (touchedOf): the nearest checkpoint at or before it is
   * copied (the live kernel is untouched), the steps up to it replayed, and the sets the step itself marks read off
   * the copy, as stand-ins (names, labels, owners, ASIDs: what detachTouched keeps).
   */
  private regenerateTouched(rec: StepRecord): Touched {
    const timeline = this.future.length ? this.records.concat(this.future) : this.records;
    if (timeline[rec.index] !== rec) throw new Error(`the touched sets of step ${rec.index} are gone: that step is no longer on the lab's timeline`);
    if (!this.wantTouched) return EMPTY_TOUCHED;
    const cp = this.checkpoints?.at(rec.index) ?? null;
    const kernel = cp ? this.checkpoints!.scratch(cp) : buildSoc(this.config, this.policy, false).kernel;
    kernel.tr.on = false;
    kernel.dirty.clear();
    for (let j = cp?.n ?? 0; j <= rec.index; j++) {
      const result = applyOp(kernel, timeline[j]!.op);
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
