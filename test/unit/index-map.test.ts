import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IdSet, IndexMap, WideIndexMap } from '../../src-main/sim/index-map.js';
import { cloneGraph } from '../../src-main/lab/checkpoint.js';

/** The IndexMap's contents, and a Map's, as sorted [index, value] lists. */
function sorted<V>(m: Map<number, V>): [number, V][] {
  return [...m].sort((a, b) => a[0] - b[0]);
}

/** The map operations both tables share with a Map. */
interface NumberKeyed<V> {
  readonly size: number;
  set(key: number, value: V): unknown;
  delete(key: number): boolean;
  get(key: number): V | undefined;
  has(key: number): boolean;
}

/**
 * Applies [set?, key, value] ops to `m` and to a Map alike (a delete when not a set), checking that they agree on the
 * delete's result, the size, get and has after each op. Returns the Map, for the caller's checks of the contents.
 */
function replayAgainstMap<V>(m: NumberKeyed<V>, ops: [boolean, number, V][]): Map<number, V> {
  const ref = new Map<number, V>();
  for (const [isSet, k, v] of ops) {
    if (isSet) {
      m.set(k, v);
      ref.set(k, v);
    } else {
      expect(m.delete(k)).toBe(ref.delete(k));
    }
    expect(m.size).toBe(ref.size);
    expect(m.get(k)).toBe(ref.get(k));
    expect(m.has(k)).toBe(ref.has(k));
  }
  return ref;
}

describe('IndexMap', () => {
  it('agrees with a Map over random sets and deletes, small and u32-wide indexes, and iterates in index order', () => {
    const index = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff }));
    const op = fc.tuple(fc.boolean(), index, fc.integer());
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const m = new IndexMap<number>();
        const ref = replayAgainstMap(m, ops);
        expect([...m]).toEqual(sorted(ref));
        expect([...m.keys()]).toEqual(sorted(ref).map((e) => e[0]));
        expect([...m.values()]).toEqual(sorted(ref).map((e) => e[1]));
        for (const [i, v] of ref) expect(m.get(i)).toBe(v);
      }),
      { numRuns: 300 },
    );
  });

  it('finds every entry after deleting from the middle of a run of colliding indexes that wraps (backward shift)', () => {
    // Indexes whose home slot in the 8-slot table is the last one (Fibonacci hashing: the top 3 bits of i * 0x9e3779b1),
    // so that their run wraps around to slots 0, 1, 2.
    const home = (i: number): number => Math.imul(i, 0x9e3779b1) >>> 29;
    const keys: number[] = [];
    for (let i = 0; keys.length < 4; i++) if (home(i) === 7) keys.push(i);
    const m = new IndexMap<string>();
    for (const k of keys) m.set(k, `v${k}`);
    expect(m.capacity).toBe(8);
    expect(m.delete(keys[1]!)).toBe(true);
    for (const k of [keys[0]!, keys[2]!, keys[3]!]) expect(m.get(k)).toBe(`v${k}`);
    expect(m.get(keys[1]!)).toBeUndefined();
    expect(m.delete(keys[0]!)).toBe(true);
    for (const k of [keys[2]!, keys[3]!]) expect(m.get(k)).toBe(`v${k}`);
    expect([...m.keys()]).toEqual([keys[2], keys[3]]);
  });

  it('leaves nothing behind when one index comes and goes: the table stays the size of what it holds', () => {
    const m = new IndexMap<number>();
    for (let i = 1; i <= 100; i++) m.set(i, i);
    const cap = m.capacity;
    for (let n = 0; n < 10_000; n++) {
      m.set(101, n);
      m.delete(101);
    }
    expect(m.capacity).toBe(cap);
    expect(m.size).toBe(100);
    expect(m.get(101)).toBeUndefined();
    expect([...m.keys()]).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('grows past half full and shrinks below an eighth', () => {
    const m = new IndexMap<number>();
    expect(m.capacity).toBe(8);
    for (let i = 0; i < 5; i++) m.set(i, i);
    expect(m.capacity).toBe(16);
    for (let i = 5; i < 1000; i++) m.set(i, i);
    expect(m.capacity).toBe(2048);
    for (let i = 0; i < 990; i++) m.delete(i);
    expect(m.capacity).toBeLessThanOrEqual(128);
    expect([...m.keys()]).toEqual(Array.from({ length: 10 }, (_, i) => 990 + i));
    m.clear();
    expect([m.size, m.capacity, m.get(995)]).toEqual([0, 8, undefined]);
  });

  it('refuses an index that is not a u32 and an undefined value; lookups of such an index find nothing', () => {
    const m = new IndexMap<number>();
    expect(() => m.set(-1, 1)).toThrow(/not a u32/);
    expect(() => m.set(1.5, 1)).toThrow(/not a u32/);
    expect(() => m.set(2 ** 32, 1)).toThrow(/not a u32/);
    expect(() => m.set(1, undefined as unknown as number)).toThrow(/undefined is not a value/);
    m.set(1, 7);
    expect([m.get(1.5), m.has(-1), m.delete(1.5), m.size]).toEqual([undefined, false, false, 1]);
  });

  it('is copied by a checkpoint as an independent table with the same contents', () => {
    const m = new IndexMap<{ n: number }>();
    for (let i = 0; i < 50; i++) m.set(i * 7, { n: i });
    const c = cloneGraph(m);
    expect(c).toBeInstanceOf(IndexMap);
    expect([...c].map(([i, v]) => [i, v.n])).toEqual([...m].map(([i, v]) => [i, v.n]));
    c.delete(7);
    c.get(14)!.n = -1;
    expect(m.get(7)?.n).toBe(1);
    expect(m.get(14)?.n).toBe(2);
  });
});

