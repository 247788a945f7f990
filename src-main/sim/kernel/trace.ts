/**
 * The trace: every modelled kernel call and every state change becomes a structured record. The lab stamps records
 * with the step that produced them; the UI, the CLI and saved sessions all read this one stream (design.md).
 *
 * Tracing can be switched off (benchmarks); callers guard record construction with `tr.on` so that a disabled trace
 * allocates nothing.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export type TraceRecord =
  /** A modelled kernel function was entered. `d` is the call depth inside the step. */
  | { t: 'call'; d: number; fn: string; args: Record<string, Json> }
  /** It returned: `{ok:true, ...}` or `{ok:false, errno, why}`. */
  | { t: 'ret'; d: number; fn: string; ret: Json }
  /** A piece of state changed: `obj` names the object the way the views do (`ida`, `group:small`, `mm:p1.mm0`). */
  | { t: 'set'; d: number; obj: string; field: string; to: Json; from?: Json }
  /** Something worth saying that is neither a call nor a change (a WARN, a skipped device). */
  | { t: 'note'; d: number; msg: string };

export class Tracer {
  on = true;
  depth = 0;
  records: TraceRecord[] = [];

  enter(fn: string, args: Record<string, Json>): void {
    this.records.push({ t: 'call', d: this.depth, fn, args });
    this.depth++;
  }

  leave<R>(fn: string, ret: R): R {
    if (this.on) {
      this.depth--;
      this.records.push({ t: 'ret', d: this.depth, fn, ret: toJson(ret) });
    }
    return ret;
  }

  set(obj: string, field: string, to: Json, from?: Json): void {
    const rec: TraceRecord = { t: 'set', d: this.depth, obj, field, to };
    if (from !== undefined) rec.from = from;
    this.records.push(rec);
  }

  note(msg: string): void {
    this.records.push({ t: 'note', d: this.depth, msg });
  }

  /** Takes the records produced since the last call (a shared, frozen empty array when there were none). */
  drain(): TraceRecord[] {
    const r = this.records;
    this.depth = 0;
    if (r.length === 0) return NO_RECORDS; // an untraced step: no new array per step
    this.records = [];
    return r;
  }
}

const NO_RECORDS: TraceRecord[] = Object.freeze([]) as unknown as TraceRecord[];

/** Results carry object references (handles, domains); the trace keeps only their JSON-safe fields. */
function toJson(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.label === 'string') return o.label; // kernel objects name themselves
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(o)) if (x !== undefined) out[k] = toJson(x);
    return out;
  }
  return String(v);
}

/**
 * A set of what one step marked: insertion-ordered, like a Set, for the few objects a step touches. Held in an array
 * (a linear search while it is small, a Set beside it once it is not), so that clearing it after every step keeps its
 * storage: V8's Set.prototype.clear() allocates a fresh table, which for a handful of dirty sets on every step was a
 * tenth of the time of a lab that reports what its steps touched (bench section 2, touched ON).
 */
export class StepSet<T> implements Iterable<T> {
  private items: T[] = [];
  /** The same elements for lookups, once there are more than SMALL of them (markAll puts the whole kernel here). */
  private index: Set<T> | null = null;
  private static readonly SMALL = 16;

  get size(): number {
    return this.items.length;
  }

  has(x: T): boolean {
    if (this.index) return this.index.has(x);
    const items = this.items;
    for (let i = 0; i < items.length; i++) if (items[i] === x) return true;
    return false;
  }

  add(x: T): this {
    if (this.index) {
      if (!this.index.has(x)) {
        this.index.add(x);
        this.items.push(x);
      }
      return this;
    }
    const items = this.items;
    for (let i = 0; i < items.length; i++) if (items[i] === x) return this;
    items.push(x);
    if (items.length > StepSet.SMALL) this.index = new Set(items);
    return this;
  }

  clear(): void {
    const items = this.items;
    if (this.index) {
      this.index = null;
      this.items = [];
      return;
    }
    while (items.length) items.pop(); // pop, not length = 0 (a runtime call): the backing store stays for the next step
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.items.values();
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }
}

