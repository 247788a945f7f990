/**
 * Checkpoints for time travel (design.md "The bench": the step list is the source of truth, snapshots are derived).
 * A checkpoint is a deep copy of the simulated kernel after some step; jumping to step n restores the nearest one at
 * or before n and replays the few steps after it, instead of replaying from boot.
 *
 * The kernel is a graph of class instances (Kernel, Device, IommuGroup, PasidArray, MmStruct, PhysMemory pages as
 * ArrayBuffers with Uint8Array and Uint32Array views over one buffer, IdBitmap typed arrays, Maps, Sets), so the copy
 * is a generic graph clone with a memo: every object is copied once (shared references and cycles stay shared and
 * cyclic), prototypes are kept, typed arrays are re-created over the copy of their ArrayBuffer (two views of one page
 * stay views of one page). Stateless constants (the policy objects, frozen sentinels such as XA_ZERO_ENTRY) are shared,
 * not copied: code compares them by identity.
 *
 * Checkpoints are immutable once taken; restoring copies again. Consecutive checkpoints share the ArrayBuffers whose
 * bytes did not change in between (page tables and bitmaps that a stretch of steps left alone), which is most of the
 * memory of a small SoC.
 */
import type { Kernel } from '../sim/kernel/kernel.js';
import { POLICIES } from '../sim/policies/index.js';
import { isShareable } from '../sim/immutable.js';

/** Objects reachable from a kernel that are shared constants, never copied. Frozen objects are always shared too. */
export const SHARED_SINGLETONS: ReadonlySet<object> = new Set<object>(Object.values(POLICIES));

export interface CloneStats {
  /** Objects copied (ArrayBuffers and views included). */
  objects: number;
  /** ArrayBuffers copied, and their bytes. */
  buffers: number;
  bufferBytes: number;
  /** ArrayBuffers not copied because an equal earlier copy was reused (checkpoints only). */
  reusedBuffers: number;
  reusedBytes: number;
}

export interface GraphCloneOptions {
  /** Shared constants: returned as they are. Frozen objects and functions are always shared. */
  shared?: ReadonlySet<object>;
  /** The copy of an ArrayBuffer (default: a fresh copy of its bytes); checkpoints reuse earlier equal copies. */
  buffer?: (src: ArrayBuffer, stats: CloneStats) => ArrayBuffer;
  /** Objects not to copy but to replace by the given (immutable, earlier) copy, whole subgraph included. */
  reuse?: ReadonlyMap<object, object>;
  /** Filled with every (source, copy) pair made or reused. */
  memo?: Map<object, object>;
  stats?: CloneStats;
  /**
   * The caller vouches that every object of the graph has plain own properties only: string keys, each an enumerable,
   * writable, configurable data property; arrays, Maps and Sets none besides their elements. The copy then reads
   * each object's keys and values instead of a descriptor per property (the descriptor objects were most of a copy's
   * allocations). Anything else must not take this path: a property defined otherwise would be copied as a plain one,
   * and a non-enumerable or symbol-keyed one not at all. Kernels qualify (cloneKernel; a test walks kernels after
   * random steps under every policy and checks each object).
   */
  plain?: boolean;
}

export const emptyStats = (): CloneStats => ({ objects: 0, buffers: 0, bufferBytes: 0, reusedBuffers: 0, reusedBytes: 0 });

/** Objects with internal state that cannot be read back (or must not be duplicated): a graph holding one is a bug. */
const UNCLONABLE: { name: string; is: (v: object) => boolean }[] = [
  { name: 'WeakMap', is: (v) => v instanceof WeakMap },
  { name: 'WeakSet', is: (v) => v instanceof WeakSet },
  { name: 'WeakRef', is: (v) => v instanceof WeakRef },
  { name: 'FinalizationRegistry', is: (v) => v instanceof FinalizationRegistry },
  { name: 'Promise', is: (v) => v instanceof Promise },
  { name: 'SharedArrayBuffer', is: (v) => typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer },
];

const freshBuffer = (src: ArrayBuffer, stats: CloneStats): ArrayBuffer => {
  stats.buffers++;
  stats.bufferBytes += src.byteLength;
  return src.slice(0);
};

type AnyCtor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;

