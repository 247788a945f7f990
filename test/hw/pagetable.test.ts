/**
 * The stage-1 page table against the architecture (Arm ARM D8.3, VMSAv8-64 4KB granule, 48-bit VA/OA): descriptor
 * bits read back from PhysMemory as 64-bit values, table descriptors that point at the next table, each fault kind at
 * its level, and a property test that the SMMU-style walk agrees with the kernel-side lookup and a naive model.
 * The expectations are spelled out from the architecture here, not taken from the module's constants.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src-main/sim/hw/memory.js';
import { PageTable, walkStage1 } from '../../src-main/sim/hw/pagetable.js';

const bit = (n: number): bigint => 1n << BigInt(n);

function desc(mem: PhysMemory, pa: number): bigint {
  return BigInt(mem.read32(pa)) | (BigInt(mem.read32(pa + 4)) << 32n);
}

function writeDesc(mem: PhysMemory, pa: number, d: bigint): void {
  mem.write32(pa, Number(d & 0xffffffffn));
  mem.write32(pa + 4, Number(d >> 32n));
}

/** VA[47:39], [38:30], [29:21], [20:12]. */
function indices(va: number): [number, number, number, number] {
  const v = BigInt(va);
  return [Number((v >> 39n) & 511n), Number((v >> 30n) & 511n), Number((v >> 21n) & 511n), Number((v >> 12n) & 511n)];
}

const OA_MASK = ((1n << 48n) - 1n) & ~0xfffn; // [47:12]

/** Addresses of the four descriptors for `va`, following table descriptors from the root (independent walk). */
function descriptorAddresses(mem: PhysMemory, root: number, va: number): number[] {
  const idx = indices(va);
  const out: number[] = [];
  let table = BigInt(root);
  for (let l = 0; l < 4; l++) {
    const a = Number(table) + idx[l]! * 8;
    out.push(a);
    table = desc(mem, a) & OA_MASK;
  }
  return out;
}

// Architectural values (D8.3): bits[1:0] = 0b11 table/page, PXNTable 59 (PMD_TABLE_PXN); page: AttrIndx 0 (MT_NORMAL),
// AP[1] = 1 (EL0, PTE_USER), AP[2] (PTE_RDONLY) when read-only, SH = 0b11 (PTE_SHARED), AF, nG, PXN 53, UXN 54.
const TABLE_BITS = 0b11n | bit(59);
const PAGE_RW_BITS = 0b11n | (0n << 2n) | bit(6) | (3n << 8n) | bit(10) | bit(11) | bit(53) | bit(54);
const PAGE_RO_BITS = PAGE_RW_BITS | bit(7);

describe('PageTable descriptors', () => {
  it('root is one zeroed, owned table page', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:p1/mm0');
    expect(pt.root % 4096).toBe(0);
    expect(mem.regionAt(pt.root)).toMatchObject({ base: pt.root, size: 4096, owner: 'pgtable:p1/mm0' });
    expect(pt.tablePages()).toBe(1);
    for (let i = 0; i < 512; i++) expect(desc(mem, pt.root + 8 * i)).toBe(0n);
  });

  it('a mapped page has exactly the architectural L3 bits and table descriptors chain to the next table', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    const va = 0x7f12_3456_7000; // indices 254, 72, 418, 359
    expect(indices(va)).toEqual([254, 72, 418, 359]);
    const pa = 0xabcd_1234_5000; // OA bits above 32 exercise the high word
    pt.map(va, pa, { write: true });
    expect(pt.tablePages()).toBe(4);
    const [a0, a1, a2, a3] = descriptorAddresses(mem, pt.root, va) as [number, number, number, number];
    expect(a0).toBe(pt.root + 254 * 8);
    for (const [a, next, level] of [[a0, a1, 0], [a1, a2, 1], [a2, a3, 2]] as const) {
      const d = desc(mem, a);
      const nextTable = Number(d & OA_MASK);
      expect(d & ~OA_MASK, `L${level} table descriptor`).toBe(TABLE_BITS);
      expect(next - nextTable).toBe(indices(va)[level + 1]! * 8);
      expect(mem.regionAt(nextTable)).toMatchObject({ base: nextTable, size: 4096, owner: 'pgtable:t' });
    }
    expect(desc(mem, a3)).toBe(BigInt(pa) | PAGE_RW_BITS);
    // Only the four descriptors on the path are non-zero.
    let nonZero = 0;
    for (const t of [pt.root, ...[a0, a1, a2].map((a) => Number(desc(mem, a) & OA_MASK))]) {
      for (let i = 0; i < 512; i++) if (desc(mem, t! + 8 * i) !== 0n) nonZero++;
    }
    expect(nonZero).toBe(4);

    pt.map(va + 0x1000, 0x5000, { write: false });
    expect(pt.tablePages()).toBe(4); // same L3 table
    expect(desc(mem, a3 + 8)).toBe(0x5000n | PAGE_RO_BITS);
    pt.map(0x1000, 0x6000, { write: true }); // L0 index 0: three new tables
    expect(pt.tablePages()).toBe(7);
  });

  it('unmap clears the descriptor, keeps the tables and reports whether it was mapped', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    pt.map(0x40_0000, 0x9000, { write: true });
    const a3 = descriptorAddresses(mem, pt.root, 0x40_0000)[3]!;
    expect(pt.unmap(0x40_0000)).toBe(true);
    expect(desc(mem, a3)).toBe(0n);
    expect(pt.unmap(0x40_0000)).toBe(false);
    expect(pt.unmap(0x7000_0000_0000)).toBe(false);
    expect(pt.lookup(0x40_0000)).toBeNull();
    expect(pt.tablePages()).toBe(4);
  });

  it('rejects unaligned or out-of-range addresses', () => {
    const pt = new PageTable(new PhysMemory(), 'pgtable:t');
    expect(() => pt.map(0x1001, 0x2000, { write: true })).toThrow(RangeError);
    expect(() => pt.map(0x1000, 0x2001, { write: true })).toThrow(RangeError);
    expect(() => pt.map(2 ** 48, 0x2000, { write: true })).toThrow(RangeError);
    expect(() => pt.map(0x1000, 2 ** 48, { write: true })).toThrow(RangeError);
    expect(pt.lookup(2 ** 48)).toBeNull();
  });
});