/** A StepSet that keeps nothing (a lab that neither checks invariants nor reports diffs). */
class SinkSet<T> extends StepSet<T> {
  override add(_v: T): this {
    return this;
  }
}
const SINK = new SinkSet<unknown>();

/**
 * Numbers marked per key in one step ((group, PASID) slots, (master, SSID) CDs): iterated as [key, numbers] pairs in
 * the order the keys were first marked. Its StepSets are kept across steps and reused, so marking allocates nothing
 * once a lab has warmed up.
 */
export class StepIndex<K> implements Iterable<[K, StepSet<number>]> {
  private readonly keys = new StepSet<K>();
  private readonly sets: StepSet<number>[] = [];
  /** Where each key's set is in `sets`, once there are more keys than a linear search should walk. */
  private at: Map<K, number> | null = null;

  get size(): number {
    return this.keys.size;
  }

  add(key: K, n: number): void {
    const i = this.indexOf(key);
    if (i >= 0) {
      this.sets[i]!.add(n);
      return;
    }
    const j = this.keys.size;
    this.keys.add(key);
    if (this.at || j >= 16) (this.at ??= new Map([...this.keys].map((k, i) => [k, i]))).set(key, j);
    const set = (this.sets[j] ??= new StepSet<number>());
    set.add(n);
  }

  get(key: K): StepSet<number> | undefined {
    const i = this.indexOf(key);
    return i < 0 ? undefined : this.sets[i];
  }

  clear(): void {
    for (let i = 0; i < this.keys.size; i++) this.sets[i]!.clear();
    this.keys.clear();
    this.at = null;
  }

  /**
   * [key, numbers] pairs, in the order the keys were first marked. An array's iterator, not a generator: a checked
   * step iterates two of these, and resuming a generator per key cost ~3% of it.
   */
  [Symbol.iterator](): IterableIterator<[K, StepSet<number>]> {
    const out: [K, StepSet<number>][] = [];
    let i = 0;
    for (const k of this.keys) out.push([k, this.sets[i++]!]);
    return out[Symbol.iterator]();
  }

  private indexOf(key: K): number {
    if (this.at) return this.at.get(key) ?? -1;
    let i = 0;
    for (const k of this.keys) {
      if (k === key) return i;
      i++;
    }
    return -1;
  }
}

/**
 * What a step touched, so that invariant checking costs what the step changed and not the size of the whole state
 * (issue 2). Keys are the objects themselves; the checker re-verifies exactly these.
 */
export class Dirty<G, M, D, H, A, P> {
  groups = new StepSet<G>();
  mms = new StepSet<M>();
  domains = new StepSet<D>();
  handles = new StepSet<H>();
  masters = new StepSet<A>();
  /** PASID numbers whose global ownership may have changed (IDA alloc/free, an mm's pasid field). */
  pasids = new StepSet<number>();
  processes = new StepSet<P>();
  /** (group, PASID) slots and (master, SSID) CDs written this step. */
  readonly slots = new StepIndex<G>();
  readonly cds = new StepIndex<A>();
  private on = true;

  /**
   * Stops recording (a lab that neither checks invariants nor reports diffs): every set becomes a sink, so the
   * kernel's marks cost nothing and there is nothing to clear.
   */
  disable(): void {
    this.clear();
    this.on = false;
    this.groups = this.mms = this.domains = this.handles = this.masters = this.pasids = this.processes = SINK as StepSet<never>;
  }

  slot(g: G, pasid: number): void {
    if (this.on) this.slots.add(g, pasid);
  }

  cd(m: A, ssid: number): void {
    if (this.on) this.cds.add(m, ssid);
  }

  clear(): void {
    if (!this.on) return; // disabled: every set is the sink, and the maps stay empty
    // One test per collection, not a loop over an array literal: that array would be allocated on every step.
    if (this.slots.size) this.slots.clear();
    if (this.cds.size) this.cds.clear();
    if (this.groups.size) this.groups.clear();
    if (this.mms.size) this.mms.clear();
    if (this.domains.size) this.domains.clear();
    if (this.handles.size) this.handles.clear();
    if (this.masters.size) this.masters.clear();
    if (this.pasids.size) this.pasids.clear();
    if (this.processes.size) this.processes.clear();
  }
}
