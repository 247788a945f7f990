/**
 * AArch64 VMSAv8-64 stage-1 translation tables, as the CPU and an SMMUv3 (CD.AA64 = 1) both walk them: 4 KiB granule
 * (TG0 = 0b00), 48-bit VA (T0SZ = 16), four levels L0..L3 of 512 eight-byte descriptors, stored little-endian in
 * PhysMemory. SVA shares this table between the CPU and the SMMU (CD.TTB0 = phys(mm->pgd)), so `PageTable.root` is
 * what the driver model writes into the CD, and `walkStage1` reads the descriptors back from memory exactly as the
 * SMMU's walker would: a descriptor corrupted in memory is walked as corrupted.
 *
 * Descriptor formats (Arm ARM, D8.3 "Translation table descriptor formats", VMSAv8-64, 4KB granule, 48-bit OA); the
 * names are the arm64 kernel's (arch/arm64/include/asm/pgtable-hwdef.h):
 *
 *   bits[1:0]  0bx0 invalid (any level); 0b11 table (L0..L2) or page (L3); 0b01 block (L1: 1 GiB, L2: 2 MiB);
 *              0b01 is reserved (invalid) at L3, and at L0 without FEAT_LPA2 (D8.3.1).
 *   Table:     NLTA [47:12] next-level table address; PXNTable 59, UXNTable 60 (XNTable), APTable [62:61]
 *              (APTable[0] = no EL0 access below, APTable[1] = no write below), NSTable 63.
 *   Page/block: AttrIndx [4:2] (PTE_ATTRINDX), NS 5, AP[2:1] [7:6] (PTE_RDONLY = AP[2] bit 7, PTE_USER = AP[1]
 *              bit 6), SH [9:8] (PTE_SHARED = 0b11 inner shareable), AF 10 (PTE_AF), nG 11 (PTE_NG),
 *              OA [47:12] (block: [47:30] at L1, [47:21] at L2), DBM 51, Contiguous 52, PXN 53 (PTE_PXN),
 *              UXN 54 (PTE_UXN).
 *
 * JS bitwise operators are 32-bit, so a 64-bit descriptor is handled as two 32-bit words: `lo` = bits [31:0] and
 * `hi` = bits [63:32] (bit n >= 32 is bit n - 32 of `hi`). Addresses are plain numbers below 2^48.
 *
 * Simplifications, stated: no hardware Access-flag or dirty-state update (CD.HA = CD.HD = 0), no CD.AFFD (an AF = 0
 * leaf always faults), no CD.HAD0 (hierarchical APTable is honoured), no TBI, TTB1 is never selected (VAs are
 * zero-extended, so VA[55] = 0, SMMUv3 §3.4.1), instruction fetches are not modelled (UXN/PXN are written, not
 * checked).
 */
import { PAGE_SIZE, type PhysMemory, type Region } from './memory.js';

// --- Descriptor bits, low word (bits [31:0]) ------------------------------------------------------------------
/** PTE_VALID / PMD_SECT_VALID: bit 0. */
export const PTE_VALID = 1 << 0;
/** PTE_TABLE_BIT (PMD_TABLE_BIT, PUD_TABLE_BIT): bit 1; table at L0..L2, page at L3 (PTE_TYPE_PAGE = 0b11). */
export const PTE_TABLE_BIT = 1 << 1;
/** PTE_TYPE_PAGE = PMD_TYPE_TABLE = PUD_TYPE_TABLE = P4D_TYPE_TABLE = 0b11. */
export const PTE_TYPE_PAGE = PTE_VALID | PTE_TABLE_BIT;
/** PTE_ATTRINDX(t) = t << 2: AttrIndx [4:2], an index into MAIR (the CD's MAIR field, = mair_el1 for SVA). */
export const PTE_ATTRINDX_SHIFT = 2;
/** MT_NORMAL: AttrIndx 0 in the arm64 kernel's MAIR layout (Normal, Write-Back). */
export const MT_NORMAL = 0;
/** PTE_USER: AP[1], bit 6: accessible at EL0 (unprivileged). */
export const PTE_USER = 1 << 6;
/** PTE_RDONLY: AP[2], bit 7: read-only at every EL. */
export const PTE_RDONLY = 1 << 7;
/** PTE_SHARED: SH[1:0] = 0b11 (Inner Shareable), bits [9:8]. */
export const PTE_SHARED = 3 << 8;
/** PTE_AF: Access Flag, bit 10. AF = 0 gives an Access flag fault (no HTTU here). */
export const PTE_AF = 1 << 10;
/** PTE_NG: not Global, bit 11 (user pages are tagged with the ASID). */
export const PTE_NG = 1 << 11;

