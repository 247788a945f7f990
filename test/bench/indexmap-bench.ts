/**
 * Why the model's per-index tables are IndexMaps (src-main/sim/index-map.ts) and not Maps: one index that is set and
 * deleted over and over among `live` others (what lowest-free allocation does on every bind+unbind), and, for
 * comparison, indexes that change every time.
 */
import { IndexMap } from '../../src-main/sim/index-map.js';
import { measure, now, since, type Rate } from './harness.js';

interface Table {
  set(i: number, v: object): unknown;
  delete(i: number): boolean;
  get(i: number): object | undefined;
}

export type Churn = 'same' | 'changing';

/** set + get + delete of one index per operation, `ops` times, on a table holding indexes 1..live. */
function churn(t: Table, live: number, kind: Churn, ops: number): number {
  const v = {};
  let hits = 0;
  for (let n = 0; n < ops; n++) {
    const i = kind === 'same' ? live + 1 : live + 1 + ((n * 7919) % (4 * live));
    t.set(i, v);
    if (t.get(i) === v) hits++;
    t.delete(i);
  }
  return hits;
}

export function benchChurn(make: () => Table, live: number, kind: Churn, reps: number): Rate {
  // A Map of 10,000 with the same index churned takes ~35 µs per operation: keep each repetition near 50 ms.
  const ops = Math.max(1000, Math.min(200_000, Math.round(2_000_000 / live)));
  return measure(1, reps, () => {
    const t = make();
    for (let i = 1; i <= live; i++) t.set(i, { i });
    const t0 = now();
    const hits = churn(t, live, kind, ops);
    const secs = since(t0);
    if (hits !== ops) throw new Error(`churn: ${hits} of ${ops} lookups found their entry`);
    return { ops, secs };
  });
}

export const TABLES: [string, () => Table][] = [
  ['Map', () => new Map<number, object>()],
  ['IndexMap', () => new IndexMap<object>()],
];