describe('walkStage1', () => {
  it('translates through four levels, reading four descriptors', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    pt.map(0x7f12_3456_7000, 0xabcd_1234_5000, { write: true });
    pt.map(0x7f12_3456_8000, 0x3000, { write: false });
    expect(walkStage1(mem, pt.root, 0x7f12_3456_7abc, { write: true })).toEqual({ ok: true, pa: 0xabcd_1234_5abc, write: true, level: 3, descriptorsRead: 4 });
    expect(walkStage1(mem, pt.root, 0x7f12_3456_8fff, { write: false })).toEqual({ ok: true, pa: 0x3fff, write: false, level: 3, descriptorsRead: 4 });
    expect(pt.lookup(0x7f12_3456_7abc)).toEqual({ pa: 0xabcd_1234_5abc, write: true });
  });

  it('reports a translation fault at the level of the first invalid descriptor', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    const va = 0x7f12_3456_7000;
    pt.map(va, 0x5000, { write: true });
    const T = (level: number) => ({ ok: false, fault: 'translation', level });
    expect(walkStage1(mem, pt.root, 0x0000_1000_0000, { write: false })).toEqual(T(0)); // other L0 slot
    expect(walkStage1(mem, pt.root, va + 2 ** 30, { write: false })).toEqual(T(1)); // same L1 table, other slot
    expect(walkStage1(mem, pt.root, va + 2 ** 21, { write: false })).toEqual(T(2));
    expect(walkStage1(mem, pt.root, va + 2 ** 12, { write: false })).toEqual(T(3));
    // An empty root, and an unallocated TTB0 (reads as zero), fault at level 0.
    expect(walkStage1(mem, new PageTable(mem, 'x').root, va, { write: false })).toEqual(T(0));
    expect(walkStage1(mem, 0x7fff_0000, va, { write: false })).toEqual(T(0));
  });

  it('reserved encodings: 0b01 at L3 and at L0 are invalid; an L1/L2 block translates', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    const va = 0x4000_0000 * 5 + 0x20_0000 * 3 + 0x1000 * 7 + 0x123;
    pt.map(va - 0x123, 0x8000, { write: true });
    const [a0, a1, a2, a3] = descriptorAddresses(mem, pt.root, va) as [number, number, number, number];
    const l3 = desc(mem, a3);
    writeDesc(mem, a3, l3 & ~bit(1)); // page -> reserved
    expect(walkStage1(mem, pt.root, va, { write: false })).toEqual({ ok: false, fault: 'translation', level: 3 });
    writeDesc(mem, a3, l3);
    // L2 block of 2 MiB at 0x8000_0000: OA[47:21], low attributes as a page but bits[1:0] = 0b01.
    const blockAttrs = (PAGE_RW_BITS & ~0b11n) | 0b01n;
    writeDesc(mem, a2, 0x8000_0000n | blockAttrs);
    expect(walkStage1(mem, pt.root, va, { write: true })).toEqual({ ok: true, pa: 0x8000_0000 + 0x7123, write: true, level: 2, descriptorsRead: 3 });
    // L1 block of 1 GiB at 0x1_4000_0000.
    writeDesc(mem, a1, 0x1_4000_0000n | blockAttrs);
    expect(walkStage1(mem, pt.root, va, { write: true })).toEqual({ ok: true, pa: 0x1_4000_0000 + 0x20_0000 * 3 + 0x7123, write: true, level: 1, descriptorsRead: 2 });
    // L0 "block" (no FEAT_LPA2): invalid.
    writeDesc(mem, a0, 0n | blockAttrs);
    expect(walkStage1(mem, pt.root, va, { write: false })).toEqual({ ok: false, fault: 'translation', level: 0 });
  });

  it('AF = 0 gives an access fault; a write to a read-only page a permission fault', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    pt.map(0x1000, 0x5000, { write: false });
    pt.map(0x2000, 0x6000, { write: true });
    expect(walkStage1(mem, pt.root, 0x1000, { write: true })).toEqual({ ok: false, fault: 'permission', level: 3 });
    expect(walkStage1(mem, pt.root, 0x1000, { write: false }).ok).toBe(true);
    const a3 = descriptorAddresses(mem, pt.root, 0x2000)[3]!;
    writeDesc(mem, a3, desc(mem, a3) & ~bit(10));
    // Access flag fault takes priority over permission, and is raised for reads too.
    expect(walkStage1(mem, pt.root, 0x2000, { write: false })).toEqual({ ok: false, fault: 'access', level: 3 });
    const ro = descriptorAddresses(mem, pt.root, 0x1000)[3]!;
    writeDesc(mem, ro, desc(mem, ro) & ~bit(10));
    expect(walkStage1(mem, pt.root, 0x1000, { write: true })).toEqual({ ok: false, fault: 'access', level: 3 });
  });

  it('EL0 permission (AP[1]) and hierarchical APTable', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    pt.map(0x3000, 0x5000, { write: true });
    const [, a1, , a3] = descriptorAddresses(mem, pt.root, 0x3000) as [number, number, number, number];
    const l3 = desc(mem, a3);
    writeDesc(mem, a3, l3 & ~bit(6)); // a kernel page
    expect(walkStage1(mem, pt.root, 0x3000, { write: false })).toEqual({ ok: false, fault: 'permission', level: 3 });
    expect(walkStage1(mem, pt.root, 0x3000, { write: true, privileged: true })).toMatchObject({ ok: true, write: true });
    writeDesc(mem, a3, l3);
    const l1 = desc(mem, a1);
    writeDesc(mem, a1, l1 | bit(62)); // APTable[1]: no writes below
    expect(walkStage1(mem, pt.root, 0x3000, { write: true })).toEqual({ ok: false, fault: 'permission', level: 3 });
    expect(walkStage1(mem, pt.root, 0x3000, { write: false })).toMatchObject({ ok: true, write: false });
    expect(pt.lookup(0x3000)).toEqual({ pa: 0x5000, write: false });
    writeDesc(mem, a1, l1 | bit(61)); // APTable[0]: no EL0 below
    expect(walkStage1(mem, pt.root, 0x3000, { write: false })).toEqual({ ok: false, fault: 'permission', level: 3 });
  });

  it('the 48-bit boundary: the top page translates, 2^48 is a level-0 translation fault', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    const top = 2 ** 48 - 4096;
    expect(indices(top)).toEqual([511, 511, 511, 511]);
    pt.map(top, 2 ** 48 - 4096, { write: true });
    expect(walkStage1(mem, pt.root, 2 ** 48 - 1, { write: true })).toEqual({ ok: true, pa: 2 ** 48 - 1, write: true, level: 3, descriptorsRead: 4 });
    const [a0] = descriptorAddresses(mem, pt.root, top);
    expect(a0).toBe(pt.root + 511 * 8);
    expect(desc(mem, descriptorAddresses(mem, pt.root, top)[3]!)).toBe(BigInt(2 ** 48 - 4096) | PAGE_RW_BITS);
    expect(walkStage1(mem, pt.root, 2 ** 48, { write: false })).toEqual({ ok: false, fault: 'translation', level: 0 });
    expect(walkStage1(mem, pt.root, 2 ** 52, { write: false })).toEqual({ ok: false, fault: 'translation', level: 0 });
    expect(walkStage1(mem, pt.root, -4096, { write: false })).toEqual({ ok: false, fault: 'translation', level: 0 });
  });

  it('T0SZ = 25 (39-bit VA) starts at level 1', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    const va = 0x12_3456_7000; // < 2^39: L0 index 0
    pt.map(va, 0x9000, { write: true });
    const l1Table = Number(desc(mem, pt.root) & OA_MASK);
    expect(walkStage1(mem, l1Table, va + 5, { write: true }, 25)).toEqual({ ok: true, pa: 0x9005, write: true, level: 3, descriptorsRead: 3 });
    expect(walkStage1(mem, l1Table, 2 ** 39, { write: false }, 25)).toEqual({ ok: false, fault: 'translation', level: 0 });
    expect(() => walkStage1(mem, l1Table, va, { write: false }, 15)).toThrow(RangeError);
    expect(() => walkStage1(mem, l1Table, va, { write: false }, 40)).toThrow(RangeError);
  });

  it('an output or table address above the IPS is an address-size fault at that level', () => {
    const mem = new PhysMemory();
    const pt = new PageTable(mem, 'pgtable:t');
    pt.map(0x1000, 2 ** 40, { write: true });
    pt.map(0x2000, 2 ** 40 - 4096, { write: true });
    expect(walkStage1(mem, pt.root, 0x1000, { write: false }, 16, 40)).toEqual({ ok: false, fault: 'addr-size', level: 3 });
    expect(walkStage1(mem, pt.root, 0x2000, { write: false }, 16, 40)).toMatchObject({ ok: true, pa: 2 ** 40 - 4096 });
    expect(walkStage1(mem, pt.root, 0x1000, { write: false })).toMatchObject({ ok: true, pa: 2 ** 40 }); // IPS 48
    const a1 = descriptorAddresses(mem, pt.root, 0x1000)[1]!;
    writeDesc(mem, a1, (desc(mem, a1) & ~OA_MASK) | BigInt(2 ** 44));
    expect(walkStage1(mem, pt.root, 0x1000, { write: false }, 16, 44)).toEqual({ ok: false, fault: 'addr-size', level: 1 });
    expect(walkStage1(mem, 2 ** 44, 0x1000, { write: false }, 16, 44)).toEqual({ ok: false, fault: 'addr-size', level: 0 });
  });
});