// --- Descriptor bits, high word (bit n >= 32 is `1 << (n - 32)` of bits [63:32]) --------------------------------
/** PTE_PXN, bit 53: privileged execute-never. */
export const PTE_PXN_HI = 1 << (53 - 32);
/** PTE_UXN, bit 54: unprivileged execute-never. */
export const PTE_UXN_HI = 1 << (54 - 32);
/** PMD_TABLE_PXN (also PUD_/P4D_TABLE_PXN), bit 59: PXNTable, set by pmd_populate() etc. for user tables. */
export const PMD_TABLE_PXN_HI = 1 << (59 - 32);
/** APTable[0], bit 61: no EL0 access at lower levels. */
export const TABLE_AP_NO_EL0_HI = 1 << (61 - 32);
/** APTable[1], bit 62: no write access at lower levels. */
export const TABLE_AP_RDONLY_HI = 1 << (62 - 32);
/** OA [47:32] in the high word. */
const OA_HI_MASK = 0xffff;
/** OA [31:12] of a page / next-level table address in the low word. */
const OA_LO_PAGE_MASK = 0xfffff000;

/** The 48-bit virtual address space of T0SZ = 16 (vabits_actual = 48), and the 48-bit OA of a 4KB descriptor. */
export const VA_BITS = 48;
export const VA_LIMIT = 2 ** VA_BITS;
export const PA_BITS = 48;
const TWO32 = 4294967296;

/** Low-word bits of a user page descriptor as the arm64 kernel builds PAGE_SHARED / PAGE_READONLY (no exec). */
const USER_PAGE_LO = PTE_TYPE_PAGE | (MT_NORMAL << PTE_ATTRINDX_SHIFT) | PTE_USER | PTE_SHARED | PTE_AF | PTE_NG;
const USER_PAGE_HI = PTE_PXN_HI | PTE_UXN_HI;
/** A user table descriptor: PMD_TYPE_TABLE | PMD_TABLE_PXN (pmd_populate(); pud/p4d_populate() likewise). */
const USER_TABLE_LO = PTE_TYPE_PAGE;
const USER_TABLE_HI = PMD_TABLE_PXN_HI;

export type WalkFault = 'translation' | 'access' | 'permission' | 'addr-size';

export type WalkResult =
  | { ok: true; pa: number; write: boolean; level: number; descriptorsRead: number }
  | { ok: false; fault: WalkFault; level: number };

/** Index of `va` in the level-`level` table (4KB granule: VA[47:39], [38:30], [29:21], [20:12]). */
function indexAt(vaLo: number, vaHi: number, level: number): number {
  switch (level) {
    case 0:
      return (vaHi >>> 7) & 511;
    case 1:
      return ((vaLo >>> 30) | (vaHi << 2)) & 511;
    case 2:
      return (vaLo >>> 21) & 511;
    default:
      return (vaLo >>> 12) & 511;
  }
}

const POW2: number[] = Array.from({ length: 65 }, (_, i) => 2 ** i);

