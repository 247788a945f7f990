/**
 * PhysMemory: pages near the allocator's frames and pages far above them (a bypass DMA to an arbitrary address) read
 * and write alike; residency counts both; freeing drops the bytes.
 */
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, PhysMemory } from '../../src-main/sim/hw/memory.js';

describe('PhysMemory pages', () => {
  it('reads back words, qwords and bytes written below and far above 4 GiB, and counts the pages resident', () => {
    const m = new PhysMemory();
    const r = m.alloc(2 * PAGE_SIZE, 'test');
    const far = 2 ** 44 + 0x1230; // pfn 2^32 + 1: past the dense frames
    expect(m.residentBytes()).toBe(0);
    m.writeWords(r.base + 0x40, new Uint32Array([1, 2, 3, 4]));
    m.write64(r.base + PAGE_SIZE + 8, 0xdeadbeef, 0x12345678);
    m.write64(far, 5, 6);
    m.write8(far + 0x100, 0xab);
    expect([...m.readWords(r.base + 0x40, 4)]).toEqual([1, 2, 3, 4]);
    expect([...m.readWords(r.base + PAGE_SIZE + 8, 2)]).toEqual([0xdeadbeef, 0x12345678]);
    expect([...m.readWords(far, 2)]).toEqual([5, 6]);
    expect(m.read8(far + 0x100)).toBe(0xab);
    expect(m.read32(far + 0x104)).toBe(0);
    expect(m.residentBytes()).toBe(3 * PAGE_SIZE);
    m.free(r);
    expect(m.residentBytes()).toBe(PAGE_SIZE);
    expect([...m.readWords(r.base + 0x40, 4)]).toEqual([0, 0, 0, 0]);
  });

  it('refuses a 64-bit store that is not 8-byte aligned', () => {
    const m = new PhysMemory();
    expect(() => m.write64(0x100004, 1, 2)).toThrow(/not 8-byte aligned/);
  });

  it('a fresh allocation reads as zero even where an earlier one wrote', () => {
    const m = new PhysMemory();
    const a = m.alloc(PAGE_SIZE, 'a');
    m.write32(a.base, 7);
    m.free(a);
    const b = m.alloc(PAGE_SIZE, 'b');
    expect(b.base).toBe(a.base); // the freed page is reused
    expect(m.read32(b.base)).toBe(0);
  });
});
