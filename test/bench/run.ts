/**
 * SVA Lab benchmarks. Prints figures; asserts nothing.
 *
 *   npm run bench                                   # build, then run everything (about 1-2 minutes on 2 cores)
 *   node --expose-gc dist/test/bench/run.js         # same, with exact heap figures (global.gc before each reading)
 *   node dist/test/bench/run.js sva trace           # only some sections: ida xarray sva scale trace
 *
 * Without --expose-gc the heap figures are process.memoryUsage() readings taken without a forced collection, so they
 * include garbage not yet collected (marked "~" in the tables). The allocators' own memoryBytes() figures are exact
 * either way.
 *
 * Output: readable tables, then a one-line summary of the targets, then one line `BENCH_JSON {...}` with every figure.
 *
 * Profiling: node --cpu-prof --cpu-prof-dir=/tmp/prof dist/test/bench/run.js sva
 *            node dist/test/bench/cpuprofile-top.js /tmp/prof/<file>.cpuprofile 10
 */
import { benchIdaFill, benchIdaSteady, benchXarray, sink } from './ida-bench.js';
import { fmtBytes, fmtInt, fmtRate, gcFn, now, since, table, verdict } from './harness.js';
import { populate, timePairs, type PairResult } from './sva-bench.js';
import { POLICY_NAMES, type PolicyName } from '../../shared/steps.js';

const SEED = 0x5eed5a1;
const REPS = 5;

const TARGET_IDA_OPS = 10_000_000;
const TARGET_PAIRS = 200_000;
/** "Checking cost proportional to the change": per-pair cost at 50,000 bonds over 1,000 bonds must stay under this. */
const TARGET_SCALE_RATIO = 1.5;

const SECTIONS = ['ida', 'xarray', 'sva', 'scale', 'trace'] as const;
type Section = (typeof SECTIONS)[number];

const argv = process.argv.slice(2);
const unknown = argv.filter((a) => !(SECTIONS as readonly string[]).includes(a));
if (unknown.length) {
  console.error(`unknown section(s): ${unknown.join(', ')}; known: ${SECTIONS.join(' ')}`);
  process.exit(2);
}
const want = (s: Section): boolean => argv.length === 0 || argv.includes(s);

const exactHeap = gcFn() !== null;
const approx = exactHeap ? '' : '~';
const tStart = now();

interface Target {
  figure: string;
  value: number;
  unit: string;
  target: string;
  met: boolean;
}
const targets: Target[] = [];
const json: Record<string, unknown> = {
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  gcExposed: exactHeap,
  seed: SEED,
  reps: REPS,
};

function heading(s: string): void {
  console.log(`\n=== ${s} ${'='.repeat(Math.max(0, 100 - s.length))}`);
}