describe('walkStage1 agrees with lookup and a naive model (fast-check)', () => {
  // A small VA universe whose members share tables at every level, so map/unmap interleave on the same tables.
  const universe: number[] = [];
  for (const i0 of [0, 1, 511]) for (const i1 of [0, 3, 511]) for (const i2 of [0, 7]) for (const i3 of [0, 1, 511]) {
    universe.push(i0 * 2 ** 39 + i1 * 2 ** 30 + i2 * 2 ** 21 + i3 * 2 ** 12);
  }
  const op = fc.oneof(
    fc.record({ kind: fc.constant('map' as const), v: fc.nat(universe.length - 1), pfn: fc.integer({ min: 0, max: 2 ** 36 - 1 }), write: fc.boolean() }),
    fc.record({ kind: fc.constant('unmap' as const), v: fc.nat(universe.length - 1) }),
  );

  it('for random map/unmap sequences', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.nat(4095), (ops, offset) => {
        const mem = new PhysMemory();
        const pt = new PageTable(mem, 'pgtable:prop');
        const model = new Map<number, { pa: number; write: boolean }>();
        for (const o of ops) {
          const va = universe[o.v]!;
          if (o.kind === 'map') {
            pt.map(va, o.pfn * 4096, { write: o.write });
            model.set(va, { pa: o.pfn * 4096, write: o.write });
          } else {
            expect(pt.unmap(va)).toBe(model.delete(va));
          }
        }
        for (const va of universe) {
          const m = model.get(va);
          const a = va + offset;
          const r = walkStage1(mem, pt.root, a, { write: false });
          const w = walkStage1(mem, pt.root, a, { write: true });
          if (!m) {
            expect(pt.lookup(a)).toBeNull();
            expect(r).toMatchObject({ ok: false, fault: 'translation' });
            expect(w).toEqual(r);
          } else {
            expect(pt.lookup(a)).toEqual({ pa: m.pa + offset, write: m.write });
            expect(r).toEqual({ ok: true, pa: m.pa + offset, write: m.write, level: 3, descriptorsRead: 4 });
            expect(w).toEqual(m.write ? r : { ok: false, fault: 'permission', level: 3 });
          }
        }
        const before = mem.allocatedBytes();
        expect(before).toBe(pt.tablePages() * 4096);
        pt.destroy();
        expect(mem.allocatedBytes()).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('destroy', () => {
  it('frees every table page and refuses further use', () => {
    const mem = new PhysMemory();
    const keep = mem.alloc(4096 * 3, 'other');
    const base = mem.allocatedBytes();
    const pt = new PageTable(mem, 'pgtable:t');
    for (let i = 0; i < 64; i++) pt.map(i * 2 ** 33 + i * 4096, 0x1000 * (i + 1), { write: i % 2 === 0 });
    expect(pt.tablePages()).toBeGreaterThan(64);
    expect(mem.allocatedBytes()).toBe(base + pt.tablePages() * 4096);
    pt.destroy();
    expect(mem.allocatedBytes()).toBe(base);
    expect(pt.tablePages()).toBe(0);
    expect(mem.regionAt(keep.base)?.owner).toBe('other');
    expect(() => pt.map(0x1000, 0x1000, { write: true })).toThrow(/after destroy/);
    pt.destroy(); // idempotent
  });
});
