/**
 * A hierarchical bitmap over the ID space [0, 2^bits): set, clear, test, and "lowest clear ID in [min, max]"
 * in O(levels) = O(bits / 5) word operations.
 *
 * This is the storage behind every ID allocator of the model: the global PASID IDA (lib/idr.c `ida_alloc_range`),
 * the ALLOC xarray of a group's pasid_array (lib/xarray.c `xa_alloc`), the SMMUv3 driver's ASID xarray and the
 * driver-owned IDAs. Those kernel structures are radix trees that skip full subtrees; this one does the same with
 * one "full" bit per 32-ID word, one per 32 words above that, and so on.
 *
 * Level 0 holds one bit per ID (1 = in use). Level k > 0 holds one bit per word of level k-1 (1 = that word is full).
 * A level whose word count is small is a dense Uint32Array; a larger one is an IndexMap of non-zero words, so a 2^32
 * space with a handful of IDs costs a handful of words (the RFC's `max_pasids - 1` underflow asks for exactly that
 * range). Not a Map: a word that empties and fills again, over and over, would slow it down (index-map.ts says why).
 */

import { IndexMap } from '../index-map.js';

/** 128 KiB per level at most: enough to keep the 2^20 IDA dense (32 Ki words). */
const DENSE_WORDS_MAX = 1 << 15;

type Level = Uint32Array | IndexMap<number>;

export class IdBitmap {
  readonly bits: number;
  /** 2^bits, the number of ids. */
  readonly limit: number;
  private readonly levels: Level[];
  /**
   * The same levels when every one is dense (up to 20 bits: the global IDA, the ASID xarray, driver IDAs): the hot
   * paths then index typed arrays directly instead of asking each level what it is.
   */
  private readonly dense: Uint32Array[] | null;
  private count = 0;

