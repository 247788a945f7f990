/**
 * Simulated physical memory: sparse 4 KiB pages holding real bytes, and a page allocator that records who owns each
 * allocation. Tables the driver allocates (stream table, CD tables, queues) and process pages live here, so a write
 * past the end of a table lands in whatever the next bytes are, and can be told apart from a write inside it.
 *
 * Physical addresses are plain numbers (up to 2^52, exact in a double). Allocation is page-granular, as
 * dma_alloc_coherent() and alloc_page() are: a 256-byte linear CD table still takes a whole page.
 */

import { Attribution } from './attribution.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** What an allocation is for, so that a stray write can name what it hit. */
export interface Region {
  base: number;
  size: number;
  /** e.g. "cd-table:accel", "l2-cd:gpu[0]", "strtab:smmu0", "page:p1/mm0@0x400000", "pgtable:p1/mm0" */
  owner: string;
}

/** First physical page handed out: leaves page 0 unused, so a zero pointer never names a real table. */
const FIRST_PFN = 0x100;

/** Words are read through a Uint32Array view, which is little-endian only on a little-endian host. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
if (!LITTLE_ENDIAN) throw new Error('PhysMemory needs a little-endian host');

/**
 * Pages by page frame number: an array for the frames the allocator hands out (dense, from FIRST_PFN up), a Map for
 * the rare page far above them (a bypass DMA to an arbitrary address). A CD or STE fetch looks its page up on every
 * access; an array index costs a fraction of a Map lookup over tens of thousands of pages.
 */
class PageMap<T> {
  private readonly dense: (T | undefined)[] = [];
  private readonly far = new Map<number, T>();
  private count = 0;

  get(pfn: number): T | undefined {
    return pfn < DENSE_PFNS ? this.dense[pfn] : this.far.get(pfn);
  }

  set(pfn: number, v: T): void {
    if (pfn < DENSE_PFNS) {
      if (this.dense[pfn] === undefined) this.count++;
      this.dense[pfn] = v;
    } else {
      if (!this.far.has(pfn)) this.count++;
      this.far.set(pfn, v);
    }
  }

  delete(pfn: number): void {
    if (pfn < DENSE_PFNS) {
      if (this.dense[pfn] === undefined) return;
      this.dense[pfn] = undefined;
      this.count--;
    } else if (this.far.delete(pfn)) this.count--;
  }

  get size(): number {
    return this.count;
  }
}

/** Frames below this (4 GiB of PA) are kept in PageMap's array. */
const DENSE_PFNS = 1 << 20;

export class PhysMemory {
  /** Which lab step is writing now (attribution.ts): what it writes is tagged with it. */
  readonly attribution = new Attribution();
  private readonly pages = new PageMap<Uint8Array>();
  /** The same pages as 32-bit words, for aligned word access (STE/CD/descriptor fetches). */
  private readonly words = new PageMap<Uint32Array>();
  /** Allocated regions by first page number; each page of a region maps back to its region. */
  private readonly regionOfPfn = new Map<number, Region>();
  private nextPfn = FIRST_PFN;
  /** One-entry cache of `words`: the last page looked up by word access (reset whenever a page is dropped). */
  private lastPfn = -1;
  private lastWords: Uint32Array | undefined = undefined;
  private readonly freePfns: number[] = [];

  /** Allocates `size` bytes (rounded up to pages, naturally aligned for power-of-two sizes), zeroed. */
  alloc(size: number, owner: string): Region {
    const npages = Math.max(1, Math.ceil(size / PAGE_SIZE));
    let pfn: number;
    if (npages === 1 && this.freePfns.length > 0) {
      pfn = this.freePfns.pop()!;
    } else {
      const align = npages & (npages - 1) ? 1 : npages; // tables of 2^n pages are aligned to their size
      pfn = Math.ceil(this.nextPfn / align) * align;
      this.nextPfn = pfn + npages;
    }
    const r: Region = { base: pfn * PAGE_SIZE, size: npages * PAGE_SIZE, owner };
    if (this.lastPfn >= pfn && this.lastPfn < pfn + npages) this.dropCache();
    for (let i = 0; i < npages; i++) {
      this.regionOfPfn.set(pfn + i, r);
      this.pages.delete(pfn + i); // zeroed: absent pages read as zero
      this.words.delete(pfn + i);
    }
    return r;
  }

  /** Frees a region's pages (their bytes are dropped; later allocations may reuse single pages). */
  free(r: Region): void {
    const first = r.base / PAGE_SIZE;
    const n = r.size / PAGE_SIZE;
    if (this.lastPfn >= first && this.lastPfn < first + n) this.dropCache();
    for (let i = 0; i < n; i++) {
      this.regionOfPfn.delete(first + i);
      this.pages.delete(first + i);
      this.words.delete(first + i);
      if (n === 1) this.freePfns.push(first + i);
    }
  }

  /** The region holding `pa`, or undefined for unallocated memory. */
  regionAt(pa: number): Region | undefined {
    return this.regionOfPfn.get(Math.floor(pa / PAGE_SIZE));
  }

  private page(pfn: number, create: boolean): Uint8Array | undefined {
    let p = this.pages.get(pfn);
    if (!p && create) {
      const buf = new ArrayBuffer(PAGE_SIZE);
      this.pages.set(pfn, (p = new Uint8Array(buf)));
      this.words.set(pfn, new Uint32Array(buf));
    }
    return p;
  }

