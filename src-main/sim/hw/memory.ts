/**
 * Simulated physical memory: real bytes, held sparsely in 64-byte blocks (see PhysMemory), and a page allocator that
 * records who owns each allocation. Tables the driver allocates (stream table, CD tables, queues) and process pages live here, so a write
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

/** Bytes are held in 64-byte blocks: the size of an STE and of a CD, the units the SMMU fetches. */
const BLOCK_SHIFT = 6;
const BLOCK_SIZE = 1 << BLOCK_SHIFT;
const BLOCK_WORDS = BLOCK_SIZE / 4;
const BLOCK_WORDS_SHIFT = 4;
/** A row's entries: one per block of the page. */
const ROW_SHIFT = PAGE_SHIFT - BLOCK_SHIFT;
const BLOCKS_PER_PAGE = 1 << ROW_SHIFT;
/**
 * Everything is held in 4 KiB chunks: blocks (64 to a chunk), rows (16 to a chunk) and the frame-to-row map (1024
 * frames to a chunk). Checkpoints copy ArrayBuffers whole and share those a stretch of steps left alone, so a chunk
 * is the unit of sharing; 4 KiB keeps it what a page was.
 */
const CHUNK_BLOCKS_SHIFT = 6;
const CHUNK_BLOCKS = 1 << CHUNK_BLOCKS_SHIFT;
const CHUNK_ROWS_SHIFT = 4;
const CHUNK_ROWS = 1 << CHUNK_ROWS_SHIFT;
const CHUNK_PFNS_SHIFT = 10;
const CHUNK_PFNS = 1 << CHUNK_PFNS_SHIFT;

/** Frames below this (4 GiB of PA) have their row number in an array; frames above it (a bypass DMA) in a Map. */
const DENSE_PFNS = 1 << 20;

/**
 * The bytes are sparse at two levels, and held densely. A page that holds any non-zero byte has a row: 64 entries,
 * one per 64-byte block, each naming the pool block that holds that block's bytes (0: none, the block reads as zero).
 * A block whose bytes all become zero again is given back, and so is a row whose blocks all are.
 *
 * A page that receives bulk data (writeBytes: a DMA, a CPU store through an address space) is held whole instead: a
 * pool chunk of its own, its 64 blocks in order (its row number is then -(chunk + 1)), so that copying a page of data
 * is one copy, as it was with a buffer per page. Whole pages are dropped only with their allocation.
 *
 * Why not a buffer per 4 KiB page: the tables the driver allocates are mostly empty. A 2-level CD table gives every
 * 1024 SSIDs a 64 KiB leaf; 10,000 processes bound to 100 devices in mainline (global PASIDs, so each device's CDs
 * are scattered over 10 leaves) leave ~10,000 pages each holding one 64-byte CD: 40 MB of page buffers around
 * 640 KB of data, and a CD cleared at unbind left its page behind. Held as blocks, the same CDs take 640 KB of pool,
 * and a cleared CD gives its block back for the next bind to write. (This is about memory: bind+unbind measured no
 * faster, the cost of a pair lies elsewhere.)
 */
