/**
 * Address spaces: VMAs, demand paging through the shared stage-1 table, CPU accesses whose bytes are the bytes an
 * SMMU walk of the same table reaches in PhysMemory, munmap and exit freeing everything.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src-main/sim/hw/address-space.js';
import { PhysMemory } from '../../src-main/sim/hw/memory.js';
import { walkStage1 } from '../../src-main/sim/hw/pagetable.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('mmap', () => {
  it('creates page-rounded VMAs, merges neighbours of the same protection, refuses overlaps and bad ranges', () => {
    const as = new AddressSpace(new PhysMemory(), 'p1');
    expect(as.mmap(0x40_0000, 0x1800, { write: true })).toEqual({ ok: true });
    expect(as.vmas()).toEqual([{ va: 0x40_0000, length: 0x2000, write: true }]);
    expect(as.mmap(0x40_1000, 0x1000, { write: false })).toMatchObject({ ok: false, why: expect.stringMatching(/EEXIST/) });
    expect(as.mmap(0x3f_f000, 0x2000, { write: true })).toMatchObject({ ok: false });
    expect(as.mmap(0x40_0800, 0x1000, { write: true })).toMatchObject({ ok: false, why: expect.stringMatching(/EINVAL/) });
    expect(as.mmap(0x50_0000, 0, { write: true })).toMatchObject({ ok: false });
    expect(as.mmap(2 ** 48 - 0x1000, 0x2000, { write: true })).toMatchObject({ ok: false, why: expect.stringMatching(/ENOMEM/) });
    expect(as.mmap(2 ** 48 - 0x1000, 0x1000, { write: false })).toEqual({ ok: true });
    expect(as.mmap(0x40_2000, 0x1000, { write: true })).toEqual({ ok: true }); // merges
    expect(as.mmap(0x3f_f000, 0x1000, { write: false })).toEqual({ ok: true }); // different prot: separate
    expect(as.vmas()).toEqual([
      { va: 0x3f_f000, length: 0x1000, write: false },
      { va: 0x40_0000, length: 0x3000, write: true },
      { va: 2 ** 48 - 0x1000, length: 0x1000, write: false },
    ]);
    expect(as.residentPages()).toBe(0);
    expect(as.pt.tablePages()).toBe(1); // nothing populated
  });
});

describe('demand paging', () => {
  it('cpuRead populates zeroed pages named after their owner; populate reports already/segv', () => {
    const mem = new PhysMemory();
    const as = new AddressSpace(mem, 'p1/mm0');
    as.mmap(0x40_0000, 0x4000, { write: false });
    expect(walkStage1(mem, as.pt.root, 0x40_1000, { write: false })).toMatchObject({ ok: false, fault: 'translation' });
    const r = as.cpuRead(0x40_1ff0, 0x20);
    expect(r).toEqual({ ok: true, bytes: new Uint8Array(0x20) });
    expect(as.residentPages()).toBe(2);
    const w = walkStage1(mem, as.pt.root, 0x40_1000, { write: false });
    expect(w).toMatchObject({ ok: true, write: false, level: 3 });
    if (!w.ok) throw new Error();
    expect(mem.regionAt(w.pa)).toMatchObject({ base: w.pa, size: 4096, owner: 'page:p1/mm0@0x401000' });
    expect(mem.regionAt(as.pt.root)?.owner).toBe('pgtable:p1/mm0');
    expect(as.populate(0x40_1234, false)).toBe('already');
    expect(as.populate(0x40_3000, false)).toBe('mapped');
    expect(as.populate(0x40_3000, true)).toBe('segv'); // read-only VMA
    expect(as.populate(0x40_4000, false)).toBe('segv'); // outside
    expect(as.residentPages()).toBe(3);
  });

  it('the bytes cpuWrite stores are the bytes in PhysMemory at the walked PA, across a page boundary', () => {
    const mem = new PhysMemory();
    const as = new AddressSpace(mem, 'p1');
    as.mmap(0x7f00_0000_0000, 0x3000, { write: true });
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 1) & 0xff);
    const va = 0x7f00_0000_0f80; // 128 bytes in page 0, 172 in page 1
    expect(as.cpuWrite(va, data)).toEqual({ ok: true });
    expect(as.residentPages()).toBe(2);
    const w0 = walkStage1(mem, as.pt.root, va, { write: true });
    const w1 = walkStage1(mem, as.pt.root, va + 128, { write: true });
    if (!w0.ok || !w1.ok) throw new Error('walk failed');
    expect(w1.pa).not.toBe(w0.pa + 128); // two distinct physical pages
    expect(mem.readBytes(w0.pa, 128)).toEqual(data.subarray(0, 128));
    expect(mem.readBytes(w1.pa, 172)).toEqual(data.subarray(128));
    expect(as.cpuRead(va, 300)).toEqual({ ok: true, bytes: data });
    // A "device" write at the walked PA is what the CPU reads back.
    mem.writeBytes(w1.pa + 10, bytes(0xde, 0xad));
    expect(as.cpuRead(va + 138, 2)).toEqual({ ok: true, bytes: bytes(0xde, 0xad) });
  });

  it('segv outside VMAs and on writes to read-only VMAs, at the first faulting byte', () => {
    const mem = new PhysMemory();
    const as = new AddressSpace(mem, 'p1');
    as.mmap(0x10_0000, 0x1000, { write: true });
    as.mmap(0x10_1000, 0x1000, { write: false });
    expect(as.cpuWrite(0x20_0000, bytes(1))).toEqual({ ok: false, fault: 'segv', va: 0x20_0000 });
    expect(as.cpuRead(0x0, 1)).toEqual({ ok: false, fault: 'segv', va: 0 });
    expect(as.cpuRead(2 ** 48, 1)).toEqual({ ok: false, fault: 'segv', va: 2 ** 48 });
    // Crossing from the writable VMA into the read-only one: the first part lands, the fault names 0x101000.
    expect(as.cpuWrite(0x10_0ffe, bytes(1, 2, 3, 4))).toEqual({ ok: false, fault: 'segv', va: 0x10_1000 });
    expect(as.cpuRead(0x10_0ffe, 2)).toEqual({ ok: true, bytes: bytes(1, 2) });
    expect(as.residentPages()).toBe(1); // the read-only page was not faulted in by the failed write
    expect(as.cpuRead(0x10_1000, 4)).toEqual({ ok: true, bytes: new Uint8Array(4) });
    expect(as.cpuWrite(0x10_0000, new Uint8Array(0))).toEqual({ ok: true });
  });

  it('two address spaces at the same VA reach different physical pages', () => {
    const mem = new PhysMemory();
    const a = new AddressSpace(mem, 'a');
    const b = new AddressSpace(mem, 'b');
    for (const s of [a, b]) s.mmap(0x40_0000, 0x1000, { write: true });
    a.cpuWrite(0x40_0000, bytes(0xaa));
    b.cpuWrite(0x40_0000, bytes(0xbb));
    const wa = walkStage1(mem, a.pt.root, 0x40_0000, { write: false });
    const wb = walkStage1(mem, b.pt.root, 0x40_0000, { write: false });
    if (!wa.ok || !wb.ok) throw new Error();
    expect(wa.pa).not.toBe(wb.pa);
    expect(mem.regionAt(wa.pa)?.owner).toBe('page:a@0x400000');
    expect(mem.regionAt(wb.pa)?.owner).toBe('page:b@0x400000');
    expect(mem.read8(wa.pa)).toBe(0xaa);
    expect(mem.read8(wb.pa)).toBe(0xbb);
  });

  it('cpuWrite/cpuRead agree with a flat byte model (fast-check)', () => {
    const SIZE = 5 * 4096;
    const access = fc.record({ off: fc.nat(SIZE - 1), data: fc.uint8Array({ minLength: 0, maxLength: 9000 }), read: fc.boolean() });
    fc.assert(
      fc.property(fc.array(access, { maxLength: 15 }), (accesses) => {
        const mem = new PhysMemory();
        const as = new AddressSpace(mem, 'm');
        const base = 0x5555_0000_0000;
        as.mmap(base, SIZE, { write: true });
        const model = new Uint8Array(SIZE);
        for (const { off, data, read } of accesses) {
          const n = Math.min(data.length, SIZE - off);
          if (read) {
            const r = as.cpuRead(base + off, n);
            expect(r.ok && Buffer.compare(r.bytes, model.subarray(off, off + n)) === 0).toBe(true);
          } else {
            expect(as.cpuWrite(base + off, data.subarray(0, n))).toEqual({ ok: true });
            model.set(data.subarray(0, n), off);
          }
        }
        const all = as.cpuRead(base, SIZE);
        expect(all.ok && Buffer.compare(all.bytes, model) === 0).toBe(true);
        as.destroy();
        expect(mem.allocatedBytes()).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});

describe('munmap and destroy', () => {
  it('munmap splits the VMA, clears the PTEs, frees the pages and counts them', () => {
    const mem = new PhysMemory();
    const as = new AddressSpace(mem, 'p1');
    as.mmap(0x40_0000, 0x8000, { write: true });
    for (const off of [0, 0x2000, 0x3000, 0x5000, 0x7000]) as.populate(0x40_0000 + off, true);
    const tables = as.pt.tablePages();
    const before = mem.allocatedBytes();
    const w = walkStage1(mem, as.pt.root, 0x40_3000, { write: false });
    if (!w.ok) throw new Error();
    expect(as.munmap(0x40_2000, 0x3001)).toBe(3); // 0x402000..0x406000: pages 2, 3, 5
    expect(mem.allocatedBytes()).toBe(before - 3 * 4096);
    expect(mem.regionAt(w.pa)).toBeUndefined();
    expect(as.vmas()).toEqual([
      { va: 0x40_0000, length: 0x2000, write: true },
      { va: 0x40_6000, length: 0x2000, write: true },
    ]);
    expect(walkStage1(mem, as.pt.root, 0x40_3000, { write: false })).toEqual({ ok: false, fault: 'translation', level: 3 });
    expect(as.pt.lookup(0x40_0000)).not.toBeNull();
    expect(as.pt.tablePages()).toBe(tables);
    expect(as.populate(0x40_3000, false)).toBe('segv');
    expect(as.munmap(0x40_2000, 0x1000)).toBe(0); // nothing there
    expect(as.munmap(0, 2 ** 48)).toBe(2); // everything, via the sparse path
    expect(as.vmas()).toEqual([]);
    expect(as.residentPages()).toBe(0);
    expect(() => as.munmap(0x40_0001, 0x1000)).toThrow(RangeError);
  });

  it('destroy frees every page and table (allocatedBytes returns to its value before)', () => {
    const mem = new PhysMemory();
    const other = mem.alloc(4096, 'strtab:smmu0');
    const base = mem.allocatedBytes();
    const as = new AddressSpace(mem, 'p1');
    as.mmap(0x1000, 0x10_0000, { write: true });
    as.mmap(0x7fff_f000_0000, 0x4000, { write: false });
    as.mmap(0x1_0000_0000, 0x1000, { write: true });
    as.cpuWrite(0x1000, new Uint8Array(0x3_0000).fill(5));
    as.cpuRead(0x7fff_f000_0000, 0x4000);
    as.cpuWrite(0x1_0000_0000, bytes(9));
    as.munmap(0x2000, 0x1000);
    expect(as.residentPages()).toBe(0x30 - 1 + 4 + 1);
    expect(mem.allocatedBytes()).toBe(base + (as.residentPages() + as.pt.tablePages()) * 4096);
    const root = as.pt.root;
    as.destroy();
    expect(mem.allocatedBytes()).toBe(base);
    expect(mem.regionAt(other.base)?.owner).toBe('strtab:smmu0');
    expect(as.residentPages()).toBe(0);
    expect(as.vmas()).toEqual([]);
    // A stale TTB0 (a CD left pointing at the freed pgd) now walks zeroes.
    expect(walkStage1(mem, root, 0x1000, { write: false })).toEqual({ ok: false, fault: 'translation', level: 0 });
    expect(() => as.mmap(0x1000, 0x1000, { write: true })).toThrow(/after destroy/);
    as.destroy();
  });
});