function round(n: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

console.log(`SVA Lab benchmarks — node ${process.version}, ${process.platform}/${process.arch}, median of ${REPS} repetitions after warm-up`);
if (!exactHeap) console.log('note: global.gc is not exposed; heap figures are approximate (~). Run `node --expose-gc dist/test/bench/run.js` for exact ones.');

// ---------------------------------------------------------------------------------------------------------------
// 1. Global IDA and the group xarray
// ---------------------------------------------------------------------------------------------------------------
if (want('ida')) {
  heading('1. Global PASID IDA: Ida(20), ids 1..2^20-1 (target >= 10 M ops/s)');
  const fill = benchIdaFill(1, REPS);
  const s50 = benchIdaSteady(0.5, 256, 500_000, SEED ^ 0x50, 1, REPS);
  const s999 = benchIdaSteady(0.999, 256, 500_000, SEED ^ 0x999, 1, REPS);
  const rows = [
    ['workload', 'ops/s', 'ns/op', 'target', 'memoryBytes()'],
    [`(a) fill 1..2^20-1 (${fmtInt(fill.filled)} allocs) + free all`, fmtRate(fill.both.opsPerSec), (1e9 / fill.both.opsPerSec).toFixed(1), verdict(fill.both.opsPerSec >= TARGET_IDA_OPS), `${fmtBytes(fill.memoryBytesFull)} full`],
    ['    of which allocRange(1, 2^20-1)', fmtRate(fill.alloc.opsPerSec), (1e9 / fill.alloc.opsPerSec).toFixed(1), '', ''],
    ['    of which free', fmtRate(fill.free.opsPerSec), (1e9 / fill.free.opsPerSec).toFixed(1), '', `${fmtBytes(fill.memoryBytesEmpty)} empty`],
    ...[s50, s999].map((s) => [
      `(b) steady ${s.occupancy * 100}% (${fmtInt(s.live)} live; ${s.batch} random frees, ${s.batch} lowest allocs)`,
      fmtRate(s.rate.opsPerSec),
      (1e9 / s.rate.opsPerSec).toFixed(1),
      verdict(s.rate.opsPerSec >= TARGET_IDA_OPS),
      fmtBytes(s.memoryBytes),
    ]),
  ];
  console.log(table(rows));
  if (fill.filled !== (1 << 20) - 1 || s50.failed || s999.failed) console.log(`WARNING: fill gave ${fill.filled} ids; steady failures ${s50.failed}/${s999.failed}`);
  targets.push({ figure: 'IDA fill+free all', value: fill.both.opsPerSec, unit: 'ops/s', target: '>= 10M', met: fill.both.opsPerSec >= TARGET_IDA_OPS });
  targets.push({ figure: 'IDA steady 50%', value: s50.rate.opsPerSec, unit: 'ops/s', target: '>= 10M', met: s50.rate.opsPerSec >= TARGET_IDA_OPS });
  targets.push({ figure: 'IDA steady 99.9%', value: s999.rate.opsPerSec, unit: 'ops/s', target: '>= 10M', met: s999.rate.opsPerSec >= TARGET_IDA_OPS });
  json.ida = {
    fill: { opsPerSec: round(fill.both.opsPerSec), allocOpsPerSec: round(fill.alloc.opsPerSec), freeOpsPerSec: round(fill.free.opsPerSec), filled: fill.filled, memoryBytesFull: fill.memoryBytesFull, memoryBytesEmpty: fill.memoryBytesEmpty, rates: fill.both.rates.map((r) => round(r)) },
    steady50: { opsPerSec: round(s50.rate.opsPerSec), live: s50.live, batch: s50.batch, memoryBytes: s50.memoryBytes, rates: s50.rate.rates.map((r) => round(r)) },
    steady999: { opsPerSec: round(s999.rate.opsPerSec), live: s999.live, batch: s999.batch, memoryBytes: s999.memoryBytes, rates: s999.rate.rates.map((r) => round(r)) },
  };
}

if (want('xarray')) {
  heading('1b. Group pasid_array: PasidArray.alloc over [1, 0xFFFFFFFF], 100,000 entries (no stated target)');
  const x = benchXarray(100_000, 500_000, SEED ^ 0xa11c, 1, REPS);
  console.log(
    table([
      ['workload', 'ops/s', 'ns/op', 'memory'],
      [`fill ${fmtInt(x.entries)} (xa_alloc lowest) + erase all`, fmtRate(x.fill.opsPerSec), (1e9 / x.fill.opsPerSec).toFixed(1), ''],
      [`steady ${fmtInt(x.entries)} (1000 random erases, 1000 allocs)`, fmtRate(x.steady.opsPerSec), (1e9 / x.steady.opsPerSec).toFixed(1), ''],
      ['occupancy bitmap memoryBytes()', '', '', fmtBytes(x.bitmapBytes)],
      ['heap growth, whole array (Map + bitmap)', '', '', `${approx}${fmtBytes(x.heapBytes)} (${approx}${(x.heapBytes / x.entries).toFixed(1)} B/entry)`],
    ]),
  );
  if (x.steadyFailed) console.log(`WARNING: ${x.steadyFailed} failed xarray operations`);
  json.xarray = { entries: x.entries, fillOpsPerSec: round(x.fill.opsPerSec), steadyOpsPerSec: round(x.steady.opsPerSec), bitmapMemoryBytes: x.bitmapBytes, heapBytes: x.heapBytes, heapBytesExact: exactHeap, arrayBufferBytes: x.arrayBufferBytes };
}

// ---------------------------------------------------------------------------------------------------------------
// 2. bind + unbind pairs per policy x checking
// ---------------------------------------------------------------------------------------------------------------
const PROCS = 10_000;
const DEVS = 100;
const pairOpts = { warmupPairs: 3000, reps: REPS, targetSecs: 0.25, minPairs: 2000, maxPairs: 200_000 };

function pairRow(label: string, r: PairResult, target: boolean | null): string[] {
  return [label, fmtRate(r.pairsPerSec), r.usPerPair.toFixed(2), `${(r.bindOkFraction * 100).toFixed(1)}%`, fmtInt(r.pairsPerRep), verdict(target)];
}

function pairJson(r: PairResult): Record<string, unknown> {
  return {
    pairsPerSec: round(r.pairsPerSec),
    usPerPair: round(r.usPerPair, 3),
    bindOkFraction: round(r.bindOkFraction, 4),
    pairsPerRep: r.pairsPerRep,
    rates: r.rates.map((x) => round(x)),
    traceRecordsPerPair: round(r.traceRecordsPerPair, 2),
    heapBytesPerPair: round(r.heapBytesPerPair, 1),
    findings: r.findings,
  };
}

if (want('sva')) {
  heading(`2. SVA bind+unbind pairs: ${fmtInt(PROCS)} processes, ${DEVS} devices, 1 SMMU, trace off (target >= 200k pairs/s, checking off)`);
  console.log('Setup: process i bound to dev(i mod 100); then random (p, d): bind, and unbind if the bind succeeded. driver-pasid: odd devices have driver_pasid.');
  const rows = [['policy / checking', 'pairs/s', 'µs/pair', 'bind ok', 'pairs/rep', 'target']];
  const setupRows = [['policy / checking', 'populate binds ok', 'populate time', 'live bonds', 'lab heap']];
  const out: Record<string, unknown> = {};
  for (const policy of POLICY_NAMES) {
    const per: Record<string, unknown> = {};
    for (const check of [false, true]) {
      const p = populate({ policy, check, trace: false, processes: PROCS, devices: DEVS });
      const r = timePairs(p, SEED ^ policy.length, pairOpts);
      const label = `${policy} / check ${check ? 'on' : 'off'}`;
      const met = check ? null : r.pairsPerSec >= TARGET_PAIRS;
      rows.push(pairRow(label, r, met));
      setupRows.push([label, `${fmtInt(p.bindOk)}/${fmtInt(PROCS)}`, `${p.secs.toFixed(2)} s`, fmtInt(p.liveBonds), `${approx}${fmtBytes(p.heapBytes)}`]);
      if (!check) targets.push({ figure: `bind+unbind ${policy} check off`, value: r.pairsPerSec, unit: 'pairs/s', target: '>= 200k', met: r.pairsPerSec >= TARGET_PAIRS });
      if (r.findings) console.log(`  note: ${label}: ${r.findings} invariant finding(s) during the timed pairs`);
      per[check ? 'checkOn' : 'checkOff'] = { ...pairJson(r), populate: { bindOk: p.bindOk, secs: round(p.secs, 3), liveBonds: p.liveBonds, heapBytes: p.heapBytes } };
    }
    out[policy] = per;
  }
  console.log(table(rows));
  console.log('\nPopulated state (before timing):');
  console.log(table(setupRows));
  json.sva = { processes: PROCS, devices: DEVS, results: out };
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Checking cost against state size
// ---------------------------------------------------------------------------------------------------------------
if (want('scale')) {
  const SMALL = 1_000;
  const LARGE = 50_000;
  heading(`3. Invariant checking vs state size: ${fmtInt(SMALL)} vs ${fmtInt(LARGE)} live bonds (one per process), 100 devices (target ratio <= ${TARGET_SCALE_RATIO})`);
  const rows = [['policy', 'bonds', 'µs/pair check on', 'µs/pair check off', 'checking µs/pair', 'bind ok']];
  const out: Record<string, unknown> = {};
  const ratioRows = [['policy', 'check-on pair ratio (50k/1k)', 'checking-only ratio', 'check-off ratio', 'target']];
  for (const policy of ['mainline', 'arch-gated'] as PolicyName[]) {
    const res: Record<string, { on: PairResult; off: PairResult; bonds: number }> = {};
    for (const n of [SMALL, LARGE]) {
      const r: Partial<{ on: PairResult; off: PairResult }> = {};
      let bonds = 0;
      for (const check of [true, false]) {
        const p = populate({ policy, check, trace: false, processes: n, devices: DEVS });
        bonds = p.liveBonds;
        r[check ? 'on' : 'off'] = timePairs(p, SEED ^ 0x3, pairOpts);
      }
      res[n] = { on: r.on!, off: r.off!, bonds };
      rows.push([policy, fmtInt(bonds), r.on!.usPerPair.toFixed(2), r.off!.usPerPair.toFixed(2), (r.on!.usPerPair - r.off!.usPerPair).toFixed(2), `${(r.on!.bindOkFraction * 100).toFixed(1)}%`]);
    }
    const s = res[SMALL]!;
    const l = res[LARGE]!;
    const ratioOn = l.on.usPerPair / s.on.usPerPair;
    const chkS = s.on.usPerPair - s.off.usPerPair;
    const chkL = l.on.usPerPair - l.off.usPerPair;
    const ratioChk = chkL / chkS;
    const ratioOff = l.off.usPerPair / s.off.usPerPair;
    const met = ratioOn <= TARGET_SCALE_RATIO;
    ratioRows.push([policy, `${ratioOn.toFixed(2)}x`, `${ratioChk.toFixed(2)}x`, `${ratioOff.toFixed(2)}x`, verdict(met)]);
    targets.push({ figure: `check-on pair cost 50k/1k bonds, ${policy}`, value: ratioOn, unit: 'x', target: `<= ${TARGET_SCALE_RATIO}`, met });
    out[policy] = {
      small: { bonds: s.bonds, checkOn: pairJson(s.on), checkOff: pairJson(s.off) },
      large: { bonds: l.bonds, checkOn: pairJson(l.on), checkOff: pairJson(l.off) },
      ratioCheckOn: round(ratioOn, 3),
      ratioCheckingOnly: round(ratioChk, 3),
      ratioCheckOff: round(ratioOff, 3),
    };
  }
  console.log(table(rows));
  console.log('');
  console.log(table(ratioRows));
  json.scale = { small: SMALL, large: LARGE, devices: DEVS, results: out };
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Tracing overhead
// ---------------------------------------------------------------------------------------------------------------
if (want('trace')) {
  heading(`4. Trace on vs off: same workload as section 2 (${fmtInt(PROCS)} processes, ${DEVS} devices), checking off`);
  const rows = [['policy', 'pairs/s trace off', 'pairs/s trace on', 'slowdown', 'trace records/pair', 'heap kept/pair (trace on)']];
  const out: Record<string, unknown> = {};
  for (const policy of POLICY_NAMES) {
    const r: Partial<Record<'on' | 'off', PairResult>> = {};
    for (const trace of [false, true]) {
      const p = populate({ policy, check: false, trace, processes: PROCS, devices: DEVS });
      r[trace ? 'on' : 'off'] = timePairs(p, SEED ^ 0x4, pairOpts);
    }
    const slow = r.off!.pairsPerSec / r.on!.pairsPerSec;
    rows.push([policy, fmtRate(r.off!.pairsPerSec), fmtRate(r.on!.pairsPerSec), `${slow.toFixed(2)}x`, r.on!.traceRecordsPerPair.toFixed(1), `${approx}${fmtBytes(r.on!.heapBytesPerPair)}`]);
    out[policy] = { traceOff: pairJson(r.off!), traceOn: pairJson(r.on!), slowdown: round(slow, 3) };
  }
  console.log(table(rows));
  console.log('(The lab keeps every StepRecord with its trace, so "heap kept/pair" is what a session retains per bind+unbind.)');
  json.trace = { processes: PROCS, devices: DEVS, checking: false, results: out };
}

// ---------------------------------------------------------------------------------------------------------------
heading('Targets');
if (targets.length) {
  console.log(
    table([
      ['figure', 'value', 'target', 'verdict'],
      ...targets.map((t) => [t.figure, t.unit === 'x' ? `${t.value.toFixed(2)}x` : fmtRate(t.value), t.target, verdict(t.met)]),
    ]),
  );
} else console.log('(no targeted figure in the selected sections)');
const total = since(tStart);
console.log(`\ntotal ${total.toFixed(1)} s${sink === 0.5 ? '' : ''}`);
json.targets = targets.map((t) => ({ ...t, value: round(t.value, 3) }));
json.totalSecs = round(total, 2);
console.log(`BENCH_JSON ${JSON.stringify(json)}`);
