/**
 * The lab's timeline of steps, held in columns: what a lab keeps of every step it applied, for undo, time travel,
 * saving and exports.
 *
 * A lab keeps every step for good, and the steps it applies most are binds and unbinds. As objects (a record, the op,
 * its arguments, the result) such a step took ~215 bytes of heap, all of it objects that survived the young
 * generation: the scavenger copied each of them, and every full collection marked all of them again. Bench section 2
 * measured the cost (mainline, 10,000 processes): in separate processes under `--trace-gc-nvp`, 500,000 pairs promoted
 * 83-142 MB with records against under 1 MB without. Here a bind or unbind whose result is plain (`{ ok: true }`,
 * `{ ok: true, pasid }`, either with a `detail` text such as an accelerator's `context 3`) and that caused no finding
 * takes 17 bytes of typed arrays: its kind, its names (process, device, detail) as ids into a table of names, and its
 * PASID. Any other step is kept as given, beside the columns.
 *
 * A record read back (`at`) is made afresh: equal to what was applied, not the same object. The lab hands out the
 * objects it made itself while a step is in its window (lab.ts), so that `holds()` and identity keep working there.
 */
import type { Finding, StepResult } from '../../shared/results.js';
import type { Op } from '../../shared/steps.js';
import { IndexMap } from '../sim/index-map.js';

/**
 * One applied step: its data, a plain object. What the step did call by call and what it touched are the lab's to
 * give (`Lab.traceOf`, `Lab.touchedOf`): it keeps them for its last `traceWindow` steps and regenerates older ones.
 */
export interface StepRecord {
  readonly index: number;
  readonly op: Op;
  readonly result: StepResult;
  /** Invariant violations this step caused. */
  readonly findings: Finding[];
}

/** The findings of a step that caused none: one frozen array for all of them. */
export const NO_FINDINGS: Finding[] = Object.freeze([]) as unknown as Finding[];

/** The result of a step that succeeded with nothing to report: one frozen object for all of them. */
export const DONE: StepResult = Object.freeze({ ok: true });

const KIND_OTHER = 0;
const KIND_BIND = 1;
const KIND_UNBIND = 2;

/** The result column: a PASID (>= 0) for `{ ok: true, pasid }`, DONE for `{ ok: true }`, OTHER: kept as given. */
const RES_DONE = -1;
const RES_OTHER = -2;

/** What a step kept beside the columns: null where the columns hold it. */
interface Kept {
  op: Op | null;
  result: StepResult | null;
  findings: Finding[] | null;
}

/**
 * Whether `r` is `{ ok: true }` with nothing else set but its PASID and its detail text, so that the columns can hold
 * it. Every other field of StepResult is listed here: RESULT_FIELDS below stops the build when one is added and not
 * listed. (The columns give such a result back with its keys in the order ok, pasid, detail: the order every bind
 * result is made in, apply.ts applyBind.)
 */
function plainOk(r: StepResult): boolean {
  return (
    r.ok === true &&
    r.errno === undefined &&
    r.why === undefined &&
    r.reaches === undefined &&
    r.crossed === undefined &&
    (r.detail === undefined || typeof r.detail === 'string') &&
    r.event === undefined &&
    r.events === undefined &&
    r.data === undefined &&
    r.isolation === undefined &&
    r.cause === undefined &&
    r.reached === undefined &&
    r.rejected === undefined
  );
}

/** Every field of StepResult, checked by the compiler: a field added to StepResult must be added here and to plainOk. */
export const RESULT_FIELDS: Record<keyof StepResult, true> = {
  ok: true,
  errno: true,
  why: true,
  pasid: true,
  reaches: true,
  crossed: true,
  detail: true,
  event: true,
  events: true,
  data: true,
  isolation: true,
  cause: true,
  reached: true,
  rejected: true,
};

/** The result column's value for `r`, or RES_OTHER when the column cannot hold it. */
function resultCode(r: StepResult): number {
  if (r === DONE) return RES_DONE;
  if (!plainOk(r)) return RES_OTHER;
  if (r.pasid === undefined) return RES_DONE;
  return Number.isInteger(r.pasid) && r.pasid >= 0 && r.pasid <= 0x7fffffff ? r.pasid : RES_OTHER;
}

const MIN_CAPACITY = 1024;