describe('WideIndexMap', () => {
  it('agrees with a Map over random sets and deletes of keys up to 2^53, and lists them in ascending order', () => {
    const key = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      // Keys sharing their high part, as one ASID's TLB pages do.
      fc.integer({ min: 0, max: 50 }).map((lo) => 7 * 2 ** 36 + lo),
    );
    const op = fc.tuple(fc.boolean(), key, fc.integer());
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const m = new WideIndexMap<number>();
        const ref = replayAgainstMap(m, ops);
        expect(m.keys()).toEqual(sorted(ref).map((e) => e[0]));
      }),
      { numRuns: 300 },
    );
  });

  it('deleteHigh drops exactly the keys with that high part; bad keys are refused or absent', () => {
    const m = new WideIndexMap<string>();
    const asidPage = (asid: number, page: number): number => asid * 2 ** 36 + page;
    for (const asid of [1, 2]) for (const page of [0, 5, 2 ** 32 + 3, 2 ** 36 - 1]) m.set(asidPage(asid, page), `${asid}:${page}`);
    expect(m.size).toBe(8);
    // ASID 1's pages are the high parts 16..31: what SmmuV3Hw's TLBI_NH_ASID deletes.
    let n = 0;
    for (let h = 16; h < 32; h++) n += m.deleteHigh(h);
    expect(n).toBe(4);
    expect(m.size).toBe(4);
    expect(m.keys().every((k) => Math.floor(k / 2 ** 36) === 2)).toBe(true);
    expect(m.get(asidPage(2, 2 ** 32 + 3))).toBe('2:4294967299');
    expect(() => m.set(-1, 'x')).toThrow(RangeError);
    expect(() => m.set(2 ** 53, 'x')).toThrow(RangeError);
    expect(() => m.set(1.5, 'x')).toThrow(RangeError);
    expect(m.get(-1)).toBeUndefined();
    expect(m.delete(0.5)).toBe(false);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.keys()).toEqual([]);
  });
});

describe('IdSet', () => {
  it('agrees with a Set of the same objects over random adds and deletes, and iterates in id order', () => {
    const objs = Array.from({ length: 30 }, (_, i) => ({ id: i * 7919 + (i % 3) * 0x10000000 }));
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: objs.length - 1 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const s = new IdSet<{ id: number }>();
        const ref = new Set<{ id: number }>();
        for (const [add, i] of ops) {
          const o = objs[i]!;
          if (add) {
            s.add(o);
            ref.add(o);
          } else expect(s.delete(o)).toBe(ref.delete(o));
          expect(s.size).toBe(ref.size);
          expect(s.has(o)).toBe(ref.has(o));
        }
        expect([...s]).toEqual([...ref].sort((a, b) => a.id - b.id));
      }),
      { numRuns: 200 },
    );
  });

  it('is about objects, not ids: another object with a member\'s id is not a member, and cannot be added', () => {
    const s = new IdSet<{ id: number }>();
    const a = { id: 5 };
    const twin = { id: 5 };
    s.add(a);
    expect(s.has(twin)).toBe(false);
    expect(s.delete(twin)).toBe(false);
    expect(() => s.add(twin)).toThrow(/id 5 is already taken/);
    expect([...s]).toEqual([a]);
    expect(s.add(a).size).toBe(1);
  });
});
