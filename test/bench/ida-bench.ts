/**
 * Benchmarks of the ID allocators: the global PASID IDA (Ida(20)) and a group's pasid_array (PasidArray, xa_alloc
 * over [1, 0xFFFFFFFF]).
 */
import { Ida } from '../../src-main/sim/kernel/ida.js';
import type { IdBitmap } from '../../src-main/sim/kernel/idbitmap.js';
import { PasidArray, XA_ZERO_ENTRY } from '../../src-main/sim/kernel/structs.js';
import { cpuSince, heapUsed, measure, mulberry32, now, rateOf, since, type Rate, type Sample } from './harness.js';

const IDA_BITS = 20;
const IDA_MAX = (1 << IDA_BITS) - 1; // ids 1..2^20-1 (0 is IOMMU_NO_PASID, never handed out)

/** Keeps results observable so that no loop can be optimised away. */
export let sink = 0;

export interface IdaFillResult {
  /** alloc + free over the whole space, median of repetitions. */
  both: Rate;
  alloc: Rate;
  free: Rate;
  /** ids handed out by one fill (must be 2^20 - 1). */
  filled: number;
  memoryBytesFull: number;
  memoryBytesEmpty: number;
}

/** (a) allocRange(1, 2^20-1) until the space is exhausted, then free every id, on a fresh Ida each repetition. */
export function benchIdaFill(warmup: number, reps: number): IdaFillResult {
  const allocS: Sample[] = [];
  const freeS: Sample[] = [];
  const bothS: Sample[] = [];
  let filled = 0;
  let memFull = 0;
  let memEmpty = 0;
  measure(warmup, reps, (i) => {
    const ida = new Ida(IDA_BITS);
    memEmpty = ida.memoryBytes();
    let n = 0;
    let acc = 0;
    const c0 = process.cpuUsage();
    const t0 = now();
    for (;;) {
      const id = ida.allocRange(1, IDA_MAX);
      if (id < 0) break;
      acc += id;
      n++;
    }
    const ta = since(t0);
    const ca = cpuSince(c0);
    memFull = ida.memoryBytes();
    const c1 = process.cpuUsage();
    const t1 = now();
    for (let id = 1; id <= IDA_MAX; id++) if (ida.free(id)) acc++;
    const tf = since(t1);
    const cf = cpuSince(c1);
    sink ^= acc;
    filled = n;
    if (i >= 0) {
      allocS.push({ ops: n, secs: ta, cpuSecs: ca });
      freeS.push({ ops: IDA_MAX, secs: tf, cpuSecs: cf });
      bothS.push({ ops: n + IDA_MAX, secs: ta + tf, cpuSecs: ca + cf });
    }
    return { ops: n + IDA_MAX, secs: ta + tf };
  });
  return { both: rateOf(bothS), alloc: rateOf(allocS), free: rateOf(freeS), filled, memoryBytesFull: memFull, memoryBytesEmpty: memEmpty };
}

/**
 * How a steady state picks the live ids it frees. `list`: from a list of the live ids (a partial Fisher-Yates over
 * it). `probe`: ids drawn uniformly from [1, hi] until `has` says one is live, which is the same distribution (uniform
 * over the live ids) without a list. The IDA uses `probe`: its list of 1,048,575 live ids is a 4 MiB array read at
 * random, a cache miss per free that is the bench's own and, on the development VM, cost more than the free it
 * picked for (the 99.9% figure followed the machine's memory latency, 21 M/s in one phase, 8 M/s in another). The
 * probes read the bitmap word the free then changes; they are timed with it.
 */
type Pick = { kind: 'list' } | { kind: 'probe'; has: (id: number) => boolean; hi: number };

/**
 * Steady state: `live` ids allocated (lowest-first, as the kernel fills it), then repeated batches of `batch` frees of
 * distinct random live ids followed by `batch` lowest-free allocations. One op = one free or one alloc.
 */
