/**
 * A map from u32 indexes to values, iterated in index order: the storage of the model's per-index tables that IDs
 * come and go in (a group's pasid_array, a CD table's shadow of its CDs, a device's contexts by SSID).
 *
 * Why not a plain Map: V8 (Node 20) leaves a deleted Map entry in its hash bucket's chain until the table is next
 * rehashed, and a table is rehashed only when its spare capacity runs out. Deleting a key and adding the same key
 * again, which is what lowest-free-ID allocation does on every bind+unbind (arch-gated's per-bond PASIDs, the RFC's
 * per-device ones, a driver's own IDA), makes every later lookup of that key walk all its earlier deletions. Measured on Node 20
 * (`npm run bench -- indexmap`): ~0.3 µs per set+get+delete in a Map of 100 entries against ~0.05 µs here; in a Map
 * of 10,000 the cost grows with the repetitions (1.7 µs after 200 of them, ~35 µs after 200,000).
 *
 * So this is an open-addressing table with linear probing and backward-shift deletion (Knuth, TAOCP 6.4, Algorithm
 * R): a deletion moves the entries after it back into the gap, so no trace of a deleted index is left to walk, and a
 * lookup reads one short run of adjacent slots. Two alternatives did worse for mainline's scattered global PASIDs in
 * same-process A/B runs against the plain Map (whose own bias is ~5%): a radix of 64-slot chunks (an extra node per
 * lookup, a chunk held per lone index: 0.86x) and a Map with tombstones swept when they outnumber the live entries (two
 * probes per change, and the sweeps: 0.91-0.94x). A variant holding index and value side by side in one array measured
 * no faster and takes more memory.
 *
 * Iteration is in ascending index order, as xa_for_each() visits a pasid_array; the Map API subset is what the model
 * uses, so an IndexMap stands in where a Map<number, V> stood.
 */
/** The smallest table: 8 slots. */
const MIN_BITS = 3;

