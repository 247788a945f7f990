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
 * What a step touched, so that invariant checking costs what the step changed and not the size of the whole state
 * (issue 2). Keys are the objects themselves; the checker re-verifies exactly these.
 */
/** A Set that keeps nothing. */
class SinkSet<T> extends Set<T> {
  override add(_v: T): this {
    return this;
  }
}
const SINK = new SinkSet<unknown>();

export class Dirty<G, M, D, H, A, P> {
  groups = new Set<G>();
  mms = new Set<M>();
  domains = new Set<D>();
  handles = new Set<H>();
  masters = new Set<A>();
  /** PASID numbers whose global ownership may have changed (IDA alloc/free, an mm's pasid field). */
  pasids = new Set<number>();
  processes = new Set<P>();
  /** (group, PASID) slots and (master, SSID) CDs written this step. */
  readonly slots = new Map<G, Set<number>>();
  readonly cds = new Map<A, Set<number>>();
  private on = true;

  /**
   * Stops recording (a lab that neither checks invariants nor reports diffs): every set becomes a sink, so the
   * kernel's marks cost nothing and there is nothing to clear.
   */
  disable(): void {
    this.clear();
    this.on = false;
    this.groups = this.mms = this.domains = this.handles = this.masters = this.pasids = this.processes = SINK as Set<never>;
  }

  slot(g: G, pasid: number): void {
    if (!this.on) return;
    let s = this.slots.get(g);
    if (!s) this.slots.set(g, (s = new Set()));
    s.add(pasid);
  }

  cd(m: A, ssid: number): void {
    if (!this.on) return;
    let s = this.cds.get(m);
    if (!s) this.cds.set(m, (s = new Set()));
    s.add(ssid);
  }

  clear(): void {
    if (!this.on) return; // disabled: every set is the sink, and the maps stay empty
    // Clearing an empty Set still allocates a fresh table in V8: skip the empty ones (most of them, most steps).
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
