/**
 * Top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`).
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/test/bench/run.js sva
 *   node dist/test/bench/cpuprofile-top.js /tmp/prof/CPU.*.cpuprofile [count]
 *
 * Self time of a function = the sampled time spent in its own code (not in its callees), summed over every call
 * site. Percentages are of the whole profile, (idle) and (garbage collector) included.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  micros: number;
  share: number;
}

export function topSelf(profile: Profile, count: number): { total: number; rows: SelfTime[] } {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfById = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length) {
    // timeDeltas[i] is the time between sample i-1 and sample i; charge the interval to the sample that ends it.
    for (let i = 0; i < samples.length; i++) selfById.set(samples[i]!, (selfById.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  } else {
    const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0));
    for (const n of profile.nodes) selfById.set(n.id, (n.hitCount ?? 0) * interval);
  }
  const byFn = new Map<string, SelfTime>();
  let total = 0;
  for (const [id, us] of selfById) {
    const cf = byId.get(id)!.callFrame;
    const fn = cf.functionName || '(anonymous)';
    const where = cf.url ? `${basename(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const e = byFn.get(key) ?? { fn, where, micros: 0, share: 0 };
    e.micros += us;
    byFn.set(key, e);
    total += us;
  }
  const rows = [...byFn.values()].sort((a, b) => b.micros - a.micros).slice(0, count);
  for (const r of rows) r.share = total > 0 ? r.micros / total : 0;
  return { total, rows };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]));
if (isMain) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/test/bench/cpuprofile-top.js <file.cpuprofile> [count]');
    process.exit(2);
  }
  const count = Number(process.argv[3] ?? 10);
  const { total, rows } = topSelf(JSON.parse(readFileSync(file, 'utf8')) as Profile, count);
  console.log(`${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled; top ${rows.length} by self time`);
  for (const r of rows) console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${(r.micros / 1e3).toFixed(0).padStart(7)} ms  ${r.fn}  ${r.where}`);
}