/**
 * A prototype-preserving deep copy of the graph under `root`. Iterative (a long list does not overflow the stack);
 * property order, Map and Set insertion order, property attributes and non-extensibility are kept. Functions, frozen
 * objects, instances of IMMUTABLE-marked classes (sim/immutable.ts) and `shared` objects are returned as they are.
 */
export function cloneGraph<T>(root: T, opts: GraphCloneOptions = {}): T {
  const shared = opts.shared ?? SHARED_SINGLETONS;
  const copyBuffer = opts.buffer ?? freshBuffer;
  const stats = opts.stats ?? emptyStats();
  const reuse = opts.reuse;
  const plain = opts.plain === true;
  const memo = opts.memo ?? new Map<object, object>();
  const work: object[] = []; // (source, copy) pairs whose contents are still to be filled

  const shell = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const hit = memo.get(v);
    if (hit !== undefined) return hit;
    if (shared.has(v) || isShareable(v)) return v;
    let out: object;
    const earlier = reuse?.get(v);
    if (earlier !== undefined) {
      memo.set(v, earlier);
      return earlier;
    }
    if (v instanceof ArrayBuffer) {
      out = copyBuffer(v, stats);
      memo.set(v, out);
      stats.objects++;
      return out;
    }
    if (ArrayBuffer.isView(v)) {
      const buf = shell(v.buffer) as ArrayBuffer;
      out = v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength) : new (v.constructor as AnyCtor)(buf, v.byteOffset, (v as unknown as { length: number }).length);
      memo.set(v, out);
      stats.objects++;
      return out;
    }
    const proto = Object.getPrototypeOf(v) as object | null;
    if (Array.isArray(v)) out = [];
    else if (v instanceof Map) out = new Map();
    else if (v instanceof Set) out = new Set();
    else if (v instanceof Date) out = new Date(v.getTime());
    else {
      const bad = protoInfo(proto, v).unclonable;
      if (bad) throw new TypeError(`cloneGraph: a ${bad} in the graph cannot be copied (keep state in plain objects, Maps, Sets and typed arrays)`);
      out = Object.create(proto) as object;
    }
    if (Object.getPrototypeOf(out) !== proto) Object.setPrototypeOf(out, proto); // subclasses of Array, Map, Set
    memo.set(v, out);
    work.push(v, out);
    stats.objects++;
    return out;
  };

  /** Defines `key` on `dst` as `src` has it (its descriptor), the value copied. */
  const defineCopy = (src: object, dst: object, key: PropertyKey): void => {
    const d = Object.getOwnPropertyDescriptor(src, key)!;
    if ('value' in d) d.value = shell(d.value);
    Object.defineProperty(dst, key, d);
  };

  /** copyOwn() for a graph vouched plain: values by key. A key the prototype chain guards still takes the descriptor path. */
  const copyPlain = (src: object, dst: object): void => {
    const keys = Object.keys(src);
    const guarded = protoInfo(Object.getPrototypeOf(src) as object | null, src).guarded;
    const from = src as Record<string, unknown>;
    const to = dst as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (guarded.size !== 0 && guarded.has(key)) defineCopy(src, dst, key);
      else to[key] = shell(from[key]);
    }
    copyExtensibility(src, dst);
  };

  const copyOwn = (src: object, dst: object, skipIndices: boolean): void => {
    const guarded = skipIndices ? null : protoInfo(Object.getPrototypeOf(src) as object | null, src).guarded;
    for (const key of Reflect.ownKeys(src)) {
      if (skipIndices && (key === 'length' || (typeof key === 'string' && isIndex(key)))) continue;
      if (guarded && !guarded.has(key) && Object.prototype.propertyIsEnumerable.call(src, key)) {
        // The common case, a plain writable field: a plain assignment keeps V8's fast object shapes, and no setter or
        // read-only property of the prototype chain is in the way (checked once per prototype).
        const d = Object.getOwnPropertyDescriptor(src, key)!;
        if ('value' in d && d.writable && d.configurable) {
          (dst as Record<PropertyKey, unknown>)[key] = shell(d.value);
          continue;
        }
        if ('value' in d) d.value = shell(d.value);
        Object.defineProperty(dst, key, d);
        continue;
      }
      defineCopy(src, dst, key);
    }
    copyExtensibility(src, dst);
  };

  const top = shell(root);
  while (work.length) {
    const dst = work.pop()!;
    const src = work.pop()!;
    if (Array.isArray(src)) {
      const a = dst as unknown[];
      for (let i = 0; i < src.length; i++) {
        if (i in src) a.push(shell(src[i]));
        else a.length = i + 1; // a hole stays a hole
      }
      if (plain ? !Object.isExtensible(src) : Reflect.ownKeys(src).length !== src.length + 1 || !Object.isExtensible(src)) copyOwn(src, dst, true);
      continue;
    }
    if (src instanceof Map) for (const [k, x] of src) (dst as Map<unknown, unknown>).set(shell(k), shell(x));
    else if (src instanceof Set) for (const x of src) (dst as Set<unknown>).add(shell(x));
    if (plain) copyPlain(src, dst);
    else copyOwn(src, dst, false);
  }
  return top as T;
}

