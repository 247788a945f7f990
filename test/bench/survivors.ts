/**
 * What outlives the young generation while a lab steps: the functions whose allocations the scavenger did not free,
 * in bytes per bind+unbind pair, from V8's sampling heap profiler.
 *
 *   node dist/test/bench/survivors.js [--policy P] [--processes N] [--pairs N] [--depth D] [--top N]
 *
 * In a steady bind+unbind nothing a pair allocates should outlive the pair, so every byte listed here is either kept
 * on purpose (a step log that grows) or a garbage-collector problem: objects that V8 pretenured (allocated straight in
 * the old generation because a burst of steps taught it that their allocation site's objects survive) and young
 * objects that such dead old objects keep alive through scavenges until a full collection. This is how the tenth
 * session found that CDs, pasid_array entries and accelerator contexts made as object literals cost the scavenger
 * ~80 MB of promotions per 500,000 pairs (docs/performance.md, "Pretenuring").
 *
 * The profiler samples allocations (one per `samplingInterval` bytes on average) and, with
 * includeObjectsCollectedByMinorGC off, forgets those a scavenge freed; with includeObjectsCollectedByMajorGC on it
 * keeps those that a full collection freed later. What is left is attributed to the allocating function (its
 * declaration line: the profiler does not give the allocation's own line) and, with --depth, its callers.
 */
import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { POLICY_NAMES, type PolicyName } from '../../shared/steps.js';
import { intOption, mulberry32, UsageError } from './harness.js';
import { populate, runPairs } from './sva-bench.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

export { UsageError };

export interface SurvivorOptions {
  policy: PolicyName;
  processes: number;
  pairs: number;
  /** Frames of each allocation stack to group by: the allocating function, then its callers. */
  depth: number;
  top: number;
}

export interface Survivors {
  /** Sampled bytes that outlived the young generation, per timed pair. */
  bytesPerPair: number;
  /** The largest groups, largest first: [stack, bytes per pair]. */
  rows: [string, number][];
}

export function parseSurvivors(argv: string[]): SurvivorOptions {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { policy: { type: 'string' }, processes: { type: 'string' }, pairs: { type: 'string' }, depth: { type: 'string' }, top: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const policy = values.policy ?? 'mainline';
  if (!(POLICY_NAMES as readonly string[]).includes(policy)) throw new UsageError(`--policy: '${policy}' is not one of ${POLICY_NAMES.join(', ')}`);
  return {
    policy: policy as PolicyName,
    processes: intOption(values.processes, 'processes', 10_000, 1, 1_000_000),
    pairs: intOption(values.pairs, 'pairs', 200_000, 1, 100_000_000),
    depth: intOption(values.depth, 'depth', 1, 1, 50),
    top: intOption(values.top, 'top', 20, 1, 1000),
  };
}

/** Populates a lab, warms it up, and samples what `o.pairs` random bind+unbind pairs leave beyond the young generation. */
export async function survivors(o: SurvivorOptions): Promise<Survivors> {
  const p = populate({ policy: o.policy, check: false, trace: false, touched: false, processes: o.processes, devices: 100 });
  const rnd = mulberry32(7);
  runPairs(p, rnd, Math.min(50_000, o.pairs)); // warm-up: optimized code, settled allocation-site decisions
  const s = new Session();
  s.connect();
  try {
    await s.post('HeapProfiler.enable');
    await s.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
    runPairs(p, rnd, o.pairs);
    const { profile } = (await s.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
    const bytes = new Map<string, number>();
    const walk = (n: ProfileNode, stack: string[]): void => {
      const f = n.callFrame;
      const here = [...stack, `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}`];
      if (n.selfSize) {
        const key = here.slice(-o.depth).reverse().join(' < ');
        bytes.set(key, (bytes.get(key) ?? 0) + n.selfSize);
      }
      for (const c of n.children) walk(c, here);
    };
    walk(profile.head, []);
    let total = 0;
    for (const b of bytes.values()) total += b;
    const rows = [...bytes].sort((a, c) => c[1] - a[1]).slice(0, o.top).map(([k, b]): [string, number] => [k, b / o.pairs]);
    return { bytesPerPair: total / o.pairs, rows };
  } finally {
    s.disconnect();
  }
}

async function main(): Promise<void> {
  let o: SurvivorOptions;
  try {
    o = parseSurvivors(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\nusage: node dist/test/bench/survivors.js [--policy P] [--processes N] [--pairs N] [--depth D] [--top N]`);
    process.exit(2);
  }
  const r = await survivors(o);
  console.log(`${o.policy}, ${o.processes.toLocaleString('en')} processes, 100 devices: ${r.bytesPerPair.toFixed(0)} bytes per pair outlived the young generation (${o.pairs.toLocaleString('en')} pairs, sampled)`);
  for (const [k, b] of r.rows) console.log(`${b.toFixed(1).padStart(8)} B/pair  ${k}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