/**
 * A stage-1 translation table walk reading descriptors from `mem`, as the SMMU does on a TLB miss (and as the CPU's
 * MMU does). `ttb0` is the PA of the first-level table (CD.TTB0); `t0sz` selects the VA size (64 - t0sz bits) and the
 * starting level (L0 for 40..48 bits, L1 for 31..39, L2 for 25..30); `ips` is the effective output address size
 * (eff_IPS = MIN(CD.IPS, SMMU_IDR5.OAS); 48 by default). `access.privileged` (default false) selects an EL1 access;
 * DMA on behalf of a user mm is unprivileged (PnU = 0, as a PCIe request without the PASID prefix's PMR bit).
 *
 * Fault priority follows the Arm ARM (and QEMU's smmu_ptw_64_s1): input range, then per level translation (invalid
 * or reserved encoding), address size of the next table / output address, then Access flag, then Permission.
 * Allocation-free apart from the returned object.
 */
export function walkStage1(
  mem: PhysMemory,
  ttb0: number,
  va: number,
  access: { write: boolean; privileged?: boolean },
  t0sz = 16,
  ips: number = PA_BITS,
): WalkResult {
  if (!Number.isInteger(va)) throw new RangeError(`walkStage1: VA ${va} is not an integer`);
  // T0SZ outside 16..39 (4KB granule, no SMMU_IDR3.STT, DS = 0) makes the CD ILLEGAL (SMMUv3 §5.4 CD.T0SZ): the
  // caller raises C_BAD_CD before any walk, so it is a programming error here.
  if (!(t0sz >= 16 && t0sz <= 39 && Number.isInteger(t0sz))) throw new RangeError(`walkStage1: T0SZ ${t0sz} out of 16..39`);
  if (!(ttb0 >= 0 && Number.isInteger(ttb0))) throw new RangeError(`walkStage1: TTB0 ${ttb0} is not a physical address`);
  const vaBits = 64 - t0sz;
  // SMMUv3 §3.4 check 1: a VA outside the range of CD.T0SZ is a stage 1 Translation fault (F_TRANSLATION), not an
  // Address Size fault; the Arm ARM reports it at level 0. (F_ADDR_SIZE is for an output address beyond eff_IPS.)
  if (va < 0 || va >= POW2[vaBits]!) return { ok: false, fault: 'translation', level: 0 };
  const ipsLimit = POW2[ips]!;
  // An out-of-range TTB0 is C_BAD_CD in the SMMU (§3.4 note, checked at CD fetch); a PE reports an Address size
  // fault at level 0, which is what a walk given such a base returns.
  if (ttb0 >= ipsLimit) return { ok: false, fault: 'addr-size', level: 0 };
  let level = vaBits > 39 ? 0 : vaBits > 30 ? 1 : 2;
  // The first table holds 2^(vaBits - shift) entries; TTB0 bits below its size are RES0 (treated as zero).
  const firstTableBytes = POW2[vaBits - (39 - 9 * level) + 3]!;
  let table = ttb0 - (ttb0 % firstTableBytes);
  const vaHi = Math.floor(va / TWO32);
  const vaLo = va >>> 0;
  let apTable = 0; // bit 0: APTable[0] (no EL0), bit 1: APTable[1] (read-only), accumulated over the walk
  let reads = 0;
  for (;;) {
    const addr = table + indexAt(vaLo, vaHi, level) * 8;
    const lo = mem.read32(addr);
    const hi = mem.read32(addr + 4);
    reads++;
    if ((lo & PTE_VALID) === 0) return { ok: false, fault: 'translation', level };
    if ((lo & PTE_TABLE_BIT) !== 0 && level < 3) {
      const next = (hi & OA_HI_MASK) * TWO32 + ((lo & OA_LO_PAGE_MASK) >>> 0);
      if (next >= ipsLimit) return { ok: false, fault: 'addr-size', level };
      apTable |= (hi >>> 29) & 3;
      table = next;
      level++;
      continue;
    }
    // A block (0b01) at L1/L2 or a page (0b11) at L3. 0b01 at L3 and at L0 (no FEAT_LPA2) is reserved: invalid.
    if (level === 0 || (level === 3 && (lo & PTE_TABLE_BIT) === 0)) return { ok: false, fault: 'translation', level };
    const loMask = level === 3 ? OA_LO_PAGE_MASK : level === 2 ? 0xffe00000 : 0xc0000000;
    const base = (hi & OA_HI_MASK) * TWO32 + ((lo & loMask) >>> 0);
    if (base >= ipsLimit) return { ok: false, fault: 'addr-size', level };
    if ((lo & PTE_AF) === 0) return { ok: false, fault: 'access', level };
    const el0 = (lo & PTE_USER) !== 0 && (apTable & 1) === 0;
    const writable = (lo & PTE_RDONLY) === 0 && (apTable & 2) === 0;
    if ((!el0 && access.privileged !== true) || (access.write && !writable)) {
      return { ok: false, fault: 'permission', level };
    }
    return { ok: true, pa: base + ((vaLo & ~loMask) >>> 0), write: writable, level, descriptorsRead: reads };
  }
}

