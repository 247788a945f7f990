/**
 * A/B of two builds' bind+unbind speed, in one process: each build gets two labs, populated in the order A B B A, and
 * repetitions of the same random pairs go round the four labs (A B B A, then A B B A reversed, ...), so that what the
 * machine does meanwhile (other tenants of a VM, frequency changes) falls on both alike, and so does where a lab sits
 * in the heap: with one lab each, the lab populated second came out up to ~10% slower on the development VM whichever
 * build it was. On a machine whose separate runs differ by 10-15%, this resolves changes of a few percent that a pair
 * of `npm run bench` runs cannot.
 *
 *   node dist/test/bench/ab.js <build A> <build B> [--policy mainline] [--reps 20] [--pairs 20000]
 *
 * A build is a directory holding a compiled tree (its `dist/`, or the `dist` directory itself), e.g. a worktree of the
 * commit before a change, built with `npx tsc` (its imports need a node_modules above it: a symlink to this one will
 * do). Run a build against itself first: the ratio it prints is the harness's own noise and bias (0.95-0.98 seen here
 * with the four labs), which a real difference must exceed; for a small one, run it both ways round.
 *
 * What it cannot see: a change in what the lab keeps alive or how V8 allocates it. The four labs share one heap, so
 * the garbage collector's work, whoever causes it, lands on whichever lab is stepping when a collection runs, and
 * both builds pay for each other's survivors. A build that kept no step records at all measured 0.94x here (ninth
 * session), while in separate processes it cut the scavenger's promoted bytes from 148 to 52 MB. For such a change compare
 * separate processes under `node --trace-gc-nvp` (the `promoted` and `pause` sums of the timed part), and many
 * alternating runs for the rate.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { POLICY_NAMES, type PolicyName } from '../../shared/steps.js';
import { intOption, median, mulberry32, below, now, since, UsageError } from './harness.js';
import type { Populated, Workload } from './sva-bench.js';

interface Build {
  populate: (w: Workload) => Populated;
  rates: number[];
}

/** One of the four labs: its build, and the lab. */
interface Slot {
  build: Build;
  p: Populated;
}

export { UsageError };

const USAGE = 'usage: node dist/test/bench/ab.js <build A> <build B> [--policy P] [--reps N] [--pairs N] [--processes N] [--devices N] [--check] [--touched]';

/** The compiled tree under `dir` (dir/dist, or dir itself), checked to hold what the A/B loads. */
function distOf(dir: string, label: string): string {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UsageError(`build ${label}: '${dir}' is not a directory`);
  for (const d of [join(root, 'dist'), root]) if (existsSync(join(d, 'test/bench/sva-bench.js'))) return d;
  throw new UsageError(`build ${label}: '${dir}' holds no compiled bench (test/bench/sva-bench.js, in it or in its dist/); build it with npx tsc`);
}

export interface AbOptions {
  policy: PolicyName;
  reps: number;
  pairs: number;
  processes: number;
  devices: number;
  /** Invariant checking on (the lab's default; off by default here, as in the bind+unbind target). */
  check: boolean;
  /** The Touched lists hosts build their diffs from (on in the app; off by default here). */
  touched: boolean;
}

export function parseAb(argv: string[]): { a: string; b: string; opts: AbOptions } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { policy: { type: 'string' }, reps: { type: 'string' }, pairs: { type: 'string' }, processes: { type: 'string' }, devices: { type: 'string' }, check: { type: 'boolean' }, touched: { type: 'boolean' } },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 2) throw new UsageError(`expected two builds, got ${positionals.length}`);
  const policy = v.policy ?? 'mainline';
  if (!(POLICY_NAMES as readonly string[]).includes(policy)) throw new UsageError(`--policy: '${policy}' is not one of ${POLICY_NAMES.join(', ')}`);
  return {
    a: positionals[0]!,
    b: positionals[1]!,
    opts: {
      policy: policy as PolicyName,
      reps: intOption(v.reps, 'reps', 20, 2, 1000),
      pairs: intOption(v.pairs, 'pairs', 20_000, 100, 10_000_000),
      processes: intOption(v.processes, 'processes', 10_000, 1, 1_000_000),
      devices: intOption(v.devices, 'devices', 100, 1, 4096),
      check: v.check ?? false,
      touched: v.touched ?? false,
    },
  };
}

/** One repetition on one lab: `n` pairs drawn from `pick` (indexes into the lab's own names), ops built on the clock as runPairs does. */
function rep(p: Populated, pick: Uint32Array): number {
  const n = pick.length / 2;
  const { lab, procs, devs } = p;
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const process = procs[pick[2 * i]!]!;
    const device = devs[pick[2 * i + 1]!]!;
    if (lab.apply({ op: 'bind', args: { process, device } }).result.ok) lab.apply({ op: 'unbind', args: { process, device } });
  }
  return n / since(t0);
}

export async function runAb(a: string, b: string, o: AbOptions): Promise<{ a: number[]; b: number[]; ratios: number[] }> {
  const builds: Build[] = [];
  for (const [label, dir] of [['A', a], ['B', b]] as const) {
    const dist = distOf(dir, label);
    const mod = (await import(pathToFileURL(join(dist, 'test/bench/sva-bench.js')).href)) as { populate: Build['populate'] };
    builds.push({ populate: mod.populate, rates: [] });
  }
  const w: Workload = { policy: o.policy, check: o.check, trace: false, touched: o.touched, processes: o.processes, devices: o.devices };
  const slots: Slot[] = [builds[0]!, builds[1]!, builds[1]!, builds[0]!].map((build) => ({ build, p: build.populate(w) }));
  const rnd = mulberry32(0xab);
  for (let r = -2; r < o.reps; r++) {
    const pick = new Uint32Array(2 * o.pairs);
    for (let i = 0; i < o.pairs; i++) {
      pick[2 * i] = below(rnd, o.processes);
      pick[2 * i + 1] = below(rnd, o.devices);
    }
    const sum = new Map<Build, number>(builds.map((b) => [b, 0]));
    for (const s of r & 1 ? [...slots].reverse() : slots) sum.set(s.build, sum.get(s.build)! + rep(s.p, pick));
    // The first two rounds warm all four up; a build's rate is the mean of its two labs'.
    if (r >= 0) for (const b of builds) b.rates.push(sum.get(b)! / 2);
  }
  const ratios = builds[1]!.rates.map((v, i) => v / builds[0]!.rates[i]!);
  return { a: builds[0]!.rates, b: builds[1]!.rates, ratios };
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseAb(process.argv.slice(2));
    distOf(args.a, 'A');
    distOf(args.b, 'B');
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`ab: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    throw e;
  }
  const { a, b, opts } = args;
  const r = await runAb(a, b, opts);
  const k = (x: number): string => `${(x / 1000).toFixed(1)}k`;
  const sorted = r.ratios.slice().sort((x, y) => x - y);
  const q = (f: number): number => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]!;
  console.log(`${opts.policy}, ${opts.processes} processes, ${opts.devices} devices, ${opts.reps} x ${opts.pairs} pairs each, checking ${opts.check ? 'on' : 'off'}, touched ${opts.touched ? 'on' : 'off'}`);
  console.log(`A ${a}: median ${k(median(r.a))} pairs/s`);
  console.log(`B ${b}: median ${k(median(r.b))} pairs/s`);
  console.log(`B/A per repetition: median ${median(r.ratios).toFixed(3)}, middle half ${q(0.25).toFixed(3)}-${q(0.75).toFixed(3)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
