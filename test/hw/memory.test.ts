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
    // Held in 64-byte blocks: r.base+0x40, r.base+PAGE_SIZE, far and far+0x100 are four blocks.
    expect(m.residentBytes()).toBe(4 * 64);
    m.free(r);
    expect(m.residentBytes()).toBe(2 * 64);
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

describe('PhysMemory blocks', () => {
  it('holds only the 64-byte blocks with a non-zero byte, and gives a block back when it is zero again', () => {
    const m = new PhysMemory();
    const r = m.alloc(16 * PAGE_SIZE, 'cd-l2');
    // One CD in each of three pages of a 64 KiB leaf: three blocks, not three pages.
    for (const ssid of [1, 100, 1000]) m.write64(r.base + ssid * 64, 0x1, ssid);
    expect(m.residentBytes()).toBe(3 * 64);
    expect([...m.readWords(r.base + 100 * 64, 2)]).toEqual([1, 100]);
    // Clearing a CD qword by qword: the block goes back only with its last non-zero byte.
    m.write64(r.base + 100 * 64, 0, 0x5);
    expect(m.residentBytes()).toBe(3 * 64);
    m.write64(r.base + 100 * 64, 0, 0);
    expect(m.residentBytes()).toBe(2 * 64);
    expect(m.read32(r.base + 100 * 64 + 4)).toBe(0);
    // A zero written where nothing is held takes no block.
    m.write32(r.base + 5 * PAGE_SIZE, 0);
    m.write8(r.base + 6 * PAGE_SIZE + 3, 0);
    m.writeBytes(r.base + 7 * PAGE_SIZE, new Uint8Array(300));
    expect(m.residentBytes()).toBe(2 * 64);
    // The freed block is reused, zeroed, by the next write anywhere.
    m.write32(r.base + 9 * PAGE_SIZE + 8, 0xabc);
    expect([...m.readWords(r.base + 9 * PAGE_SIZE, 4)]).toEqual([0, 0, 0xabc, 0]);
    expect(m.residentBytes()).toBe(3 * 64);
  });

  it('a page keeps its row while any of its blocks holds a byte, and gives it back with the last one', () => {
    const m = new PhysMemory();
    const r = m.alloc(PAGE_SIZE, 'cd-l2');
    m.write64(r.base + 64, 0x11, 0);
    m.write64(r.base + 128, 0x22, 0);
    m.write64(r.base + 3 * 64 + 8, 0x33, 0);
    expect(m.sparsePages()).toBe(1);
    m.write64(r.base + 128, 0, 0);
    expect([m.sparsePages(), m.read32(r.base + 64), m.read32(r.base + 3 * 64 + 8)]).toEqual([1, 0x11, 0x33]);
    m.write64(r.base + 64, 0, 0);
    expect([m.sparsePages(), m.read32(r.base + 3 * 64 + 8)]).toEqual([1, 0x33]);
    m.write64(r.base + 3 * 64 + 8, 0, 0);
    expect([m.sparsePages(), m.residentBytes()]).toEqual([0, 0]);
    // The row comes back for the next page that needs one, empty.
    m.write32(r.base + 7 * 64, 0x44);
    expect([m.sparsePages(), m.read32(r.base + 64), m.read32(r.base + 7 * 64)]).toEqual([1, 0, 0x44]);
  });

  it('reads and writes across block and page boundaries byte for byte; bulk data holds its pages whole', () => {
    const m = new PhysMemory();
    const r = m.alloc(2 * PAGE_SIZE, 'buf');
    const data = new Uint8Array(300).map((_, i) => (i * 7 + 1) & 0xff);
    const at = r.base + PAGE_SIZE - 150; // 150 bytes before the page boundary, not block-aligned
    m.writeBytes(at, data);
    expect(m.readBytes(at, 300)).toEqual(data);
    expect(m.readBytes(at - 10, 10)).toEqual(new Uint8Array(10));
    // An unaligned word across a block boundary, little-endian.
    m.write32(r.base + 62, 0x11223344);
    expect(m.read8(r.base + 62)).toBe(0x44);
    expect(m.read8(r.base + 65)).toBe(0x11);
    expect(m.read32(r.base + 62)).toBe(0x11223344);
    expect([...m.readWords(r.base + 60, 2)]).toEqual([0x33440000, 0x1122]);
    // Bulk data holds its pages whole (one copy per page), and zeros written there keep them.
    expect(m.residentBytes()).toBe(2 * PAGE_SIZE);
    m.writeBytes(at, new Uint8Array(300));
    expect(m.readBytes(at, 300)).toEqual(new Uint8Array(300));
    expect(m.read32(r.base + 62)).toBe(0x11223344);
    expect(m.residentBytes()).toBe(2 * PAGE_SIZE);
    // A word store into a sparse page, then bulk data into the same page: the page goes whole with both.
    const s = m.alloc(PAGE_SIZE, 'mixed');
    m.write32(s.base + 0x80, 0xfeed);
    m.writeBytes(s.base + 0x100, new Uint8Array([1, 2, 3]));
    expect(m.read32(s.base + 0x80)).toBe(0xfeed);
    expect([...m.readBytes(s.base + 0xff, 5)]).toEqual([0, 1, 2, 3, 0]);
    expect(m.residentBytes()).toBe(3 * PAGE_SIZE);
    m.free(s);
    expect(m.residentBytes()).toBe(2 * PAGE_SIZE);
  });

  it('freeing a region drops its blocks, and they read as zero when the pages are handed out again', () => {
    const m = new PhysMemory();
    const a = m.alloc(PAGE_SIZE, 'a');
    for (let o = 0; o < PAGE_SIZE; o += 64) m.write32(a.base + o, o + 1);
    expect(m.residentBytes()).toBe(PAGE_SIZE);
    m.free(a);
    expect(m.residentBytes()).toBe(0);
    const b = m.alloc(PAGE_SIZE, 'b');
    expect(b.base).toBe(a.base);
    for (let o = 0; o < PAGE_SIZE; o += 64) expect(m.read32(b.base + o)).toBe(0);
  });

  it('writeBlock stores a whole 64-byte block as write64 would, gives an all-zero block back, and refuses a misaligned one', () => {
    const viaBlock = new PhysMemory();
    const viaQwords = new PhysMemory();
    const a = viaBlock.alloc(PAGE_SIZE, 't');
    viaQwords.alloc(PAGE_SIZE, 't');
    const words = new Uint32Array([0x80000001, 0x12340000, 0, 0, 0xabc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7]);
    viaBlock.writeBlock(a.base + 0x40, words);
    for (let q = 0; q < 8; q++) viaQwords.write64(a.base + 0x40 + 8 * q, words[2 * q]!, words[2 * q + 1]!);
    expect([...viaBlock.readWords(a.base + 0x40, 16)]).toEqual([...words]);
    expect([...viaBlock.readWords(a.base, 64)]).toEqual([...viaQwords.readWords(a.base, 64)]);
    expect(viaBlock.residentBytes()).toBe(64);
    // Zeros into a block that reads as zero hold nothing; zeros over a held block give it (and the page's row) back.
    viaBlock.writeBlock(a.base + 0x80, new Uint32Array(16));
    expect(viaBlock.residentBytes()).toBe(64);
    viaBlock.writeBlock(a.base + 0x40, new Uint32Array(16));
    expect(viaBlock.residentBytes()).toBe(0);
    expect(viaBlock.sparsePages()).toBe(0);
    expect([...viaBlock.readWords(a.base + 0x40, 16)]).toEqual(new Array(16).fill(0));
    // A page held whole (bulk data) keeps its bytes in place.
    viaBlock.writeBytes(a.base + 0x200, new Uint8Array([9, 9]));
    viaBlock.writeBlock(a.base + 0x40, words);
    expect([...viaBlock.readWords(a.base + 0x40, 16)]).toEqual([...words]);
    expect(viaBlock.read8(a.base + 0x201)).toBe(9);
    expect(viaBlock.residentBytes()).toBe(PAGE_SIZE);
    expect(() => viaBlock.writeBlock(a.base + 0x48, words)).toThrow(/64-byte aligned/);
    expect(() => viaBlock.writeBlock(a.base + 0x40, new Uint32Array(8))).toThrow(/64-byte aligned/);
  });
});