function checkPageAddress(what: string, a: number): void {
  if (!Number.isInteger(a) || a < 0 || a >= VA_LIMIT || a % PAGE_SIZE !== 0) {
    throw new RangeError(`${what} 0x${a.toString(16)} is not a page-aligned address below 2^48`);
  }
}

/**
 * One process's stage-1 table (mm->pgd and what hangs below it). Table pages are allocated from PhysMemory with the
 * region owner `owner` (e.g. "pgtable:p1/mm0") when a map needs them and are freed only by destroy(), as the kernel
 * keeps page tables until free_pgtables() at munmap/exit. All state lives in the descriptors in memory; the only
 * JS-side state is the list of table regions to free.
 */
export class PageTable {
  /** PA of the L0 table: the value of TTBR0_EL1 / CD.TTB0. */
  readonly root: number;
  /** The root table's region; the tables below it are in `lower`, made at the first map (most mms map nothing). */
  private rootRegion: Region | null;
  private lower: Map<number, Region> | null = null;
  private dead = false;

  constructor(
    private readonly mem: PhysMemory,
    private readonly owner: string,
  ) {
    const r = mem.alloc(PAGE_SIZE, owner);
    this.rootRegion = r;
    this.root = r.base;
  }

  private live(): void {
    if (this.dead) throw new Error(`page table ${this.owner} used after destroy()`);
  }

  /** PA of the L3 descriptor of `va`, allocating missing tables if `create`; null if a table is missing. */
  private leafSlot(va: number, create: boolean): number | null {
    const vaHi = Math.floor(va / TWO32);
    const vaLo = va >>> 0;
    let table = this.root;
    for (let level = 0; level < 3; level++) {
      const addr = table + indexAt(vaLo, vaHi, level) * 8;
      let lo = this.mem.read32(addr);
      let hi = this.mem.read32(addr + 4);
      if ((lo & PTE_VALID) === 0) {
        if (!create) return null;
        const r = this.mem.alloc(PAGE_SIZE, this.owner);
        (this.lower ??= new Map()).set(r.base, r);
        lo = (((r.base % TWO32) & OA_LO_PAGE_MASK) | USER_TABLE_LO) >>> 0;
        hi = (Math.floor(r.base / TWO32) & OA_HI_MASK) | USER_TABLE_HI;
        // High word first, then the word holding the valid bit, as a 64-bit store would appear to a walker.
        this.mem.write32(addr + 4, hi);
        this.mem.write32(addr, lo);
      } else if ((lo & PTE_TABLE_BIT) === 0) {
        throw new Error(`page table ${this.owner}: a block descriptor at L${level} covers 0x${va.toString(16)}`);
      }
      table = (hi & OA_HI_MASK) * TWO32 + ((lo & OA_LO_PAGE_MASK) >>> 0);
    }
    return table + indexAt(vaLo, vaHi, 3) * 8;
  }