function steady(
  alloc: () => number,
  free: (id: number) => boolean,
  live: number,
  batch: number,
  pairsPerRep: number,
  seed: number,
  warmup: number,
  reps: number,
  pick: Pick = { kind: 'list' },
): { rate: Rate; failed: number } {
  const ids = pick.kind === 'list' ? new Uint32Array(live) : null; // ids up to 2^32 - 1 (the xarray) fit
  for (let i = 0; i < live; i++) {
    const id = alloc();
    if (ids) ids[i] = id;
  }
  const rnd = mulberry32(seed);
  const r = new Uint32Array(pairsPerRep);
  let failed = 0;
  let x = seed | 1;
  /** Frees `m` distinct random live ids, the batch of a repetition that starts at pair `b`. */
  const freeBatch =
    pick.kind === 'probe'
      ? (_b: number, m: number): void => {
          for (let j = 0; j < m; j++) {
            let id: number;
            do {
              // xorshift32: how many draws a free takes is not known in advance, so they are made on the clock (a few ns).
              x ^= x << 13;
              x ^= x >>> 17;
              x ^= x << 5;
              id = 1 + ((x >>> 0) % pick.hi);
            } while (!pick.has(id));
            if (!free(id)) failed++;
          }
        }
      : (b: number, m: number): void => {
          // A partial Fisher-Yates that moves each freed id to the tail of `ids`.
          const list = ids!;
          for (let j = 0; j < m; j++) {
            const s = r[b + j]! % (live - j);
            const tail = live - 1 - j;
            const id = list[s]!;
            if (!free(id)) failed++;
            list[s] = list[tail]!;
            list[tail] = id;
          }
        };
  const rate = measure(warmup, reps, () => {
    if (ids) for (let i = 0; i < pairsPerRep; i++) r[i] = rnd();
    let acc = 0;
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let b = 0; b < pairsPerRep; b += batch) {
      const m = Math.min(batch, pairsPerRep - b);
      freeBatch(b, m);
      for (let j = 0; j < m; j++) {
        const id = alloc();
        if (id < 0) failed++;
        if (ids) ids[live - m + j] = id; // the tail the frees emptied
        acc += id;
      }
    }
    const secs = since(t0);
    const cpuSecs = cpuSince(c0);
    sink ^= acc;
    return { ops: 2 * pairsPerRep, secs, cpuSecs };
  });
  return { rate, failed };
}

export interface IdaSteadyResult {
  occupancy: number;
  live: number;
  batch: number;
  rate: Rate;
  failed: number;
  memoryBytes: number;
}

export function benchIdaSteady(occupancy: number, batch: number, pairsPerRep: number, seed: number, warmup: number, reps: number): IdaSteadyResult {
  const ida = new Ida(IDA_BITS);
  const live = Math.round(occupancy * IDA_MAX);
  const { rate, failed } = steady(
    () => ida.allocRange(1, IDA_MAX),
    (id) => ida.free(id),
    live,
    batch,
    pairsPerRep,
    seed,
    warmup,
    reps,
    { kind: 'probe', has: (id) => ida.has(id), hi: IDA_MAX },
  );
  return { occupancy, live, batch, rate, failed, memoryBytes: ida.memoryBytes() };
}

export interface XarrayResult {
  entries: number;
  fill: Rate;
  steady: Rate;
  steadyFailed: number;
  /** The occupancy bitmap's own estimate (IdBitmap.memoryBytes of the array's private `used` field). */
  bitmapBytes: number;
  /** Heap growth for `entries` entries (IndexMap + bitmap), after gc when exposed. */
  heapBytes: number;
  /** process.memoryUsage().arrayBuffers growth (the bitmap's dense levels live there). */
  arrayBufferBytes: number;
}

/** Reads the private occupancy bitmap of a PasidArray (TypeScript privacy only; the field exists at run time). */
function bitmapOf(pa: PasidArray): IdBitmap {
  return (pa as unknown as { used: IdBitmap }).used;
}

/** A group's pasid_array: xa_alloc over [1, 0xFFFFFFFF] with `entries` entries. */
export function benchXarray(entries: number, pairsPerRep: number, seed: number, warmup: number, reps: number): XarrayResult {
  const MAX = 0xffffffff;
  const fill = measure(warmup, reps, () => {
    const pa = new PasidArray();
    let acc = 0;
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < entries; i++) acc += pa.alloc(1, MAX, XA_ZERO_ENTRY);
    for (let id = 1; id <= entries; id++) if (pa.erase(id)) acc++;
    const secs = since(t0);
    const cpuSecs = cpuSince(c0);
    sink ^= acc;
    return { ops: 2 * entries, secs, cpuSecs };
  });

  const h0 = heapUsed();
  const ab0 = process.memoryUsage().arrayBuffers;
  const pa = new PasidArray();
  const { rate, failed } = steady(
    () => pa.alloc(1, MAX, XA_ZERO_ENTRY),
    (id) => pa.erase(id) !== undefined,
    entries,
    1000,
    pairsPerRep,
    seed,
    warmup,
    reps,
  );
  const h1 = heapUsed();
  const ab1 = process.memoryUsage().arrayBuffers;
  return {
    entries,
    fill,
    steady: rate,
    steadyFailed: failed,
    bitmapBytes: bitmapOf(pa).memoryBytes(),
    heapBytes: h1 - h0,
    arrayBufferBytes: ab1 - ab0,
  };
}