export class StepLog {
  private kind = new Uint8Array(MIN_CAPACITY);
  /** bind/unbind: the ids of the process's and the device's names. */
  private procId = new Int32Array(MIN_CAPACITY);
  private devId = new Int32Array(MIN_CAPACITY);
  private res = new Int32Array(MIN_CAPACITY);
  /** The id of the result's detail text, -1 for none. */
  private detailId = new Int32Array(MIN_CAPACITY);
  /** Steps the columns cannot hold (in whole or in part), by index. */
  private kept = new IndexMap<Kept>();
  /** The names the columns refer to, by id, and the ids by name. */
  private names: string[] = [];
  private ids = new Map<string, number>();
  private n = 0;

  /** The number of steps held. */
  get length(): number {
    return this.n;
  }

  /**
   * Holds `op`, its `result` and `findings` as step `index`: a new last step (index === length) or in place of the
   * step there (a replay of the same step). Steps after it are left alone: truncate() drops them. An op's arguments
   * are those of its schema (OPS in shared/steps.ts, strict: no other keys), so a bind or unbind is its process and
   * its device.
   */
  write(index: number, op: Op, result: StepResult, findings: Finding[]): void {
    if (!Number.isSafeInteger(index) || index < 0 || index > this.n) throw new RangeError(`StepLog.write(${index}): the log has ${this.n} step(s)`);
    if (index === this.kind.length) this.grow();
    let kind = KIND_OTHER;
    if (op.op === 'bind' || op.op === 'unbind') {
      const { process, device } = op.args;
      if (typeof process === 'string' && typeof device === 'string') {
        kind = op.op === 'bind' ? KIND_BIND : KIND_UNBIND;
        this.procId[index] = this.idOf(process);
        this.devId[index] = this.idOf(device);
      }
    }
    // Another operation is kept whole: the columns are for the steps a lab applies by the hundred thousand.
    const code = kind === KIND_OTHER ? RES_OTHER : resultCode(result);
    this.kind[index] = kind;
    this.res[index] = code;
    this.detailId[index] = code !== RES_OTHER && result.detail !== undefined ? this.idOf(result.detail) : -1;
    const plainFindings = findings.length === 0;
    if (kind === KIND_OTHER || code === RES_OTHER || !plainFindings) {
      this.kept.set(index, { op: kind === KIND_OTHER ? op : null, result: code === RES_OTHER ? result : null, findings: plainFindings ? null : findings });
    } else if (index < this.n) this.kept.delete(index);
    if (index === this.n) this.n++;
  }

  /** Drops the steps from `n` on. */
  truncate(n: number): void {
    if (n >= this.n) return;
    for (const [i] of this.kept) if (i >= n) this.kept.delete(i);
    this.n = Math.max(0, n);
  }

  /** Drops every step (and the names table). */
  clear(): void {
    this.kind = new Uint8Array(MIN_CAPACITY);
    this.procId = new Int32Array(MIN_CAPACITY);
    this.devId = new Int32Array(MIN_CAPACITY);
    this.res = new Int32Array(MIN_CAPACITY);
    this.detailId = new Int32Array(MIN_CAPACITY);
    this.kept = new IndexMap<Kept>();
    this.names = [];
    this.ids = new Map();
    this.n = 0;
  }

  /** Step `i`'s operation (a fresh object for a step the columns hold). */
  opAt(i: number): Op {
    this.check(i);
    const kind = this.kind[i]!;
    if (kind === KIND_OTHER) return this.kept.get(i)!.op!;
    const args = { process: this.names[this.procId[i]!]!, device: this.names[this.devId[i]!]! };
    return kind === KIND_BIND ? { op: 'bind', args } : { op: 'unbind', args };
  }

  /** Step `i`'s record, made afresh: equal to the one the lab made when it applied the step. */
  at(i: number): StepRecord {
    this.check(i);
    const kept = this.kept.get(i);
    const op = kept?.op ?? this.opAt(i);
    const code = this.res[i]!;
    const result = code === RES_OTHER ? kept!.result! : this.plainResult(code, this.detailId[i]!);
    return { index: i, op, result, findings: kept?.findings ?? NO_FINDINGS };
  }

  /** The findings of steps [0, n), in step order. */
  findingsBefore(n: number): Finding[] {
    const out: Finding[] = [];
    for (const [i, k] of this.kept) if (i < n && k.findings) out.push(...k.findings);
    return out;
  }

  /** Steps kept as given (in whole or in part) beside the columns. */
  get keptCount(): number {
    return this.kept.size;
  }