/** A non-extensible (or sealed) source makes a copy that is so too; frozen objects are shared, never copied. */
function copyExtensibility(src: object, dst: object): void {
  if (Object.isExtensible(src)) return;
  if (Object.isSealed(src)) Object.seal(dst);
  else Object.preventExtensions(dst);
}

interface ProtoInfo {
  /** Why instances cannot be copied (a WeakMap, a Promise...), or null. */
  unclonable: string | null;
  /** Keys that an assignment would not simply define on the instance: accessors and read-only properties up the chain. */
  guarded: Set<PropertyKey>;
}

const PROTO_INFO = new WeakMap<object, ProtoInfo>();
const NULL_PROTO_INFO: ProtoInfo = { unclonable: null, guarded: new Set() };

function protoInfo(proto: object | null, sample: object): ProtoInfo {
  if (proto === null) return NULL_PROTO_INFO;
  let info = PROTO_INFO.get(proto);
  if (info) return info;
  const bad = UNCLONABLE.find((u) => u.is(sample));
  const guarded = new Set<PropertyKey>();
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    for (const key of Reflect.ownKeys(p)) {
      const d = Object.getOwnPropertyDescriptor(p, key)!;
      if (!('value' in d) || !d.writable) guarded.add(key);
    }
  }
  info = { unclonable: bad ? bad.name : null, guarded };
  PROTO_INFO.set(proto, info);
  return info;
}

function isIndex(key: string): boolean {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && String(n) === key;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Structural sharing between checkpoints                                                                         */

/** Pushes `v` when a clone would descend into it (an object that is not a shared constant). */
function isNode(v: unknown, shared: ReadonlySet<object>): v is object {
  return typeof v === 'object' && v !== null && !shared.has(v) && !isShareable(v);
}

/**
 * Lists the object children of `o` into `kids` (what a clone descends into) and says whether `c`, the earlier copy of
 * `o` (or undefined), holds exactly what `o` holds now, one level deep: the same primitives and constants, and for
 * each child its own earlier copy (`origin`). Own properties are compared by value in key order (kernel objects have
 * plain fields; anything unusual, such as non-enumerable or symbol keys, takes the descriptor-by-descriptor path).
 */
function scan(o: object, c: object | undefined, origin: ReadonlyMap<object, object> | WeakMap<object, object>, shared: ReadonlySet<object>, kids: object[], plain: boolean): boolean {
  let same = c !== undefined && Object.getPrototypeOf(o) === Object.getPrototypeOf(c);
  if (o instanceof ArrayBuffer) return same && o.byteLength === (c as ArrayBuffer).byteLength && sameBytes(o, c as ArrayBuffer);
  if (ArrayBuffer.isView(o)) {
    const b = o.buffer as ArrayBuffer;
    if (isNode(b, shared)) kids.push(b);
    const v = c as ArrayBufferView | undefined;
    return same && o.byteOffset === v!.byteOffset && o.byteLength === v!.byteLength && origin.get(b) === v!.buffer;
  }
  if (o instanceof Map) {
    const m = c as Map<unknown, unknown> | undefined;
    same &&= o.size === m!.size;
    const it = same ? m!.entries() : null;
    for (const [k, v] of o) {
      if (isNode(k, shared)) kids.push(k);
      if (isNode(v, shared)) kids.push(v);
      if (same) {
        const [k2, v2] = it!.next().value as [unknown, unknown];
        same = (isNode(k, shared) ? origin.get(k) === k2 : k === k2) && (isNode(v, shared) ? origin.get(v) === v2 : v === v2);
      }
    }
  } else if (o instanceof Set) {
    const t = c as Set<unknown> | undefined;
    same &&= o.size === t!.size;
    const it = same ? t!.values() : null;
    for (const v of o) {
      if (isNode(v, shared)) kids.push(v);
      if (same) {
        const v2 = it!.next().value;
        same = isNode(v, shared) ? origin.get(v) === v2 : v === v2;
      }
    }
  } else if (o instanceof Date) same &&= o.getTime() === (c as Date).getTime();
  const keys = Object.keys(o);
  // A plain graph (GraphCloneOptions.plain) has no other own keys: no second list of keys to make per object.
  if (!plain && Reflect.ownKeys(o).length !== keys.length + (Array.isArray(o) ? 1 : 0)) {
    // non-enumerable or symbol keys: compare descriptors
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key)!;
      if (!('value' in d)) return false;
      if (isNode(d.value, shared)) kids.push(d.value);
    }
    return false; // rare: always copied
  }
  const ck = same ? Object.keys(c!) : null;
  if (ck && ck.length !== keys.length) same = false;
  const src = o as Record<string, unknown>;
  const dst = c as Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = src[key];
    const node = isNode(v, shared);
    if (node) kids.push(v);
    if (same) same = ck![i] === key && (node ? origin.get(v) === dst![key] : v === dst![key]);
  }
  return same;
}

