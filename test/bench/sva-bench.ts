/**
 * Benchmarks of whole lab steps: SVA bind + unbind pairs through Lab.apply, with a large live state.
 */
import { Lab } from '../../src-main/lab/lab.js';
import { SocConfig, type SocConfigInput } from '../../shared/soc-config.js';
import type { Op, PolicyName } from '../../shared/steps.js';
import { below, heapUsed, median, mulberry32, now, since } from './harness.js';

export interface SocShape {
  devices: number;
  /** driver_pasid: true on every other device (odd indexes). */
  driverPasidHalf: boolean;
}

/**
 * One SMMUv3 (SSIDSIZE 20, 16-bit ASIDs) and `devices` platform devices with pasid-num-bits 20.
 *
 * One SMMU on purpose: the model's arm_smmu_asid_xa is driver-global (Kernel.asidXa, shared by every SMMUv3
 * instance, as in arm-smmu-v3.c), so more SMMUs would not add ASIDs; they would only multiply the SVA domains (one per
 * (mm, SMMU)) and so the ASIDs taken. With one SMMU the 50,000-bond state needs 50,000 + 100 ASIDs < 2^16.
 */
export function socConfig(shape: SocShape): SocConfig {
  const input: SocConfigInput = {
    arch: 'arm64',
    smmus: [{ name: 'smmu0', ssidsize: 20 }],
    devices: Array.from({ length: shape.devices }, (_, i) => ({
      name: `dev${i}`,
      kind: 'platform' as const,
      smmu: 'smmu0',
      sid: i,
      pasid_bits: 20,
      driver_pasid: shape.driverPasidHalf && i % 2 === 1,
    })),
  };
  return SocConfig.parse(input);
}

export function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

export interface Workload {
  policy: PolicyName;
  check: boolean;
  trace: boolean;
  processes: number;
  devices: number;
}

export interface Populated {
  lab: Lab;
  procs: string[];
  devs: string[];
  bindOk: number;
  bindFailed: number;
  liveBonds: number;
  /** Seconds to apply the populating binds. */
  secs: number;
  /** Heap growth of the lab from empty to populated (after gc when exposed). */
  heapBytes: number;
}

/** A lab whose `processes` processes are each bound once, round robin over the devices (process i -> device i mod n). */
export function populate(w: Workload): Populated {
  const procs = names('p', w.processes);
  const devs = names('dev', w.devices);
  const cfg = socConfig({ devices: w.devices, driverPasidHalf: w.policy === 'driver-pasid' });
  const h0 = heapUsed();
  const lab = new Lab(cfg, w.policy, { check: w.check, trace: w.trace });
  let ok = 0;
  let failed = 0;
  const t0 = now();
  for (let i = 0; i < w.processes; i++) {
    const r = lab.apply({ op: 'bind', args: { process: procs[i]!, device: devs[i % w.devices]! } });
    if (r.result.ok) ok++;
    else failed++;
  }
  const secs = since(t0);
  const heapBytes = heapUsed() - h0;
  return { lab, procs, devs, bindOk: ok, bindFailed: failed, liveBonds: lab.kernel.handles.size, secs, heapBytes };
}

export interface PairRep {
  pairs: number;
  secs: number;
  bindOk: number;
  traceRecords: number;
  findings: number;
}

/**
 * `n` pairs of (bind p to d; unbind p from d) on random p, d. The unbind is applied only when the bind succeeded (a
 * failed open leaves no file to close); a failed bind still counts as a pair. Ops are built before the clock starts.
 */
export function runPairs(p: Populated, rnd: () => number, n: number): PairRep {
  const binds: Op[] = new Array(n);
  const unbinds: Op[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const process = p.procs[below(rnd, p.procs.length)]!;
    const device = p.devs[below(rnd, p.devs.length)]!;
    binds[i] = { op: 'bind', args: { process, device } };
    unbinds[i] = { op: 'unbind', args: { process, device } };
  }
  const lab = p.lab;
  let ok = 0;
  let trace = 0;
  let findings = 0;
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const b = lab.apply(binds[i]!);
    trace += b.trace.length;
    findings += b.findings.length;
    if (b.result.ok) {
      ok++;
      const u = lab.apply(unbinds[i]!);
      trace += u.trace.length;
      findings += u.findings.length;
    }
  }
  const secs = since(t0);
  return { pairs: n, secs, bindOk: ok, traceRecords: trace, findings };
}

export interface PairResult {
  pairsPerSec: number;
  usPerPair: number;
  rates: number[];
  pairsPerRep: number;
  bindOkFraction: number;
  traceRecordsPerPair: number;
  findings: number;
  /** Heap growth across the timed repetitions per pair (the lab keeps every StepRecord, trace included). */
  heapBytesPerPair: number;
}

/**
 * Warm-up (unrecorded) pairs, a calibration of the repetition size so one repetition takes about `targetSecs`,
 * then `reps` repetitions; the median rate.
 */
export function timePairs(p: Populated, seed: number, opts: { warmupPairs: number; reps: number; targetSecs: number; minPairs: number; maxPairs: number }): PairResult {
  const rnd = mulberry32(seed);
  const w = runPairs(p, rnd, opts.warmupPairs);
  const est = w.pairs / w.secs;
  const n = Math.max(opts.minPairs, Math.min(opts.maxPairs, Math.round(est * opts.targetSecs)));
  const h0 = heapUsed();
  const reps: PairRep[] = [];
  for (let i = 0; i < opts.reps; i++) reps.push(runPairs(p, rnd, n));
  const h1 = heapUsed();
  const rates = reps.map((r) => r.pairs / r.secs);
  const m = median(rates);
  const total = reps.reduce((a, r) => a + r.pairs, 0);
  return {
    pairsPerSec: m,
    usPerPair: 1e6 / m,
    rates,
    pairsPerRep: n,
    bindOkFraction: reps.reduce((a, r) => a + r.bindOk, 0) / total,
    traceRecordsPerPair: reps.reduce((a, r) => a + r.traceRecords, 0) / total,
    findings: reps.reduce((a, r) => a + r.findings, 0),
    heapBytesPerPair: (h1 - h0) / total,
  };
}