  private dropCache(): void {
    this.lastPfn = -1;
    this.lastWords = undefined;
  }

  /** The page as words, or undefined when it was never written (through the one-entry cache). */
  private wordsOf(pfn: number): Uint32Array | undefined {
    if (pfn === this.lastPfn) return this.lastWords;
    const w = this.words.get(pfn);
    if (w) {
      this.lastPfn = pfn;
      this.lastWords = w;
    }
    return w;
  }

  read8(pa: number): number {
    return this.page(Math.floor(pa / PAGE_SIZE), false)?.[pa % PAGE_SIZE] ?? 0;
  }

  write8(pa: number, v: number): void {
    this.page(Math.floor(pa / PAGE_SIZE), true)![pa % PAGE_SIZE] = v;
  }

  /** A little-endian 32-bit word at a 4-byte-aligned address. */
  read32(pa: number): number {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const o = pa - pfn * PAGE_SIZE;
    if ((o & 3) === 0) {
      const w = this.words.get(pfn);
      return w ? w[o >>> 2]! : 0;
    }
    const p = this.pages.get(pfn);
    if (!p) return 0;
    return (p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0;
  }

  write32(pa: number, v: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const p = this.page(pfn, true)!;
    const o = pa - pfn * PAGE_SIZE;
    if ((o & 3) === 0) {
      this.words.get(pfn)![o >>> 2] = v;
      return;
    }
    p[o] = v & 0xff;
    p[o + 1] = (v >>> 8) & 0xff;
    p[o + 2] = (v >>> 16) & 0xff;
    p[o + 3] = (v >>> 24) & 0xff;
  }

  /** Reads `n` 32-bit words (little-endian) into a new array: a 64-byte STE or CD is 16 words, 8 dwords lo/hi. */
  readWords(pa: number, n: number): Uint32Array {
    return this.readWordsInto(pa, new Uint32Array(n));
  }

  /** readWords() into `out` (all of it): the same words, without allocating. Returns `out`. */
  readWordsInto(pa: number, out: Uint32Array): Uint32Array {
    const n = out.length;
    const pfn = Math.floor(pa / PAGE_SIZE);
    const o = pa - pfn * PAGE_SIZE;
    if ((o & 3) === 0 && o + 4 * n <= PAGE_SIZE) {
      // Aligned and inside one page: one page lookup instead of one per word.
      const w = this.wordsOf(pfn);
      const base = o >>> 2;
      if (w) for (let i = 0; i < n; i++) out[i] = w[base + i]!; // no subarray(): it allocates a view
      else out.fill(0);
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = this.read32(pa + 4 * i);
    return out;
  }

  writeWords(pa: number, words: Uint32Array | readonly number[]): void {
    const n = words.length;
    const pfn = Math.floor(pa / PAGE_SIZE);
    const o = pa - pfn * PAGE_SIZE;
    if (n > 0 && (o & 3) === 0 && o + 4 * n <= PAGE_SIZE) {
      // Aligned and inside one page: one page lookup (creating the page, as write32 does) instead of one per word.
      let w = this.wordsOf(pfn);
      if (!w) {
        this.page(pfn, true);
        w = this.wordsOf(pfn)!;
      }
      const base = o >>> 2;
      for (let i = 0; i < n; i++) w[base + i] = words[i]!;
      return;
    }
    for (let i = 0; i < n; i++) this.write32(pa + 4 * i, words[i]!);
  }

  /** One 8-byte-aligned 64-bit store, as two little-endian words (lo at `pa`, hi at `pa + 4`). */
  write64(pa: number, lo: number, hi: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const o = pa - pfn * PAGE_SIZE;
    if ((o & 7) !== 0) throw new RangeError(`write64: PA 0x${pa.toString(16)} is not 8-byte aligned`);
    let w = this.wordsOf(pfn);
    if (!w) {
      this.page(pfn, true);
      w = this.wordsOf(pfn)!;
    }
    w[o >>> 2] = lo;
    w[(o >>> 2) + 1] = hi;
  }

  readBytes(pa: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let done = 0; done < n; ) {
      const pfn = Math.floor((pa + done) / PAGE_SIZE);
      const o = pa + done - pfn * PAGE_SIZE;
      const m = Math.min(n - done, PAGE_SIZE - o);
      const p = this.pages.get(pfn);
      if (p) out.set(p.subarray(o, o + m), done); // absent pages read as zero
      done += m;
    }
    return out;
  }

  writeBytes(pa: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      const pfn = Math.floor((pa + done) / PAGE_SIZE);
      const o = pa + done - pfn * PAGE_SIZE;
      const m = Math.min(bytes.length - done, PAGE_SIZE - o);
      this.page(pfn, true)!.set(bytes.subarray(done, done + m), o);
      done += m;
    }
  }

  /** Bytes of backing store actually held (pages written at least once). */
  residentBytes(): number {
    return this.pages.size * PAGE_SIZE;
  }

  /** Bytes allocated to regions (whether written or not). */
  allocatedBytes(): number {
    return this.regionOfPfn.size * PAGE_SIZE;
  }
}
