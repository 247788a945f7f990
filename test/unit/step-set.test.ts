/**
 * The dirty sets of a step (sim/kernel/trace.ts StepSet, StepIndex): they must behave as the Set and Map of Sets they
 * replaced, in insertion order, across the switch to an indexed lookup past 16 elements and across clears.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StepIndex, StepSet, Dirty } from '../../src-main/sim/kernel/trace.js';

describe('StepSet', () => {
  it('agrees with a Set (contents, order, size, has) over random adds and clears, small and large', () => {
    const op = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 60 }) }, { weight: 1, arbitrary: fc.constant('clear' as const) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const s = new StepSet<number>();
        const ref = new Set<number>();
        for (const o of ops) {
          if (o === 'clear') {
            s.clear();
            ref.clear();
          } else {
            expect(s.add(o)).toBe(s);
            ref.add(o);
          }
          expect(s.size).toBe(ref.size);
          expect([...s]).toEqual([...ref]);
        }
        for (let x = 0; x <= 60; x++) expect(s.has(x)).toBe(ref.has(x));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps objects by identity, as a Set does', () => {
    const a = { n: 1 };
    const b = { n: 1 };
    const s = new StepSet<object>().add(a).add(b).add(a);
    expect([...s]).toEqual([a, b]);
    expect(s.has({ n: 1 })).toBe(false);
  });
});

describe('StepIndex', () => {
  it('agrees with a Map of Sets over random marks and clears, keys in first-marked order', () => {
    const op = fc.oneof({ weight: 12, arbitrary: fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 9 })) }, { weight: 1, arbitrary: fc.constant('clear' as const) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const keys = Array.from({ length: 31 }, (_, i) => ({ key: i }));
        const ix = new StepIndex<{ key: number }>();
        const ref = new Map<{ key: number }, Set<number>>();
        for (const o of ops) {
          if (o === 'clear') {
            ix.clear();
            ref.clear();
            continue;
          }
          const k = keys[o[0]]!;
          ix.add(k, o[1]);
          let s = ref.get(k);
          if (!s) ref.set(k, (s = new Set()));
          s.add(o[1]);
          expect(ix.size).toBe(ref.size);
        }
        expect([...ix].map(([k, s]) => [k, [...s]])).toEqual([...ref].map(([k, s]) => [k, [...s]]));
        for (const k of keys) expect(ix.get(k) && [...ix.get(k)!]).toEqual(ref.get(k) && [...ref.get(k)!]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Dirty', () => {
  it('marks nothing once disabled, and a clear empties every set and index', () => {
    const d = new Dirty<string, string, string, string, string, string>();
    d.groups.add('g');
    d.slot('g', 3);
    d.cd('m', 5);
    d.pasids.add(3);
    d.clear();
    expect([d.groups.size, d.slots.size, d.cds.size, d.pasids.size]).toEqual([0, 0, 0, 0]);
    d.slot('g', 4);
    expect([...d.slots].map(([g, s]) => [g, [...s]])).toEqual([['g', [4]]]);
    d.disable();
    d.groups.add('g');
    d.processes.add('p');
    d.slot('h', 1);
    expect([d.groups.size, d.processes.size, d.slots.size]).toEqual([0, 0, 0]);
  });
});