export class PhysMemory {
  /** Which lab step is writing now (attribution.ts): what it writes is tagged with it. */
  readonly attribution = new Attribution();
  /** Row number + 1 of each frame below DENSE_PFNS (0: the page holds no byte), CHUNK_PFNS frames to a chunk. */
  private readonly rowOfDense: (Int32Array | undefined)[] = [];
  private readonly rowOfFar = new Map<number, number>();
  /** Rows, CHUNK_ROWS to a chunk, BLOCKS_PER_PAGE entries each: pool block number + 1 (0: the block reads as zero). */
  private readonly rowChunks: Int32Array[] = [];
  /**
   * How many blocks each row names, CHUNK_ROWS to a chunk (beside rowChunks): a page gives its row back when this
   * reaches 0, without scanning the row's 64 entries on every block it gives back.
   */
  private readonly rowHeld: Uint8Array[] = [];
  private rowCount = 0;
  private readonly freeRows: number[] = [];
  /** The pool: CHUNK_BLOCKS blocks to a chunk, one Uint32Array and one Uint8Array over each chunk's buffer. */
  private readonly poolWords: Uint32Array[] = [];
  private readonly poolBytes: Uint8Array[] = [];
  private blockCount = 0;
  private readonly freeBlocks: number[] = [];
  /** Blocks holding bytes (allocated and not given back), whole pages not included. */
  private heldBlocks = 0;
  /** Pages held whole (a chunk of their own), and chunks a dropped whole page gave back (zeroed). */
  private wholePages = 0;
  private readonly freeChunks: number[] = [];
  /** Allocated regions by first page number; each page of a region maps back to its region. */
  private readonly regionOfPfn = new Map<number, Region>();
  private nextPfn = FIRST_PFN;
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
    for (let i = 0; i < npages; i++) {
      this.regionOfPfn.set(pfn + i, r);
      this.dropPage(pfn + i); // zeroed: absent bytes read as zero
    }
    return r;
  }

  /** Frees a region's pages (their bytes are dropped; later allocations may reuse single pages). */
  free(r: Region): void {
    const first = r.base / PAGE_SIZE;
    const n = r.size / PAGE_SIZE;
    for (let i = 0; i < n; i++) {
      this.regionOfPfn.delete(first + i);
      this.dropPage(first + i);
      if (n === 1) this.freePfns.push(first + i);
    }
  }

  /** The region holding `pa`, or undefined for unallocated memory. */
  regionAt(pa: number): Region | undefined {
    return this.regionOfPfn.get(Math.floor(pa / PAGE_SIZE));
  }

  // --- rows and blocks ---------------------------------------------------------------------------------------------

  /** The page's row number + 1, or 0 when it holds no byte. */
  private rowOf(pfn: number): number {
    if (pfn < DENSE_PFNS) {
      const c = this.rowOfDense[pfn >>> CHUNK_PFNS_SHIFT];
      return c === undefined ? 0 : c[pfn & (CHUNK_PFNS - 1)]!;
    }
    return this.rowOfFar.get(pfn) ?? 0;
  }

  private setRowOf(pfn: number, row1: number): void {
    if (pfn >= DENSE_PFNS) {
      if (row1) this.rowOfFar.set(pfn, row1);
      else this.rowOfFar.delete(pfn);
      return;
    }
    let c = this.rowOfDense[pfn >>> CHUNK_PFNS_SHIFT];
    if (c === undefined) {
      if (!row1) return;
      // Fill the array up to here first: a hole would make it a holey array, slower to index.
      while (this.rowOfDense.length < pfn >>> CHUNK_PFNS_SHIFT) this.rowOfDense.push(undefined);
      this.rowOfDense[pfn >>> CHUNK_PFNS_SHIFT] = c = new Int32Array(CHUNK_PFNS);
    }
    c[pfn & (CHUNK_PFNS - 1)] = row1;
  }

  /** Pool block number + 1 of the 64-byte block at `pa`, or 0 when it reads as zero. */
  private blockAt(pa: number): number {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const row1 = this.rowOf(pfn);
    if (row1 <= 0) return row1 === 0 ? 0 : ((-row1 - 1) << CHUNK_BLOCKS_SHIFT) + ((pa - pfn * PAGE_SIZE) >>> BLOCK_SHIFT) + 1;
    const row = row1 - 1;
    return this.rowChunks[row >>> CHUNK_ROWS_SHIFT]![((row & (CHUNK_ROWS - 1)) << ROW_SHIFT) + ((pa - pfn * PAGE_SIZE) >>> BLOCK_SHIFT)]!;
  }

  /** blockAt(), making the block (and the page's row) when there is none: it is about to hold a byte. */
  private blockFor(pa: number): number {
    const pfn = Math.floor(pa / PAGE_SIZE);
    let row1 = this.rowOf(pfn);
    if (row1 < 0) return ((-row1 - 1) << CHUNK_BLOCKS_SHIFT) + ((pa - pfn * PAGE_SIZE) >>> BLOCK_SHIFT) + 1;
    if (row1 === 0) {
      row1 = this.takeRow() + 1;
      this.setRowOf(pfn, row1);
    }
    const row = row1 - 1;
    const entries = this.rowChunks[row >>> CHUNK_ROWS_SHIFT]!;
    const e = ((row & (CHUNK_ROWS - 1)) << ROW_SHIFT) + ((pa - pfn * PAGE_SIZE) >>> BLOCK_SHIFT);
    let b1 = entries[e]!;
    if (b1 === 0) {
      b1 = this.takeBlock() + 1;
      entries[e] = b1;
      this.rowHeld[row >>> CHUNK_ROWS_SHIFT]![row & (CHUNK_ROWS - 1)]!++;
    }
    return b1;
  }

  private takeRow(): number {
    if (this.freeRows.length) return this.freeRows.pop()!;
    const row = this.rowCount++;
    if (row >>> CHUNK_ROWS_SHIFT === this.rowChunks.length) {
      this.rowChunks.push(new Int32Array(CHUNK_ROWS * BLOCKS_PER_PAGE));
      this.rowHeld.push(new Uint8Array(CHUNK_ROWS));
    }
    return row;
  }

  /** A zeroed block. */
  private takeBlock(): number {
    this.heldBlocks++;
    if (this.freeBlocks.length) return this.freeBlocks.pop()!; // zeroed when given back
    if ((this.blockCount & (CHUNK_BLOCKS - 1)) === 0) this.blockCount = this.newChunk() << CHUNK_BLOCKS_SHIFT;
    return this.blockCount++;
  }

  /** A fresh zeroed pool chunk; its number. */
  private newChunk(): number {
    const buf = new ArrayBuffer(CHUNK_BLOCKS * BLOCK_SIZE);
    this.poolWords.push(new Uint32Array(buf));
    this.poolBytes.push(new Uint8Array(buf));
    return this.poolWords.length - 1;
  }

  /** The page's bytes in a chunk of their own (made so, with the bytes it held, when it was sparse). */
  private wholePage(pfn: number): number {
    const row1 = this.rowOf(pfn);
    if (row1 < 0) return -row1 - 1;
    const c = this.freeChunks.length ? this.freeChunks.pop()! : this.newChunk();
    if (row1 > 0) {
      // The blocks it held move into the chunk (a rare path: a table page that then receives bulk data).
      const w = this.poolWords[c]!;
      for (let i = 0; i < BLOCKS_PER_PAGE; i++) {
        const b1 = this.blockAt(pfn * PAGE_SIZE + i * BLOCK_SIZE);
        if (b1 === 0) continue;
        const src = this.poolWords[(b1 - 1) >>> CHUNK_BLOCKS_SHIFT]!;
        const o = ((b1 - 1) & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT;
        for (let j = 0; j < BLOCK_WORDS; j++) w[(i << BLOCK_WORDS_SHIFT) + j] = src[o + j]!;
      }
      this.dropPage(pfn);
    }
    this.wholePages++;
    this.setRowOf(pfn, -(c + 1));
    return c;
  }

  /** Gives the block at `pa` back if all its bytes are zero (and the page's row, if that was its last block). */
  private releaseIfZero(pa: number, b1: number): void {
    if (this.rowOf(Math.floor(pa / PAGE_SIZE)) < 0) return; // a whole page keeps its chunk
    const b = b1 - 1;
    const w = this.poolWords[b >>> CHUNK_BLOCKS_SHIFT]!;
    const o = (b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT;
    for (let i = 0; i < BLOCK_WORDS; i++) if (w[o + i] !== 0) return;
    this.heldBlocks--;
    this.freeBlocks.push(b);
    const pfn = Math.floor(pa / PAGE_SIZE);
    const row = this.rowOf(pfn) - 1;
    const entries = this.rowChunks[row >>> CHUNK_ROWS_SHIFT]!;
    const base = (row & (CHUNK_ROWS - 1)) << ROW_SHIFT;
    entries[base + ((pa - pfn * PAGE_SIZE) >>> BLOCK_SHIFT)] = 0;
    if (--this.rowHeld[row >>> CHUNK_ROWS_SHIFT]![row & (CHUNK_ROWS - 1)]! !== 0) return;
    this.freeRows.push(row);
    this.setRowOf(pfn, 0);
  }

  /** Drops every byte of the page: its blocks (zeroed) and its row go back. */
  private dropPage(pfn: number): void {
    const row1 = this.rowOf(pfn);
    if (row1 === 0) return;
    if (row1 < 0) {
      this.poolWords[-row1 - 1]!.fill(0);
      this.freeChunks.push(-row1 - 1);
      this.wholePages--;
      this.setRowOf(pfn, 0);
      return;
    }
    const row = row1 - 1;
    const entries = this.rowChunks[row >>> CHUNK_ROWS_SHIFT]!;
    const base = (row & (CHUNK_ROWS - 1)) << ROW_SHIFT;
    for (let i = 0; i < BLOCKS_PER_PAGE; i++) {
      const b1 = entries[base + i]!;
      if (b1 === 0) continue;
      const b = b1 - 1;
      this.poolWords[b >>> CHUNK_BLOCKS_SHIFT]!.fill(0, (b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT, ((b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT) + BLOCK_WORDS);
      this.freeBlocks.push(b);
      this.heldBlocks--;
      entries[base + i] = 0;
    }
    this.rowHeld[row >>> CHUNK_ROWS_SHIFT]![row & (CHUNK_ROWS - 1)] = 0;
    this.freeRows.push(row);
    this.setRowOf(pfn, 0);
  }

  // --- access ------------------------------------------------------------------------------------------------------

  read8(pa: number): number {
    const b1 = this.blockAt(pa);
    if (b1 === 0) return 0;
    const b = b1 - 1;
    return this.poolBytes[b >>> CHUNK_BLOCKS_SHIFT]![((b & (CHUNK_BLOCKS - 1)) << BLOCK_SHIFT) + (pa & (BLOCK_SIZE - 1))]!;
  }

  write8(pa: number, v: number): void {
    const b1 = (v & 0xff) === 0 ? this.blockAt(pa) : this.blockFor(pa);
    if (b1 === 0) return; // a zero into a block that reads as zero
    const b = b1 - 1;
    this.poolBytes[b >>> CHUNK_BLOCKS_SHIFT]![((b & (CHUNK_BLOCKS - 1)) << BLOCK_SHIFT) + (pa & (BLOCK_SIZE - 1))] = v;
    if ((v & 0xff) === 0) this.releaseIfZero(pa, b1);
  }

  /** A little-endian 32-bit word (any alignment; a word across two blocks is read byte by byte). */
  read32(pa: number): number {
    if ((pa & 3) !== 0) return (this.read8(pa) | (this.read8(pa + 1) << 8) | (this.read8(pa + 2) << 16) | (this.read8(pa + 3) << 24)) >>> 0;
    const b1 = this.blockAt(pa);
    if (b1 === 0) return 0;
    const b = b1 - 1;
    return this.poolWords[b >>> CHUNK_BLOCKS_SHIFT]![((b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT) + ((pa & (BLOCK_SIZE - 1)) >>> 2)]!;
  }

  write32(pa: number, v: number): void {
    if ((pa & 3) !== 0) {
      this.write8(pa, v & 0xff);
      this.write8(pa + 1, (v >>> 8) & 0xff);
      this.write8(pa + 2, (v >>> 16) & 0xff);
      this.write8(pa + 3, (v >>> 24) & 0xff);
      return;
    }
    const b1 = v === 0 ? this.blockAt(pa) : this.blockFor(pa);
    if (b1 === 0) return;
    const b = b1 - 1;
    this.poolWords[b >>> CHUNK_BLOCKS_SHIFT]![((b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT) + ((pa & (BLOCK_SIZE - 1)) >>> 2)] = v;
    if (v === 0) this.releaseIfZero(pa, b1);
  }

  /** Reads `n` 32-bit words (little-endian) into a new array: a 64-byte STE or CD is 16 words, 8 dwords lo/hi. */
  readWords(pa: number, n: number): Uint32Array {
    return this.readWordsInto(pa, new Uint32Array(n));
  }

  /** readWords() into `out` (all of it): the same words, without allocating. Returns `out`. */
  readWordsInto(pa: number, out: Uint32Array): Uint32Array {
    const n = out.length;
    if ((pa & 3) === 0 && (pa & (BLOCK_SIZE - 1)) + 4 * n <= BLOCK_SIZE) {
      // Aligned and inside one block (an STE or CD fetch): one lookup.
      const b1 = this.blockAt(pa);
      if (b1 === 0) return out.fill(0);
      const b = b1 - 1;
      const w = this.poolWords[b >>> CHUNK_BLOCKS_SHIFT]!;
      const base = ((b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT) + ((pa & (BLOCK_SIZE - 1)) >>> 2);
      for (let i = 0; i < n; i++) out[i] = w[base + i]!; // no subarray(): it allocates a view
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = this.read32(pa + 4 * i);
    return out;
  }

  writeWords(pa: number, words: Uint32Array | readonly number[]): void {
    for (let i = 0; i < words.length; i++) this.write32(pa + 4 * i, words[i]!);
  }

  /** One 8-byte-aligned 64-bit store, as two little-endian words (lo at `pa`, hi at `pa + 4`). */
  write64(pa: number, lo: number, hi: number): void {
    if ((pa & 7) !== 0) throw new RangeError(`write64: PA 0x${pa.toString(16)} is not 8-byte aligned`);
    const zero = lo === 0 && hi === 0;
    const b1 = zero ? this.blockAt(pa) : this.blockFor(pa);
    if (b1 === 0) return;
    const b = b1 - 1;
    const w = this.poolWords[b >>> CHUNK_BLOCKS_SHIFT]!;
    const o = ((b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT) + ((pa & (BLOCK_SIZE - 1)) >>> 2);
    w[o] = lo;
    w[o + 1] = hi;
    if (zero) this.releaseIfZero(pa, b1);
  }

  /**
   * Stores a whole 64-byte block (16 words) at the 64-byte aligned `pa`: the end state of the 64-bit stores of an
   * STE or CD update, in one lookup of the block instead of one per store. All-zero words give the block back.
   */
  writeBlock(pa: number, words: Uint32Array): void {
    if (pa % BLOCK_SIZE !== 0 || words.length !== BLOCK_WORDS) throw new RangeError(`writeBlock: PA 0x${pa.toString(16)} with ${words.length} words (a 64-byte aligned block of 16 expected)`);
    let zero = true;
    for (let i = 0; i < BLOCK_WORDS; i++) {
      if (words[i] !== 0) {
        zero = false;
        break;
      }
    }
    const b1 = zero ? this.blockAt(pa) : this.blockFor(pa);
    if (b1 === 0) return; // zeros into a block that reads as zero
    const b = b1 - 1;
    const w = this.poolWords[b >>> CHUNK_BLOCKS_SHIFT]!;
    const o = (b & (CHUNK_BLOCKS - 1)) << BLOCK_WORDS_SHIFT;
    for (let i = 0; i < BLOCK_WORDS; i++) w[o + i] = words[i]!;
    if (zero) this.releaseIfZero(pa, b1);
  }

  readBytes(pa: number, n: number): Uint8Array {
    return this.readBytesInto(pa, new Uint8Array(n), 0, n);
  }

  /** Reads `n` bytes at `pa` into `out` from `at` on. Returns `out`. */
  readBytesInto(pa: number, out: Uint8Array, at: number, n: number): Uint8Array {
    for (let done = 0; done < n; ) {
      const cur = pa + done;
      const pfn = Math.floor(cur / PAGE_SIZE);
      const o = cur - pfn * PAGE_SIZE;
      const m = Math.min(n - done, PAGE_SIZE - o);
      const row1 = this.rowOf(pfn);
      if (row1 < 0) {
        const src = this.poolBytes[-row1 - 1]!;
        out.set(m === PAGE_SIZE ? src : src.subarray(o, o + m), at + done);
      } else if (row1 > 0) {
        for (let i = 0; i < m; i++) out[at + done + i] = this.read8(cur + i);
      } else out.fill(0, at + done, at + done + m); // a page holding nothing reads as zero
      done += m;
    }
    return out;
  }

  /**
   * Bulk data (a DMA, a CPU store): each page it reaches is held whole from then on, unless all it would write there
   * is zeros into a page that holds nothing.
   */
  writeBytes(pa: number, bytes: Uint8Array): void {
    const n = bytes.length;
    for (let done = 0; done < n; ) {
      const cur = pa + done;
      const pfn = Math.floor(cur / PAGE_SIZE);
      const o = cur - pfn * PAGE_SIZE;
      const m = Math.min(n - done, PAGE_SIZE - o);
      if (this.rowOf(pfn) === 0) {
        let zero = true;
        for (let i = 0; i < m; i++) if (bytes[done + i] !== 0) { zero = false; break; }
        if (zero) {
          done += m;
          continue;
        }
      }
      const dst = this.poolBytes[this.wholePage(pfn)]!;
      dst.set(done === 0 && m === n ? bytes : bytes.subarray(done, done + m), o);
      done += m;
    }
  }

  /** Pages held as sparse rows of blocks (pages with a non-zero byte, whole pages not included). */
  sparsePages(): number {
    return this.rowCount - this.freeRows.length;
  }

  /** Bytes of backing store actually held: 64-byte blocks holding at least one non-zero byte, and whole pages. */
  residentBytes(): number {
    return this.heldBlocks * BLOCK_SIZE + this.wholePages * PAGE_SIZE;
  }

  /** Bytes of backing store held for the region's pages (its blocks holding a non-zero byte). */
  residentBytesIn(r: Region): number {
    let n = 0;
    for (let pfn = r.base / PAGE_SIZE, end = pfn + r.size / PAGE_SIZE; pfn < end; pfn++) {
      const row1 = this.rowOf(pfn);
      if (row1 === 0) continue;
      if (row1 < 0) {
        n += BLOCKS_PER_PAGE;
        continue;
      }
      const row = row1 - 1;
      const entries = this.rowChunks[row >>> CHUNK_ROWS_SHIFT]!;
      const base = (row & (CHUNK_ROWS - 1)) << ROW_SHIFT;
      for (let i = 0; i < BLOCKS_PER_PAGE; i++) if (entries[base + i] !== 0) n++;
    }
    return n * BLOCK_SIZE;
  }

  /** The allocated regions, each once, in order of address. */
  regions(): Region[] {
    const out = new Set<Region>(this.regionOfPfn.values());
    return [...out].sort((a, b) => a.base - b.base);
  }

  /** Bytes allocated to regions (whether written or not). */
  allocatedBytes(): number {
    return this.regionOfPfn.size * PAGE_SIZE;
  }
}
