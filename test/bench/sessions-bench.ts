/**
 * Sessions and time travel: how long a jump takes anywhere in a 100,000-step session, and what the checkpoints cost
 * in memory (issue 5: "jumping anywhere in a 100,000-step session takes well under a second"). Prints figures;
 * asserts nothing.
 *
 *   npm run build && node --expose-gc dist/test/bench/sessions-bench.js            # 100,000 steps
 *   node --expose-gc dist/test/bench/sessions-bench.js steps=20000 jumps=100      # smaller
 *
 * The session: random binds, unbinds, forks and exits (a few processes alive at a time, new names as they go) over
 * a small SoC, applied to a lab as the app runs it (invariants checked, trace and touched sets recorded). Without
 * --expose-gc the memory figures include garbage not yet collected.
 */
import { pathToFileURL } from 'node:url';
import { SocConfig } from '../../shared/soc-config.js';
import { parseSessionText, serializeSession } from '../../shared/session.js';
import type { Op } from '../../shared/steps.js';
import { Lab } from '../../src-main/lab/lab.js';
import { labFromSession, sessionFromLab } from '../../src-main/lab/session-io.js';

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`${name}=`));
  return a ? Number(a.slice(name.length + 1)) : dflt;
};
const STEPS = arg('steps', 100_000);
const JUMPS = arg('jumps', 200);
const SEED = arg('seed', 0x5e55);

const SOC = SocConfig.parse({
  arch: 'arm64',
  smmus: [{ name: 'smmu0', ssidsize: 20 }],
  devices: [
    { name: 'accel', smmu: 'smmu0', sid: 0x10, pasid_bits: 2, stall: true, driver_pasid: true },
    { name: 'gpu', smmu: 'smmu0', sid: 0x20, pasid_bits: 20 },
    { name: 'fnA', kind: 'pci', smmu: 'smmu0', sid: 0x200, pasid_bits: 4 },
    { name: 'fnB', kind: 'pci', smmu: 'smmu0', sid: 0x201, pasid_bits: 2 },
    { name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 0x100, pasid_bits: 20, kernel_pasid: true },
  ],
  groups: [['fnA', 'fnB']],
});
const DEVICES = SOC.devices.map((d) => d.name);

function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

/** Random binds (45%), unbinds (40%), forks (5%) and exits (10%), 3 to 8 processes alive at a time. */
function generator(seed: number): () => Op {
  const r = prng(seed);
  const live = ['p0', 'p1', 'p2', 'p3'];
  let next = live.length;
  return () => {
    const x = r(100);
    const i = r(live.length);
    const p = live[i]!;
    const device = DEVICES[r(DEVICES.length)]!;
    if (x < 45) return { op: 'bind', args: { process: p, device } };
    if (x < 85 || (x < 90 && live.length >= 8)) return { op: 'unbind', args: { process: p, device } };
    if (x < 90) {
      const child = `p${next++}`;
      live.push(child);
      return { op: 'fork', args: { process: p, child } };
    }
    live.splice(i, 1);
    if (live.length < 3) live.push(`p${next++}`);
    return { op: 'exit', args: { process: p, files_kept: false } };
  };
}

