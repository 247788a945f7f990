import { describe, expect, it } from 'vitest';
import { IdBitmap } from '../../src-main/sim/kernel/idbitmap.js';

describe('IdBitmap', () => {
  it('hands out the lowest clear id in a range and skips used ones', () => {
    const b = new IdBitmap(20);
    expect(b.findFirstClear(1, 15)).toBe(1);
    b.set(1);
    b.set(2);
    b.set(4);
    expect(b.findFirstClear(1, 15)).toBe(3);
    expect(b.findFirstClear(4, 15)).toBe(5);
    b.clear(2);
    expect(b.findFirstClear(1, 15)).toBe(2);
    expect(b.size).toBe(2);
  });

  it('fills a 2^20 space completely, then frees one id in the middle', () => {
    const b = new IdBitmap(20);
    let wrong = 0;
    for (let i = 0; i < 1 << 20; i++) {
      if (b.findFirstClear(0, (1 << 20) - 1) !== i) wrong++;
      b.set(i);
    }
    expect(wrong).toBe(0);
    expect(b.findFirstClear(0, (1 << 20) - 1)).toBe(-1);
    b.clear(777_777);
    expect(b.findFirstClear(1, (1 << 20) - 1)).toBe(777_777);
    expect(b.findFirstClear(777_778, (1 << 20) - 1)).toBe(-1);
  }, 120_000);

  it('keeps a 32-bit space sparse and answers past a full prefix', () => {
    const b = new IdBitmap(32);
    for (let i = 1; i <= 5000; i++) b.set(i);
    expect(b.findFirstClear(1, 0xffffffff)).toBe(5001);
    b.set(0xfffffffe);
    expect(b.findFirstClear(0xfffffffe, 0xffffffff)).toBe(0xffffffff);
    expect(b.memoryBytes()).toBeLessThan(64 * 1024);
  });

  it('returns -1 for an empty or exhausted range and refuses ids outside the space', () => {
    const b = new IdBitmap(2);
    expect(b.findFirstClear(1, 0)).toBe(-1);
    b.set(1);
    b.set(2);
    b.set(3);
    expect(b.findFirstClear(1, 3)).toBe(-1);
    expect(b.findFirstClear(0, 3)).toBe(0);
    expect(() => b.set(4)).toThrow(RangeError);
    expect(b.set(1)).toBe(false);
    expect(b.clear(0)).toBe(false);
  });

  it('agrees with a naive model on random operations', () => {
    let seed = 12345;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const b = new IdBitmap(12);
    const naive = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      const id = rnd(4096);
      if (rnd(3) === 0) {
        expect(b.clear(id)).toBe(naive.delete(id));
      } else {
        expect(b.set(id)).toBe(!naive.has(id));
        naive.add(id);
      }
      const lo = rnd(4096);
      const hi = lo + rnd(4096 - lo);
      let want = -1;
      for (let x = lo; x <= hi; x++) if (!naive.has(x)) { want = x; break; }
      expect(b.findFirstClear(lo, hi)).toBe(want);
    }
    expect([...b.ids()]).toEqual([...naive].sort((a, c) => a - c));
  });
});
