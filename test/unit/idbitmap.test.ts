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

  it('agrees with a naive model in a sparse 32-bit space, at both ends and across full words', () => {
    // Ids in two windows, [0, W) and [2^32 - W, 2^32): the Map-backed levels, words filling up completely (the
    // search climbs past them) and the very top of the space.
    const W = 2048;
    const TOP = 2 ** 32;
    let seed = 777;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const b = new IdBitmap(32);
    const naive = new Set<number>();
    const pick = (): number => (rnd(2) ? rnd(W) : TOP - W + rnd(W));
    const firstClear = (lo: number, hi: number): number => {
      for (let x = lo; x <= hi; x++) {
        if (!naive.has(x)) return x;
        if (x === W - 1 && hi >= W) return W <= hi ? W : -1; // everything between the windows is clear
      }
      return -1;
    };
    for (let i = 0; i < 30_000; i++) {
      const id = pick();
      if (rnd(4) === 0) expect(b.clear(id)).toBe(naive.delete(id));
      else {
        expect(b.set(id)).toBe(!naive.has(id));
        naive.add(id);
      }
      const lo = pick();
      const hi = rnd(3) === 0 ? TOP - 1 : lo + rnd(Math.min(W, TOP - lo));
      expect(b.findFirstClear(lo, hi), `findFirstClear(${lo}, ${hi}) after ${i} ops`).toBe(firstClear(lo, hi));
    }
    expect(b.size).toBe(naive.size);
  });
});