/**
 * The live objects whose earlier copies (`origin`) can stand for them, with their whole subgraphs: an object whose
 * own contents are unchanged and from which no changed object can be reached. Strongly connected components (an mm
 * and its owner point at each other) are decided together: Tarjan's algorithm, iteratively, finishes the components
 * a component points into before the component itself.
 */
export function reusableCopies(root: object, origin: ReadonlyMap<object, object> | WeakMap<object, object>, shared: ReadonlySet<object> = SHARED_SINGLETONS, plain = false): Map<object, object> {
  const out = new Map<object, object>();
  if (!isNode(root, shared)) return out;
  const id = new Map<object, number>();
  const nodes: object[] = [];
  let low = new Int32Array(1024);
  /** 1: contents unchanged and no edge into a changed component seen; 0: not. */
  let good = new Uint8Array(1024);
  /** 0: open; 1: finished, reusable; 2: finished, not. */
  let state = new Uint8Array(1024);
  const stack: number[] = [];
  /** Children of the open frames, each frame's run [start, end) on top of its parent's. */
  const kids: object[] = [];
  const frames: { v: number; start: number; end: number; i: number }[] = [];
  const open = (o: object): void => {
    const n = nodes.length;
    if (n === low.length) {
      const grow = <A extends Int32Array | Uint8Array>(a: A): A => {
        const b = new (a.constructor as new (n: number) => A)(a.length * 2);
        b.set(a);
        return b;
      };
      low = grow(low);
      good = grow(good);
      state = grow(state);
    }
    id.set(o, n);
    nodes.push(o);
    low[n] = n;
    stack.push(n);
    const start = kids.length;
    good[n] = scan(o, origin.get(o), origin, shared, kids, plain) ? 1 : 0;
    frames.push({ v: n, start, end: kids.length, i: start });
  };
  open(root);
  while (frames.length) {
    const f = frames[frames.length - 1]!;
    if (f.i < f.end) {
      const w = kids[f.i++]!;
      const j = id.get(w);
      if (j === undefined) open(w);
      else if (state[j] === 2) good[f.v] = 0;
      else if (state[j] === 0 && j < low[f.v]!) low[f.v] = j;
      continue;
    }
    frames.pop();
    kids.length = f.start;
    const v = f.v;
    if (low[v] === v) {
      let at = stack.length - 1;
      while (stack[at] !== v) at--;
      let ok = 1;
      for (let k = at; k < stack.length; k++) ok &= good[stack[k]!]!;
      for (let k = at; k < stack.length; k++) {
        const m = stack[k]!;
        state[m] = ok ? 1 : 2;
        if (ok) out.set(nodes[m]!, origin.get(nodes[m]!)!);
      }
      stack.length = at;
    }
    const parent = frames[frames.length - 1];
    if (parent) {
      if (state[v] === 2) good[parent.v] = 0;
      else if (state[v] === 0 && low[v]! < low[parent.v]!) low[parent.v] = low[v]!;
    }
  }
  return out;
}

