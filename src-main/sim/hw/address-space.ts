/**
 * A process's address space (mm_struct): VMAs, the stage-1 page table that both the CPU and the SMMU walk (SVA:
 * CD.TTB0 = phys(mm->pgd) = `pt.root`), and the physical pages it owns. Anonymous memory is demand-paged: mmap only
 * creates a VMA; a page is allocated (zeroed) and mapped on first touch, by the CPU (cpuRead/cpuWrite) or by the
 * IOPF handler calling populate() (handle_mm_fault) after a stalled DMA fault.
 *
 * Simplifications, stated: every page of a VMA is private anonymous memory; a read fault allocates a real page
 * (no shared zero page), and a page of a writable VMA is mapped writable and dirty at once (no COW, no DBM);
 * adjacent VMAs with the same protection are merged as vma_merge() would. munmap frees the pages at once: the
 * caller sends the TLBI through the mmu notifier before anything else runs, and if it does not, a stale SMMU TLB
 * entry names a freed page, which is the bug the lab is there to show.
 */
import { PAGE_SIZE, type PhysMemory, type Region } from './memory.js';
import { PageTable, VA_LIMIT, walkStage1 } from './pagetable.js';
import type { StepTag } from './attribution.js';

interface Vma {
  va: number;
  end: number;
  write: boolean;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export class AddressSpace {
  readonly pt: PageTable;
  /** Sorted by address, non-overlapping. */
  private vmaList: Vma[] = [];
  /**
   * Resident pages: page-aligned VA -> the physical page backing it. Both maps are made on first use: most processes
   * of a large lab never map anything, and two empty Maps per process (~400 bytes with their tables) were about a
   * sixth of a 10,000-process lab's heap.
   */
  private pages: Map<number, Region> | null = null;
  /** Pages unmapped and not mapped again since: page-aligned VA -> the step whose munmap cleared the PTE. */
  private unmappedBy: Map<number, StepTag> | null = null;
  private dead = false;

  constructor(
    private readonly mem: PhysMemory,
    readonly label: string,
  ) {
    this.pt = new PageTable(mem, `pgtable:${label}`);
  }

  private live(): void {
    if (this.dead) throw new Error(`address space ${this.label} used after destroy()`);
  }

  /** Index of the VMA containing `va`, or -1. */
  private findVma(va: number): number {
    let lo = 0;
    let hi = this.vmaList.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.vmaList[mid]!;
      if (va < v.va) hi = mid - 1;
      else if (va >= v.end) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /**
   * Creates a VMA [va, va + length) with `length` rounded up to whole pages (MAP_FIXED_NOREPLACE semantics: an
   * overlap is an error, EEXIST). No page is populated.
   */
  mmap(va: number, length: number, prot: { write: boolean }): { ok: true } | { ok: false; why: string } {
    this.live();
    if (!Number.isInteger(va) || va < 0 || va % PAGE_SIZE !== 0) return { ok: false, why: `EINVAL: address ${va} is not page-aligned` };
    if (!Number.isInteger(length) || length <= 0) return { ok: false, why: `EINVAL: length ${length}` };
    const end = va + Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
    if (end > VA_LIMIT) return { ok: false, why: `ENOMEM: ${hex(va)}+${hex(length)} exceeds the 48-bit user VA range` };
    for (const v of this.vmaList) {
      if (v.va < end && va < v.end) {
        return { ok: false, why: `EEXIST: [${hex(va)}, ${hex(end)}) overlaps the VMA [${hex(v.va)}, ${hex(v.end)})` };
      }
    }
    let i = 0;
    while (i < this.vmaList.length && this.vmaList[i]!.va < va) i++;
    this.vmaList.splice(i, 0, { va, end, write: prot.write });
    this.mergeAround(i);
    return { ok: true };
  }

  /** Merges VMA i with its neighbours when they touch and have the same protection. */
  private mergeAround(i: number): void {
    const next = this.vmaList[i + 1];
    const cur = this.vmaList[i]!;
    if (next && next.va === cur.end && next.write === cur.write) {
      cur.end = next.end;
      this.vmaList.splice(i + 1, 1);
    }
    const prev = this.vmaList[i - 1];
    if (prev && prev.end === cur.va && prev.write === cur.write) {
      prev.end = cur.end;
      this.vmaList.splice(i, 1);
    }
  }

  /**
   * Removes [va, va + length) (length rounded up to pages) from the VMAs, splitting them as needed, clears the PTEs
   * and frees the pages. Returns the number of pages that were mapped. The caller sends the TLBI (mmu notifier).
   */
  munmap(va: number, length: number): number {
    this.live();
    if (!Number.isInteger(va) || va < 0 || va % PAGE_SIZE !== 0) throw new RangeError(`munmap: address ${va} is not page-aligned`);
    if (!Number.isInteger(length) || length <= 0) throw new RangeError(`munmap: length ${length}`);
    const end = Math.min(va + Math.ceil(length / PAGE_SIZE) * PAGE_SIZE, VA_LIMIT);
    const kept: Vma[] = [];
    for (const v of this.vmaList) {
      if (v.end <= va || v.va >= end) {
        kept.push(v);
        continue;
      }
      if (v.va < va) kept.push({ va: v.va, end: va, write: v.write });
      if (v.end > end) kept.push({ va: end, end: v.end, write: v.write });
    }
    this.vmaList = kept;
    let n = 0;
    const pages = this.pages;
    if (!pages) return 0;
    const unmapPage = (p: number): void => {
      const r = pages.get(p);
      if (!r) return;
      this.pt.unmap(p);
      this.mem.free(r);
      pages.delete(p);
      const by = this.mem.attribution.current;
      if (by) (this.unmappedBy ??= new Map()).set(p, by);
      n++;
    };
    if ((end - va) / PAGE_SIZE <= pages.size) {
      for (let p = va; p < end; p += PAGE_SIZE) unmapPage(p);
    } else {
      for (const p of [...pages.keys()]) if (p >= va && p < end) unmapPage(p);
    }
    return n;
  }

  /**
   * handle_mm_fault for one page: 'segv' if `va` is in no VMA or a write hits a read-only VMA; 'already' if the
   * page is mapped; otherwise allocates a zeroed page (owner "page:<label>@0x<page va>") and maps it.
   */
  populate(va: number, write: boolean): 'mapped' | 'already' | 'segv' {
    this.live();
    if (!Number.isInteger(va)) throw new RangeError(`populate: address ${va} is not an integer`);
    const i = this.findVma(va);
    if (i < 0) return 'segv';
    const vma = this.vmaList[i]!;
    if (write && !vma.write) return 'segv';
    const page = va - (va % PAGE_SIZE);
    const pages = (this.pages ??= new Map());
    if (pages.has(page)) return 'already';
    const r = this.mem.alloc(PAGE_SIZE, `page:${this.label}@${hex(page)}`);
    pages.set(page, r);
    this.unmappedBy?.delete(page);
    this.pt.map(page, r.base, { write: vma.write });
    return 'mapped';
  }

  /**
   * CPU accesses at EL0, page by page: fault the page in (populate), then translate through the page table in
   * memory (the same walk the SMMU does) and move the bytes. A fault stops the access at the faulting address; the
   * bytes before it have been written, as a faulting memcpy leaves them.
   */
  private cpuAccess(va: number, length: number, write: boolean, each: (pa: number, off: number, n: number) => void): { ok: true } | { ok: false; fault: 'segv'; va: number } {
    this.live();
    if (!Number.isInteger(va) || !Number.isInteger(length) || length < 0) throw new RangeError(`CPU access ${va}+${length}`);
    let off = 0;
    while (off < length) {
      const a = va + off;
      const n = Math.min(PAGE_SIZE - (((a % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE), length - off);
      if (a < 0 || a >= VA_LIMIT || this.populate(a, write) === 'segv') return { ok: false, fault: 'segv', va: a };
      const w = walkStage1(this.mem, this.pt.root, a, { write });
      // The page is populated, yet the walk through memory fails: something (a stray DMA, a CD written past its
      // table) overwrote this page table. The CPU takes the fault; the kernel would report a bad page table [I].
      if (!w.ok) return { ok: false, fault: 'segv', va: a };
      each(w.pa, off, n);
      off += n;
    }
    return { ok: true };
  }

  cpuWrite(va: number, bytes: Uint8Array): { ok: true } | { ok: false; fault: 'segv'; va: number } {
    return this.cpuAccess(va, bytes.length, true, (pa, off, n) => this.mem.writeBytes(pa, bytes.subarray(off, off + n)));
  }

  cpuRead(va: number, length: number): { ok: true; bytes: Uint8Array } | { ok: false; fault: 'segv'; va: number } {
    const bytes = new Uint8Array(length);
    const r = this.cpuAccess(va, length, false, (pa, off, n) => bytes.set(this.mem.readBytes(pa, n), off));
    return r.ok ? { ok: true, bytes } : r;
  }

  /** Whether the address space still exists (exit_mmap not run yet). */
  get alive(): boolean {
    return !this.dead;
  }

  /** The step whose munmap cleared the PTE of the page holding `va`, if it is still unmapped since. */
  unmappedAt(va: number): StepTag | undefined {
    return this.unmappedBy?.get(va - (va % PAGE_SIZE));
  }

  vmas(): { va: number; length: number; write: boolean }[] {
    return this.vmaList.map((v) => ({ va: v.va, length: v.end - v.va, write: v.write }));
  }

  residentPages(): number {
    return this.pages?.size ?? 0;
  }

  /** exit_mmap: clears every PTE, frees the pages, then the page tables. Idempotent. */
  destroy(): void {
    if (this.dead) return;
    if (this.pages) {
      for (const [va, r] of this.pages) {
        this.pt.unmap(va);
        this.mem.free(r);
      }
      this.pages = null;
    }
    this.vmaList = [];
    this.pt.destroy();
    this.dead = true;
  }
}