  constructor(bits: number) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 32) throw new RangeError(`IdBitmap: bits must be 1..32, got ${bits}`);
    this.bits = bits;
    this.limit = 2 ** bits;
    this.levels = [];
    let span = bits; // log2 of the number of bits at this level
    for (;;) {
      const words = 2 ** Math.max(span - 5, 0);
      this.levels.push(words <= DENSE_WORDS_MAX ? new Uint32Array(words) : new IndexMap<number>());
      if (words === 1) break;
      span -= 5;
    }
    this.dense = this.levels.every((l) => l instanceof Uint32Array) ? (this.levels as Uint32Array[]) : null;
  }

  /** Number of IDs in use. */
  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    if (id < 0 || id >= this.limit) return false;
    return ((word(this.levels[0]!, id >>> 5) >>> (id & 31)) & 1) === 1;
  }

  /** Marks `id` used. Returns false if it already was. */
  set(id: number): boolean {
    this.check(id);
    const dense = this.dense;
    if (dense) {
      let idx = id >>> 0;
      for (let l = 0; l < dense.length; l++) {
        const lvl = dense[l]!;
        const w = idx >>> 5;
        const bit = 1 << (idx & 31);
        const old = lvl[w]!;
        if (old & bit) {
          if (l === 0) return false;
          break;
        }
        const nw = (old | bit) >>> 0;
        lvl[w] = nw;
        if (l === 0) this.count++;
        if (nw !== 0xffffffff) break; // the word is not full: nothing changes above
        idx = w;
      }
      return true;
    }
    let idx = id >>> 0;
    for (let l = 0; l < this.levels.length; l++) {
      const lvl = this.levels[l]!;
      const w = idx >>> 5;
      const bit = 1 << (idx & 31);
      const old = word(lvl, w);
      if (old & bit) {
        if (l === 0) return false;
        break;
      }
      const nw = (old | bit) >>> 0;
      put(lvl, w, nw);
      if (l === 0) this.count++;
      if (nw !== 0xffffffff) break;
      idx = w;
    }
    return true;
  }

  /** Marks `id` free. Returns false if it already was. */
  clear(id: number): boolean {
    this.check(id);
    const dense = this.dense;
    if (dense) {
      let idx = id >>> 0;
      for (let l = 0; l < dense.length; l++) {
        const lvl = dense[l]!;
        const w = idx >>> 5;
        const bit = 1 << (idx & 31);
        const old = lvl[w]!;
        if (!(old & bit)) {
          if (l === 0) return false;
          break;
        }
        lvl[w] = (old & ~bit) >>> 0;
        if (l === 0) this.count--;
        if (old !== 0xffffffff) break; // the word was not full: the level above never marked it
        idx = w;
      }
      return true;
    }
    let idx = id >>> 0;
    for (let l = 0; l < this.levels.length; l++) {
      const lvl = this.levels[l]!;
      const w = idx >>> 5;
      const bit = 1 << (idx & 31);
      const old = word(lvl, w);
      if (!(old & bit)) {
        if (l === 0) return false;
        break;
      }
      put(lvl, w, (old & ~bit) >>> 0);
      if (l === 0) this.count--;
      if (old !== 0xffffffff) break;
      idx = w;
    }
    return true;
  }

  /**
   * Lowest clear ID in [min, max] (inclusive), or -1.
   *
   * Climb, then descend, without backtracking: at level 0 look for a clear bit at or above `min` in its word; if the
   * rest of that word is full, move to the next word, which at level 1 is the bit after this word's, and so on up.
   * The first clear bit found at level l names a level l-1 word that is not full, so descending by lowest clear bits
   * always ends on a clear ID. O(levels) word operations either way.
   */
  findFirstClear(min: number, max: number): number {
    const top = this.limit - 1;
    if (max > top) max = top;
    if (min < 0) min = 0;
    if (min > max) return -1;
    const levels = this.levels;
    const dense = this.dense;
    const last = levels.length - 1;
    let idx = min;
    let l = 0;
    for (;;) {
      const w = idx >>> 5;
      if (l === last && w > 0) return -1; // past the top word: the space is full from `min` on
      const v = dense ? (dense[l]![w] ?? 0) : word(levels[l]!, w);
      const avail = ~v & (-1 << (idx & 31));
      if (avail !== 0) {
        idx = w * 32 + (31 - Math.clz32(avail & -avail));
        break;
      }
      if (l === last) return -1;
      idx = w + 1;
      l++;
    }
    while (l > 0) {
      l--;
      const v = dense ? (dense[l]![idx] ?? 0) : word(levels[l]!, idx);
      const avail = ~v;
      idx = idx * 32 + (31 - Math.clz32(avail & -avail));
    }
    return idx <= max ? idx : -1;
  }

  /** Every ID in use, ascending. O(size) plus the words visited; for views and tests, not hot paths. */
  *ids(): IterableIterator<number> {
    const l0 = this.levels[0]!;
    const words = l0 instanceof IndexMap ? [...l0.keys()] : range(l0.length);
    for (const w of words) {
      let v = word(l0, w);
      while (v !== 0) {
        const b = 31 - Math.clz32(v & -v);
        yield w * 32 + b;
        v = (v & (v - 1)) >>> 0;
      }
    }
  }

  /** Approximate bytes held by the bitmap's words (typed arrays; a sparse level: 4 + 8 bytes per slot of its table). */
  memoryBytes(): number {
    let n = 0;
    for (const l of this.levels) n += l instanceof IndexMap ? l.capacity * 12 : l.byteLength;
    return n;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.limit) {
      throw new RangeError(`IdBitmap(${this.bits} bits): id ${id} out of range`);
    }
  }
}

function word(l: Level, w: number): number {
  return l instanceof IndexMap ? (l.get(w) ?? 0) : (l[w] ?? 0);
}

function put(l: Level, w: number, v: number): void {
  if (l instanceof IndexMap) {
    if (v === 0) l.delete(w);
    else l.set(w, v);
  } else {
    l[w] = v;
  }
}

function* range(n: number): IterableIterator<number> {
  for (let i = 0; i < n; i++) yield i;
}