/**
 * A copy of a kernel and everything it owns. All of a kernel's state must be reachable from it: state a sim module
 * kept in a module-level WeakMap keyed by a device would not be copied (test/sessions/checkpoint.test.ts compares
 * restored labs with fresh replays to catch that). Copied as a plain graph (GraphCloneOptions.plain): the model keeps
 * its state in plain fields, which the same tests check object by object.
 */
export function cloneKernel(k: Kernel, opts: GraphCloneOptions = {}): Kernel {
  return cloneGraph(k, { plain: true, ...opts });
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The checkpoint store of a lab                                                                                  */

export interface CheckpointOptions {
  /** Take a checkpoint at least every this many steps (default 1000). */
  every?: number;
  /** ... or sooner, once the steps since the last one took this long to apply (ms, default 100): slow steps. */
  maxReplayMs?: number;
  /**
   * At most this share of the time goes into taking checkpoints (default 1/3): with a large state, a checkpoint
   * after `every` steps waits until the steps since the last one took twice as long as taking it did (but no longer
   * than maxReplayMs, or than taking the last one did: checkpointDue). 1: no limit.
   */
  takeShare?: number;
  /**
   * Memory for all checkpoints together (bytes, estimated; default 256 MiB). Past it, every other checkpoint is
   * dropped and the interval doubles: jumps get slower, memory stays bounded.
   */
  budgetBytes?: number;
}

export interface Checkpoint<S> {
  /** The number of steps applied. */
  n: number;
  kernel: Kernel;
  /** The lab's own state beside the kernel (its open findings). */
  extra: S;
  /** The ArrayBuffers it holds (some shared with its neighbours). */
  buffers: ArrayBuffer[];
  /** Estimated bytes of its other objects. */
  objectBytes: number;
}

/** A rough per-object cost (a small class instance or Map entry set); ArrayBuffers are counted exactly. */
const OBJECT_BYTES = 64;

/**
 * Whether a checkpoint is due, `steps` steps and `ms` of stepping time after the last one, when the last take took
 * `lastTakeMs` (CheckpointStore.stepped's rule, apart for the tests):
 * - after `every` steps, once taking one costs at most `takeShare` of the stepping time;
 * - or once the steps since the last one took `maxReplayMs` to apply (slow steps), the longest replay a jump should
 *   need. That bound is never below the last take's own cost (unless takeShare is 1, no limit): a jump restores a copy,
 *   about as costly as a take, so a shorter replay would save little, and the takes of a large state then cost at most
 *   half the stepping time. (Before the eighth session the bound was maxReplayMs alone: a 10,000-process kernel, whose
 *   take costs ~1.3 s on the development VM, was copied after every 100 ms of steps, 40 times the stepping time.)
 */
export function checkpointDue(steps: number, ms: number, lastTakeMs: number, every: number, maxReplayMs: number, takeShare: number): boolean {
  const replayBound = takeShare >= 1 ? maxReplayMs : Math.max(maxReplayMs, lastTakeMs);
  if (ms >= replayBound) return true;
  return steps >= every && lastTakeMs * (1 / takeShare - 1) <= ms;
}

export class CheckpointStore<S> {
  private list: Checkpoint<S>[] = [];
  private every: number;
  private readonly maxReplayMs: number;
  private readonly budget: number;
  /**
   * Live object -> the checkpoint object it was equal to when last copied (a take copies live into a checkpoint; a
   * restore copies a checkpoint into live). The next take reuses those whose subgraph did not change since.
   */
  private origin = new Map<object, object>();
  /** Time spent applying steps since the last checkpoint on the current path. */
  private msSince = 0;
  private readonly takeShare: number;
  /** How long the last take took (ms). */
  private lastTakeMs = 0;

  constructor(opts: CheckpointOptions = {}) {
    this.every = Math.max(1, Math.floor(opts.every ?? 1000));
    this.maxReplayMs = opts.maxReplayMs ?? 100;
    this.budget = opts.budgetBytes ?? 256 * 1024 * 1024;
    this.takeShare = Math.min(1, Math.max(0.01, opts.takeShare ?? 1 / 3));
  }

  get count(): number {
    return this.list.length;
  }

  get interval(): number {
    return this.every;
  }

  /** Estimated memory of all checkpoints: every distinct ArrayBuffer once, plus the other objects. */
  get bytes(): number {
    const seen = new Set<ArrayBuffer>();
    let b = 0;
    for (const c of this.list) {
      b += c.objectBytes;
      for (const buf of c.buffers) {
        if (seen.has(buf)) continue;
        seen.add(buf);
        b += buf.byteLength;
      }
    }
    return b;
  }

  /** Step counts of the checkpoints held, ascending. */
  positions(): number[] {
    return this.list.map((c) => c.n);
  }

  clear(): void {
    this.list = [];
    this.origin = new Map();
    this.msSince = 0;
  }

  /** The checkpoint with the largest n <= `n`, or null. */
  at(n: number): Checkpoint<S> | null {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid]!.n <= n) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? this.list[lo - 1]! : null;
  }

  /** Forgets checkpoints after step `n` (the steps after it changed: a new branch). */
  dropAfter(n: number): void {
    while (this.list.length && this.list.at(-1)!.n > n) this.list.pop();
  }

  /** Accounts one applied step; true when a checkpoint is due at `n` (none there yet, and far enough from the last). */
  stepped(n: number, ms: number): boolean {
    this.msSince += ms;
    const last = this.at(n);
    if (last?.n === n) return false;
    return checkpointDue(n - (last?.n ?? 0), this.msSince, this.lastTakeMs, this.every, this.maxReplayMs, this.takeShare);
  }

  /** Takes a checkpoint of `kernel` after `n` steps (the kernel stays the caller's; the checkpoint holds a copy). */
  take(n: number, kernel: Kernel, extra: S): Checkpoint<S> {
    const t0 = performance.now();
    const stats = emptyStats();
    const buffers: ArrayBuffer[] = [];
    const reuse = reusableCopies(kernel, this.origin, SHARED_SINGLETONS, true); // a kernel is a plain graph (cloneKernel)
    const memo = new Map<object, object>();
    const copy = cloneKernel(kernel, {
      stats,
      reuse,
      memo,
      buffer: (src, st) => {
        const prev = this.origin.get(src) as ArrayBuffer | undefined;
        if (prev && prev.byteLength === src.byteLength && sameBytes(prev, src)) {
          st.reusedBuffers++;
          st.reusedBytes += src.byteLength;
          buffers.push(prev);
          return prev;
        }
        const c = freshBuffer(src, st);
        buffers.push(c);
        return c;
      },
    });
    for (const b of reuse.values()) if (b instanceof ArrayBuffer) buffers.push(b);
    // What the live objects equal now (a strong map, replaced at each take and restore: it holds one generation)
    this.origin = reuse;
    for (const [live, c] of memo) reuse.set(live, c);
    const objects = stats.objects - stats.buffers - stats.reusedBuffers;
    const cp: Checkpoint<S> = { n, kernel: copy, extra, buffers, objectBytes: objects * OBJECT_BYTES };
    const i = this.list.findIndex((c) => c.n > n);
    if (i < 0) this.list.push(cp);
    else this.list.splice(i, 0, cp);
    this.msSince = 0;
    this.thin();
    this.lastTakeMs = performance.now() - t0;
    return cp;
  }

  /** A live kernel from a checkpoint (a fresh copy: the checkpoint stays as it was). */
  restore(cp: Checkpoint<S>): Kernel {
    this.msSince = 0;
    const memo = new Map<object, object>();
    const live = cloneKernel(cp.kernel, { memo });
    // equal now: the next checkpoint may reuse what stays unchanged
    this.origin = new Map();
    for (const [c, l] of memo) if (c !== l) this.origin.set(l, c);
    return live;
  }

  /** A fresh copy of a checkpoint's kernel for a side computation (a trace regenerated): the store is unaffected. */
  scratch(cp: Checkpoint<S>): Kernel {
    return cloneKernel(cp.kernel, {});
  }

  /** Over budget: keep every other checkpoint (the first always) and double the interval. */
  private thin(): void {
    while (this.bytes > this.budget && this.list.length > 1) {
      this.list = this.list.filter((_, i) => i % 2 === 0);
      this.every *= 2;
    }
  }
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  if (a.byteLength % 4 === 0) {
    const x = new Uint32Array(a);
    const y = new Uint32Array(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
