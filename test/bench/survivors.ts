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
import { parseArgs } from 'node:util';
import { POLICY_NAMES, type PolicyName } from '../../shared/steps.js';
import { mulberry32 } from './harness.js';
import { populate, runPairs } from './sva-bench.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

function positive(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--${name}: '${v}' is not a positive whole number`);
  return Number(v);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { policy: { type: 'string' }, processes: { type: 'string' }, pairs: { type: 'string' }, depth: { type: 'string' }, top: { type: 'string' } },
    strict: true,
  });
  const policy = (values.policy ?? 'mainline') as PolicyName;
  if (!(POLICY_NAMES as readonly string[]).includes(policy)) throw new Error(`--policy: '${policy}' is not one of ${POLICY_NAMES.join(', ')}`);
  const processes = positive(values.processes, 'processes', 10_000);
  const pairs = positive(values.pairs, 'pairs', 200_000);
  const depth = positive(values.depth, 'depth', 1);
  const top = positive(values.top, 'top', 20);

  const p = populate({ policy, check: false, trace: false, touched: false, processes, devices: 100 });
  const rnd = mulberry32(7);
  runPairs(p, rnd, 50_000); // warm-up: optimized code, settled allocation-site decisions
  const s = new Session();
  s.connect();
  await s.post('HeapProfiler.enable');
  await s.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
  runPairs(p, rnd, pairs);
  const { profile } = (await s.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
  s.disconnect();

  const bytes = new Map<string, number>();
  const walk = (n: ProfileNode, stack: string[]): void => {
    const f = n.callFrame;
    const here = [...stack, `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}`];
    if (n.selfSize) {
      const key = here.slice(-depth).reverse().join(' < ');
      bytes.set(key, (bytes.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, []);
  let total = 0;
  for (const b of bytes.values()) total += b;
  console.log(`${policy}, ${processes.toLocaleString('en')} processes, 100 devices: ${(total / pairs).toFixed(0)} bytes per pair outlived the young generation (${pairs.toLocaleString('en')} pairs, sampled)`);
  for (const [k, b] of [...bytes].sort((a, c) => c[1] - a[1]).slice(0, top)) console.log(`${(b / pairs).toFixed(1).padStart(8)} B/pair  ${k}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(2);
});