export class IndexMap<V> implements Iterable<[number, V]> {
  /** log2 of the slot count. */
  private bits = MIN_BITS;
  private mask = (1 << MIN_BITS) - 1;
  private idx = new Uint32Array(1 << MIN_BITS);
  /** The value in each slot; undefined marks a free slot. */
  private vals: (V | undefined)[] = new Array<V | undefined>(1 << MIN_BITS).fill(undefined);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The slot an index hashes to (Fibonacci hashing: consecutive indexes land far apart). */
  private home(index: number): number {
    return Math.imul(index, 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The slot holding `index`, or -1. */
  private find(index: number): number {
    const vals = this.vals;
    const idx = this.idx;
    for (let i = this.home(index); vals[i] !== undefined; i = (i + 1) & this.mask) if (idx[i] === index) return i;
    return -1;
  }

  get(index: number): V | undefined {
    if (index >>> 0 !== index) return undefined;
    const i = this.find(index);
    return i < 0 ? undefined : this.vals[i];
  }

  has(index: number): boolean {
    return index >>> 0 === index && this.find(index) >= 0;
  }

  /** Sets `index` (a u32) to `value` (undefined is not a value: delete the index instead). */
  set(index: number, value: V): this {
    if (index >>> 0 !== index) throw new RangeError(`IndexMap: index ${index} is not a u32`);
    if (value === undefined) throw new TypeError('IndexMap: undefined is not a value (delete the index instead)');
    const vals = this.vals;
    let i = this.home(index);
    for (; vals[i] !== undefined; i = (i + 1) & this.mask) {
      if (this.idx[i] === index) {
        vals[i] = value;
        return this;
      }
    }
    this.idx[i] = index;
    vals[i] = value;
    if (++this.count * 2 > vals.length) this.resize(this.bits + 1); // load factor at most 1/2
    return this;
  }

  delete(index: number): boolean {
    if (index >>> 0 !== index) return false;
    let i = this.find(index);
    if (i < 0) return false;
    // Backward shift: each later entry of the run whose home is not cyclically in (i, j] moves into the gap at i.
    const vals = this.vals;
    const idx = this.idx;
    const mask = this.mask;
    for (let j = (i + 1) & mask; vals[j] !== undefined; j = (j + 1) & mask) {
      const h = this.home(idx[j]!);
      const stays = i <= j ? i < h && h <= j : i < h || h <= j;
      if (stays) continue;
      idx[i] = idx[j]!;
      vals[i] = vals[j];
      i = j;
    }
    vals[i] = undefined;
    this.count--;
    if (this.bits > MIN_BITS && this.count * 8 < vals.length) this.resize(this.bits - 1); // at most 1/8 full: halve
    return true;
  }

  clear(): void {
    this.bits = MIN_BITS;
    this.mask = (1 << MIN_BITS) - 1;
    this.idx = new Uint32Array(1 << MIN_BITS);
    this.vals = new Array<V | undefined>(1 << MIN_BITS).fill(undefined);
    this.count = 0;
  }

  /** [index, value] pairs in ascending index order. */
  entries(): IterableIterator<[number, V]> {
    const out: [number, V][] = [];
    for (let i = 0; i < this.vals.length; i++) if (this.vals[i] !== undefined) out.push([this.idx[i]!, this.vals[i]!]);
    return out.sort((a, b) => a[0] - b[0])[Symbol.iterator]();
  }

  keys(): IterableIterator<number> {
    return Array.from(this.entries(), (e) => e[0])[Symbol.iterator]();
  }

  values(): IterableIterator<V> {
    return Array.from(this.entries(), (e) => e[1])[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }

  /** The number of slots (for tests of growth and shrinking). */
  get capacity(): number {
    return this.vals.length;
  }

  private resize(bits: number): void {
    const oldIdx = this.idx;
    const oldVals = this.vals;
    this.bits = bits;
    this.mask = (1 << bits) - 1;
    this.idx = new Uint32Array(1 << bits);
    this.vals = new Array<V | undefined>(1 << bits).fill(undefined);
    for (let i = 0; i < oldVals.length; i++) {
      const v = oldVals[i];
      if (v === undefined) continue;
      let j = this.home(oldIdx[i]!);
      while (this.vals[j] !== undefined) j = (j + 1) & this.mask;
      this.idx[j] = oldIdx[i]!;
      this.vals[j] = v;
    }
  }
}

/**
 * An IndexMap for keys wider than 32 bits (non-negative integers below 2^53, e.g. the SMMU TLB's ASID * 2^36 + page
 * number): two levels of IndexMap, the key's high 32 bits then its low 32 bits, so that it keeps IndexMap's property
 * (a deleted key leaves nothing to walk) where a Map<number, V> churned on one key slows every later lookup of it.
 * Iteration order is by high part, then low part: ascending key order.
 */
export class WideIndexMap<V> {
  private readonly hi = new IndexMap<IndexMap<V>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Whether `key` is one this map can hold: an integer in [0, 2^53). */
  private static ok(key: number): boolean {
    return Number.isSafeInteger(key) && key >= 0;
  }

  get(key: number): V | undefined {
    if (!WideIndexMap.ok(key)) return undefined;
    const lo = key >>> 0; // ToUint32: the low 32 bits of an integer below 2^53
    return this.hi.get((key - lo) / 2 ** 32)?.get(lo);
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  set(key: number, value: V): this {
    if (!WideIndexMap.ok(key)) throw new RangeError(`WideIndexMap: key ${key} is not an integer in [0, 2^53)`);
    const lo = key >>> 0;
    const h = (key - lo) / 2 ** 32;
    let inner = this.hi.get(h);
    if (!inner) this.hi.set(h, (inner = new IndexMap<V>()));
    const before = inner.size;
    inner.set(lo, value);
    this.count += inner.size - before;
    return this;
  }

  delete(key: number): boolean {
    if (!WideIndexMap.ok(key)) return false;
    const lo = key >>> 0;
    const h = (key - lo) / 2 ** 32;
    const inner = this.hi.get(h);
    if (!inner || !inner.delete(lo)) return false;
    this.count--;
    if (inner.size === 0) this.hi.delete(h);
    return true;
  }

  /** Deletes every key whose high 32 bits are `high` (a range of 2^32 keys, e.g. one ASID's pages): the number deleted. */
  deleteHigh(high: number): number {
    const inner = this.hi.get(high);
    if (!inner) return 0;
    this.hi.delete(high);
    this.count -= inner.size;
    return inner.size;
  }

  clear(): void {
    this.hi.clear();
    this.count = 0;
  }

  /** Keys in ascending order. */
  keys(): number[] {
    const out: number[] = [];
    for (const [h, inner] of this.hi) for (const l of inner.keys()) out.push(h * 2 ** 32 + l);
    return out;
  }
}

/**
 * A set of objects with unique u32 ids, held in an IndexMap by id: the part of the Set API the model uses, iterated
 * in ascending id order. For a set that objects keep passing through, such as the kernel's live bonds. A V8 Set keeps
 * a deleted entry until its table is rebuilt, and rebuilds (allocates) the whole table whenever deletions fill it: for
 * 10,000 live bonds and one bind+unbind pair after another that was ~30 bytes a pair of tables left for the old
 * generation (bench/survivors.ts). An IndexMap reuses its slots. Bench section 2, mainline, six alternating runs each:
 * median 249k pairs/s against 239k with the Set.
 */
export class IdSet<T extends { readonly id: number }> implements Iterable<T> {
  private readonly byId = new IndexMap<T>();

  get size(): number {
    return this.byId.size;
  }

  has(x: T): boolean {
    return this.byId.get(x.id) === x;
  }

  /** Adds `x`. Another member with the same id is an error: ids are unique. */
  add(x: T): this {
    const there = this.byId.get(x.id);
    if (there !== undefined && there !== x) throw new Error(`IdSet: id ${x.id} is already taken by another member`);
    this.byId.set(x.id, x);
    return this;
  }

  delete(x: T): boolean {
    return this.byId.get(x.id) === x && this.byId.delete(x.id);
  }

  values(): IterableIterator<T> {
    return this.byId.values();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.byId.values();
  }
}
