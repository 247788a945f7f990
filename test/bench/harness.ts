/**
 * Small benchmark helpers: a seeded PRNG, high-resolution timing with warm-up and medians, heap measurement and
 * table formatting. Benchmarks print figures; they never assert.
 */

/** mulberry32: a tiny deterministic 32-bit PRNG. Returns a function giving uniform integers in [0, 2^32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform integer in [0, n) from a mulberry32 stream (n < 2^32; the modulo bias is irrelevant here). */
export function below(rnd: () => number, n: number): number {
  return rnd() % n;
}

/** Process CPU seconds (user + system, all threads) since `c0` (a process.cpuUsage() value). */
export function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

export function now(): bigint {
  return process.hrtime.bigint();
}

/** Seconds elapsed since `t0` (a process.hrtime.bigint() value). */
export function since(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export interface Sample {
  /** Operations in one repetition. */
  ops: number;
  /** Seconds the repetition took. */
  secs: number;
  /** Process CPU seconds (user + system) over the same timed region, when the repetition measured them. */
  cpuSecs?: number;
}

export interface Rate {
  /** Median operations per second over the repetitions. */
  opsPerSec: number;
  /** Median seconds per operation (1 / opsPerSec of the median repetition's rate). */
  secsPerOp: number;
  /** Every repetition's rate, in run order. */
  rates: number[];
  reps: number;
  /**
   * Median operations per process-CPU-second (NaN when the samples have no cpuSecs): unlike the wall-clock rate it
   * does not drop when other processes take the CPU (it counts GC helper threads, though).
   */
  cpuOpsPerSec: number;
}

/** Median rate of samples (warm-up samples must already be left out). */
export function rateOf(samples: Sample[]): Rate {
  const rates = samples.map((s) => s.ops / s.secs);
  const r = median(rates);
  const cpu = samples.every((s) => s.cpuSecs !== undefined && s.cpuSecs > 0) ? median(samples.map((s) => s.ops / s.cpuSecs!)) : NaN;
  return { opsPerSec: r, secsPerOp: 1 / r, rates, reps: samples.length, cpuOpsPerSec: cpu };
}

/**
 * Runs `rep` (which does its own setup outside its timed region and returns what it timed) `warmup` times unrecorded,
 * then `reps` times, and returns the median rate.
 */
export function measure(warmup: number, reps: number, rep: (i: number) => Sample): Rate {
  for (let i = 0; i < warmup; i++) rep(-1 - i);
  const out: Sample[] = [];
  for (let i = 0; i < reps; i++) {
    settle();
    out.push(rep(i));
  }
  return rateOf(out);
}

type GcFn = () => void;

/** global.gc when node runs with --expose-gc, else null. */
export function gcFn(): GcFn | null {
  const g = (globalThis as { gc?: unknown }).gc;
  return typeof g === 'function' ? (g as GcFn) : null;
}

/** A full collection before a timed repetition (when gc is exposed), so that each starts from a similar heap. */
export function settle(): void {
  gcFn()?.();
}

/** Heap in use after a full collection when gc is exposed; otherwise the current (noisier) figure. */
export function heapUsed(): number {
  const gc = gcFn();
  if (gc) gc();
  return process.memoryUsage().heapUsed;
}

export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k/s`;
  return `${n.toFixed(1)} /s`;
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (a >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

export function fmtUs(secs: number): string {
  return `${(secs * 1e6).toFixed(2)} µs`;
}

/** A plain text table: the first row is the header. Numbers should already be formatted. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows.slice(1)) out.push(line(r));
  return out.join('\n');
}

/** "ok" or a clearly visible miss marker. */
export function verdict(met: boolean | null): string {
  if (met === null) return '-';
  return met ? 'ok' : '** BELOW TARGET **';
}

let refSink = 0;
function refLoop(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + Math.imul(i, 7)) | 0;
  return s;
}

/**
 * The machine's speed right now, as ns per iteration of a fixed integer loop (the fastest of `reps` runs of 5 million
 * iterations, after one warm-up run). Not a figure of SVA Lab: it is printed beside the bind+unbind rows so that a
 * run in a slow phase of a shared VM can be told from a slower build. On the development VM it ranged from ~1.2 to
 * ~5.5 ns within minutes; the lab's figures move with it.
 */
export function referenceNsPerIter(reps = 5): number {
  const n = 5_000_000;
  refSink ^= refLoop(n);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    refSink ^= refLoop(n);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
}

/** Keeps the reference loops' results observable (so that they are not optimised away). */
export function referenceSink(): number {
  return refSink;
}

/** A random cyclic permutation over 32 MiB (Sattolo's algorithm), made once: the memory reference's chain. */
let chain: Int32Array | null = null;
function memChain(): Int32Array {
  if (chain) return chain;
  const n = 1 << 23;
  const c = new Int32Array(n);
  for (let i = 0; i < n; i++) c[i] = i;
  const rnd = mulberry32(0x5a77);
  for (let i = n - 1; i > 0; i--) {
    const j = rnd() % i;
    const t = c[i]!;
    c[i] = c[j]!;
    c[j] = t;
  }
  return (chain = c);
}

/**
 * The machine's memory latency right now: ns per load of a pointer chase through a random cycle over 32 MiB (the
 * fastest of `reps` runs of 100,000 dependent loads). Each load misses the caches and, on a VM, mostly the TLB too:
 * what a bind pays for each cold object it reaches. Like referenceNsPerIter, not a figure of SVA Lab; the two move
 * separately (neighbours' memory traffic slows this one, not the integer loop).
 */
export function referenceMemNsPerLoad(reps = 3): number {
  const c = memChain();
  const n = 100_000;
  let best = Infinity;
  let at = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) at = c[at]!;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  refSink ^= at;
  return best;
}

/** A bench tool's bad command line: the tools print its message with their usage and exit 2. */
export class UsageError extends Error {}

/** A whole-number option in [min, max], `dflt` when absent; a UsageError naming the option otherwise. */
export function intOption(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name}: '${v}' is not a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name}: ${n} is outside [${min}, ${max}]`);
  return n;
}