const gc = (globalThis as { gc?: () => void }).gc;
function memory(): { heap: number; buffers: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const ms = (n: number): string => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** Applies STEPS accepted steps (rejected ones are skipped: they are not part of a session). */
function build(lab: Lab, seed: number): number {
  const next = generator(seed);
  const t0 = performance.now();
  while (lab.records.length < STEPS) lab.apply(next());
  return performance.now() - t0;
}

/** The figures of one run (also printed as a table). `npm run bench` runs this script as its `sessions` section. */
export interface SessionsBench {
  steps: number;
  jumpMedianMs: number;
  jumpP95Ms: number;
  jumpMaxMs: number;
  labBytes: number;
  checkpoints: number;
  [k: string]: unknown;
}

function main(): SessionsBench {
  console.log(`sessions bench: ${STEPS.toLocaleString('en')} steps, ${JUMPS} random jumps, seed ${SEED}${gc ? '' : ' (no --expose-gc: memory figures are approximate)'}`);

  // The same session twice, without and with checkpoints: the difference in memory is what the checkpoints take.
  const m0 = memory();
  let plain: Lab | null = new Lab(SOC, 'mainline', { checkpoints: false });
  const buildPlainMs = build(plain, SEED);
  const m1 = memory();
  const ops = plain.records.map((r) => r.op);
  const replayFromBoot: number[] = [];
  for (const n of [STEPS / 2, STEPS - 1]) {
    const t = performance.now();
    plain.jumpTo(Math.floor(n));
    replayFromBoot.push(performance.now() - t);
  }
  plain = null;
  const m2 = memory();
  const lab = new Lab(SOC, 'mainline');
  const buildMs = build(lab, SEED);
  const m3 = memory();
  const labBytes = m1.heap + m1.buffers - (m0.heap + m0.buffers);
  const withCheckpoints = m3.heap + m3.buffers - (m2.heap + m2.buffers);
  const info = lab.checkpointInfo();
  const same = lab.records.every((r, i) => JSON.stringify(r.op) === JSON.stringify(ops[i]));

  // Jumps anywhere, then undo/redo at both ends.
  const r = prng(SEED ^ 0xabcdef);
  const times: number[] = [];
  for (let i = 0; i < JUMPS; i++) {
    const n = r(STEPS + 1);
    const t = performance.now();
    lab.jumpTo(n);
    times.push(performance.now() - t);
  }
  const timed = (f: () => void): number => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  const toEnd = timed(() => lab.jumpTo(STEPS));
  const toStart = timed(() => lab.jumpTo(0));
  lab.jumpTo(STEPS);
  const undo = timed(() => lab.undo());
  const redo = timed(() => lab.redo());

  // The session file: write, parse, rebuild.
  const tSer = performance.now();
  const text = serializeSession(sessionFromLab(lab, 'bench'));
  const serMs = performance.now() - tSer;
  const tParse = performance.now();
  const parsed = parseSessionText(text, 'bench.svalab');
  const parseMs = performance.now() - tParse;
  const tRebuild = performance.now();
  labFromSession(parsed.session);
  const rebuildMs = performance.now() - tRebuild;

  const rows: [string, string][] = [
    ['steps applied (with checkpoints)', `${ms(buildMs)} (${((buildMs * 1000) / STEPS).toFixed(0)} µs/step; without: ${ms(buildPlainMs)})`],
    ['checkpoints', `${info.count}, one per ${Math.round(STEPS / Math.max(1, info.count))} steps on average (base interval ${info.interval}; estimated ${mb(info.bytes)})`],
    ['memory: lab without checkpoints', mb(labBytes)],
    ['memory: checkpoints (measured)', `${mb(withCheckpoints - labBytes)} (${mb((withCheckpoints - labBytes) / Math.max(1, info.count))} each)`],
    [`jump anywhere (${JUMPS} random targets)`, `median ${ms(quantile(times, 0.5))}, p95 ${ms(quantile(times, 0.95))}, max ${ms(Math.max(...times))}`],
    ['jump to the end / to the start', `${ms(toEnd)} / ${ms(toStart)}`],
    ['undo / redo at the end', `${ms(undo)} / ${ms(redo)}`],
    ['replay from boot (no checkpoints), to the middle / the end', `${ms(replayFromBoot[0]!)} / ${ms(replayFromBoot[1]!)}`],
    ['session file', `${mb(text.length)}: serialize ${ms(serMs)}, parse+validate ${ms(parseMs)}, rebuild the lab ${ms(rebuildMs)}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  console.log(`  jump target: well under a second -> ${Math.max(...times, toEnd, toStart) < 1000 ? 'met' : 'NOT met'} (max ${ms(Math.max(...times, toEnd, toStart))})${same ? '' : '  [the two builds differ!]'}`);
  const figures: SessionsBench = {
      steps: STEPS,
      buildMs,
      buildPlainMs,
      checkpoints: info.count,
      interval: info.interval,
      checkpointBytesEstimated: info.bytes,
      checkpointBytesMeasured: withCheckpoints - labBytes,
      labBytes,
      jumpMedianMs: quantile(times, 0.5),
      jumpP95Ms: quantile(times, 0.95),
      jumpMaxMs: Math.max(...times),
      jumpEndMs: toEnd,
      jumpStartMs: toStart,
      undoMs: undo,
      redoMs: redo,
      replayFromBootMs: replayFromBoot,
      sessionBytes: text.length,
      serializeMs: serMs,
      parseMs,
      rebuildMs,
      exactMemory: gc !== undefined,
  };
  return figures;
}

// Run directly (node dist/test/bench/sessions-bench.js): print the figures and the JSON line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) console.log(`BENCH_JSON ${JSON.stringify(main())}`);