  /**
   * Maps the 4 KiB user page at `va` to `pa`: a page descriptor with AF set, as set_pte_at() writes PAGE_SHARED
   * (write) or PAGE_READONLY: PTE_TYPE_PAGE | PTE_ATTRINDX(MT_NORMAL) | PTE_USER | [PTE_RDONLY] | PTE_SHARED | PTE_AF |
   * PTE_NG | PTE_PXN | PTE_UXN. A writable page is written already dirty (AP[2] = 0, no DBM). An existing mapping
   * is overwritten: break-before-make and the TLBI are the caller's business.
   */
  map(va: number, pa: number, perms: { write: boolean }): void {
    this.live();
    checkPageAddress('VA', va);
    checkPageAddress('PA', pa);
    const slot = this.leafSlot(va, true)!;
    const lo = ((pa % TWO32) | USER_PAGE_LO | (perms.write ? 0 : PTE_RDONLY)) >>> 0;
    const hi = (Math.floor(pa / TWO32) & OA_HI_MASK) | USER_PAGE_HI;
    this.mem.write32(slot + 4, hi);
    this.mem.write32(slot, lo);
  }

  /** Clears the L3 descriptor of `va` (pte_clear); true if it was valid. Tables are kept. */
  unmap(va: number): boolean {
    this.live();
    checkPageAddress('VA', va);
    const slot = this.leafSlot(va, false);
    if (slot === null) return false;
    const wasValid = (this.mem.read32(slot) & PTE_VALID) !== 0;
    this.mem.write32(slot, 0);
    this.mem.write32(slot + 4, 0);
    return wasValid;
  }

  /**
   * The kernel's software walk (follow_page-like): the PA `va` maps to and whether it is writable, read from the
   * descriptors in memory, ignoring AF and EL0 permission. Null when unmapped.
   */
  lookup(va: number): { pa: number; write: boolean } | null {
    this.live();
    if (!Number.isInteger(va) || va < 0 || va >= VA_LIMIT) return null;
    const vaHi = Math.floor(va / TWO32);
    const vaLo = va >>> 0;
    let table = this.root;
    let ro = 0;
    for (let level = 0; level <= 3; level++) {
      const addr = table + indexAt(vaLo, vaHi, level) * 8;
      const lo = this.mem.read32(addr);
      const hi = this.mem.read32(addr + 4);
      if ((lo & PTE_VALID) === 0) return null;
      const isTable = (lo & PTE_TABLE_BIT) !== 0;
      if (isTable && level < 3) {
        ro |= hi & TABLE_AP_RDONLY_HI;
        table = (hi & OA_HI_MASK) * TWO32 + ((lo & OA_LO_PAGE_MASK) >>> 0);
        continue;
      }
      if (level === 0 || (level === 3 && !isTable)) return null;
      const loMask = level === 3 ? OA_LO_PAGE_MASK : level === 2 ? 0xffe00000 : 0xc0000000;
      const base = (hi & OA_HI_MASK) * TWO32 + ((lo & loMask) >>> 0);
      return { pa: base + ((vaLo & ~loMask) >>> 0), write: (lo & PTE_RDONLY) === 0 && ro === 0 };
    }
    return null;
  }

  /** Frees every table page, the root included (pgd_free and free_pgtables at exit). Idempotent. */
  destroy(): void {
    if (this.dead) return;
    if (this.rootRegion) this.mem.free(this.rootRegion);
    if (this.lower) for (const r of this.lower.values()) this.mem.free(r);
    this.rootRegion = null;
    this.lower = null;
    this.dead = true;
  }

  /** Table pages currently allocated (the root included; 0 after destroy()). */
  tablePages(): number {
    return (this.rootRegion ? 1 : 0) + (this.lower?.size ?? 0);
  }
}