  /** Names in the table the columns refer to. */
  get nameCount(): number {
    return this.names.length;
  }

  /** Bytes of the columns (their capacity: they grow by doubling). */
  get columnBytes(): number {
    return this.kind.byteLength + this.procId.byteLength + this.devId.byteLength + this.res.byteLength + this.detailId.byteLength;
  }

  /** The result the columns hold: keys in the order ok, pasid, detail (see plainOk). */
  private plainResult(code: number, detail: number): StepResult {
    if (detail < 0) return code === RES_DONE ? DONE : { ok: true, pasid: code };
    return code === RES_DONE ? { ok: true, detail: this.names[detail]! } : { ok: true, pasid: code, detail: this.names[detail]! };
  }

  private idOf(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
    }
    return id;
  }

  private check(i: number): void {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.n) throw new RangeError(`step ${i} is not in the log (it holds ${this.n})`);
  }

  private grow(): void {
    const cap = this.kind.length * 2;
    const kind = new Uint8Array(cap);
    kind.set(this.kind);
    const procId = new Int32Array(cap);
    procId.set(this.procId);
    const devId = new Int32Array(cap);
    devId.set(this.devId);
    const res = new Int32Array(cap);
    res.set(this.res);
    const detailId = new Int32Array(cap);
    detailId.set(this.detailId);
    this.detailId = detailId;
    this.kind = kind;
    this.procId = procId;
    this.devId = devId;
    this.res = res;
  }
}

/** What a StepList reads: a lab's timeline (steps applied, then steps to redo). */
export interface Timeline {
  /** Steps applied: the timeline's steps before the current position. */
  readonly position: number;
  /** Steps applied plus steps to redo. */
  readonly timelineLength: number;
  /** Timeline step `i` (0 <= i < timelineLength). */
  stepAt(i: number): StepRecord;
}

/**
 * A read-only, live view of part of a lab's timeline, as records: the steps applied (`lab.records`) or the steps to
 * redo (`lab.redoSteps()`). Records are made as they are read (StepLog.at), so a list of a million steps costs
 * nothing until it is read. The array methods the lab's users need are here; `toArray()` gives a real array.
 */
export class StepList implements Iterable<StepRecord> {
  constructor(
    private readonly t: Timeline,
    /** Which part: the steps to redo (true) or the steps applied (false). */
    private readonly redo: boolean,
  ) {}

  get length(): number {
    return this.redo ? this.t.timelineLength - this.t.position : this.t.position;
  }

  /** The record at `i` (negative: from the end, as Array.prototype.at), or undefined outside the list. */
  at(i: number): StepRecord | undefined {
    const n = this.length;
    const j = i < 0 ? i + n : i;
    if (!Number.isSafeInteger(j) || j < 0 || j >= n) return undefined;
    return this.t.stepAt(this.start + j);
  }

  *[Symbol.iterator](): IterableIterator<StepRecord> {
    const start = this.start;
    const n = this.length;
    for (let j = 0; j < n; j++) yield this.t.stepAt(start + j);
  }

  /** Records [from, to) of the list, as Array.prototype.slice takes its arguments. */
  slice(from = 0, to = this.length): StepRecord[] {
    const n = this.length;
    const a = from < 0 ? Math.max(0, n + from) : Math.min(from, n);
    const b = to < 0 ? Math.max(0, n + to) : Math.min(to, n);
    const out: StepRecord[] = [];
    for (let j = a; j < b; j++) out.push(this.t.stepAt(this.start + j));
    return out;
  }

  toArray(): StepRecord[] {
    return this.slice();
  }

  map<U>(f: (r: StepRecord, i: number) => U): U[] {
    const out: U[] = [];
    let i = 0;
    for (const r of this) out.push(f(r, i++));
    return out;
  }

  filter(f: (r: StepRecord, i: number) => boolean): StepRecord[] {
    const out: StepRecord[] = [];
    let i = 0;
    for (const r of this) if (f(r, i++)) out.push(r);
    return out;
  }

  every(f: (r: StepRecord, i: number) => boolean): boolean {
    let i = 0;
    for (const r of this) if (!f(r, i++)) return false;
    return true;
  }

  some(f: (r: StepRecord, i: number) => boolean): boolean {
    let i = 0;
    for (const r of this) if (f(r, i++)) return true;
    return false;
  }

  private get start(): number {
    return this.redo ? this.t.position : 0;
  }
}
