/**
 * Benchmarks of whole lab steps: SVA bind + unbind pairs through Lab.apply, with a large live state.
 */
import { Lab, type LabOptions } from '../../src-main/lab/lab.js';
import { SocConfig, type SocConfigInput } from '../../shared/soc-config.js';
import type { Op, PolicyName } from '../../shared/steps.js';
import { applyOp } from '../../src-main/lab/apply.js';
import { checkDirty } from '../../src-main/lab/invariants.js';
import { below, heapUsed, median, mulberry32, now, settle, since } from './harness.js';

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
  /**
   * Whether the lab builds each step's Touched lists (what hosts turn into UI diffs). Off for raw-speed figures
   * (`new Lab(cfg, policy, { touched: false })`); one row of section 2 keeps it on so that its cost stays visible.
   */
  touched: boolean;
  /**
   * Whether the lab takes its time-travel checkpoints (deep copies of the kernel every 1000 steps or 100 ms of step
   * time, but no sooner than a take costs: checkpoint.ts checkpointDue; the Lab default). Off (undefined/false) for
   * raw-speed figures.
   */
  checkpoints?: boolean;
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

/**
 * The Lab options of a workload. `checkpoints: false` turns the Lab's time-travel checkpoints off unless the workload
 * asks for them; the object is built apart from the call so that it also type-checks against a LabOptions without
 * that (recently added) member.
 */
export function labOptions(w: { check: boolean; trace: boolean; touched: boolean; checkpoints?: boolean }): LabOptions {
  const opts = w.checkpoints ? { check: w.check, trace: w.trace, touched: w.touched } : { check: w.check, trace: w.trace, touched: w.touched, checkpoints: false as const };
  return opts;
}

/** A lab whose `processes` processes are each bound once, round robin over the devices (process i -> device i mod n). */
export function populate(w: Workload): Populated {
  const procs = names('p', w.processes);
  const devs = names('dev', w.devices);
  const cfg = socConfig({ devices: w.devices, driverPasidHalf: w.policy === 'driver-pasid' });
  const h0 = heapUsed();
  const lab = new Lab(cfg, w.policy, labOptions(w));
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
  /** Process CPU seconds (user + system, all threads: GC helpers included) over the same span. */
  cpuSecs: number;
  bindOk: number;
  traceRecords: number;
  findings: number;
}

/**
 * `n` pairs of (bind p to d; unbind p from d) on random p, d. The unbind is applied only when the bind succeeded (a
 * failed open leaves no file to close); a failed bind still counts as a pair.
 *
 * The random picks are drawn before the clock starts; each op object is built on the clock, just before the lab
 * applies it, as a host builds it from the IPC message it just received (the lab keeps it in its record either way).
 * Ops built in one batch before the clock (as this bench did up to the eighth session) were 80,000 objects that the
 * scavenger promoted during the timed pairs, so each step began with cache misses on its own op that no client of the
 * lab has: the same pairs ran ~5% slower that way (same-process A/B).
 */
export function runPairs(p: Populated, rnd: () => number, n: number): PairRep {
  const pick = randomPicks(p, rnd, n);
  const { lab, procs, devs } = p;
  let ok = 0;
  let trace = 0;
  let findings = 0;
  const c0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const process = procs[pick[2 * i]!]!;
    const device = devs[pick[2 * i + 1]!]!;
    const b = lab.apply({ op: 'bind', args: { process, device } });
    trace += lab.traceOf(b).length;
    findings += b.findings.length;
    if (b.result.ok) {
      ok++;
      const u = lab.apply({ op: 'unbind', args: { process, device } });
      trace += lab.traceOf(u).length;
      findings += u.findings.length;
    }
  }
  const secs = since(t0);
  const c = process.cpuUsage(c0);
  return { pairs: n, secs, cpuSecs: (c.user + c.system) / 1e6, bindOk: ok, traceRecords: trace, findings };
}

export interface PairResult {
  pairsPerSec: number;
  usPerPair: number;
  /** µs per pair of the fastest repetition: the figure least disturbed by other processes and GC pauses. */
  bestUsPerPair: number;
  /** Median process CPU µs per pair: insensitive to other processes taking the CPU (but counts GC helper threads). */
  cpuUsPerPair: number;
  rates: number[];
  pairsPerRep: number;
  bindOkFraction: number;
  traceRecordsPerPair: number;
  findings: number;
  /** Heap growth across the timed repetitions per pair (the lab keeps every StepRecord, trace included). */
  heapBytesPerPair: number;
  /**
   * Checkpoints the lab holds at steps inside the timed repetitions (0 when checkpoints are off): each was a copy of
   * the kernel taken on the clock, so a row with checkpoints depends on how many landed there.
   */
  checkpointsInReps: number;
}

/**
 * Warm-up (unrecorded) pairs in chunks until `warmupSecs` have passed (so the JIT has settled), a calibration of the
 * repetition size from the median chunk rate so one repetition takes about `targetSecs`, then `reps` repetitions; the median.
 */
export function timePairs(p: Populated, seed: number, opts: { warmupSecs: number; reps: number; targetSecs: number; minPairs: number; maxPairs: number }): PairResult {
  const rnd = mulberry32(seed);
  const tw = now();
  const chunkRates: number[] = [];
  do {
    const w = runPairs(p, rnd, 500);
    chunkRates.push(w.pairs / w.secs);
  } while (since(tw) < opts.warmupSecs);
  const est = median(chunkRates);
  const n = Math.max(opts.minPairs, Math.min(opts.maxPairs, Math.round(est * opts.targetSecs)));
  const h0 = heapUsed();
  // heapUsed() above collected garbage; no collection between repetitions (a full gc of a large lab costs more than a
  // repetition, and the steady cost of garbage collection is part of what a step costs).
  const reps: PairRep[] = [];
  const step0 = p.lab.records.length;
  for (let i = 0; i < opts.reps; i++) reps.push(runPairs(p, rnd, n));
  const checkpointsInReps = p.lab.checkpointInfo().positions.filter((s) => s > step0).length;
  const h1 = heapUsed();
  const rates = reps.map((r) => r.pairs / r.secs);
  const m = median(rates);
  const total = reps.reduce((a, r) => a + r.pairs, 0);
  return {
    pairsPerSec: m,
    usPerPair: 1e6 / m,
    bestUsPerPair: 1e6 / Math.max(...rates),
    cpuUsPerPair: median(reps.map((r) => (r.cpuSecs * 1e6) / r.pairs)),
    rates,
    pairsPerRep: n,
    bindOkFraction: reps.reduce((a, r) => a + r.bindOk, 0) / total,
    traceRecordsPerPair: reps.reduce((a, r) => a + r.traceRecords, 0) / total,
    findings: reps.reduce((a, r) => a + r.findings, 0),
    heapBytesPerPair: (h1 - h0) / total,
    checkpointsInReps,
  };
}

/** `n` random (process, device) picks as indexes into p.procs and p.devs: process of pair i at 2i, device at 2i + 1. */
function randomPicks(p: Populated, rnd: () => number, n: number): Uint32Array {
  const pick = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    pick[2 * i] = below(rnd, p.procs.length);
    pick[2 * i + 1] = below(rnd, p.devs.length);
  }
  return pick;
}

function randomPairs(p: Populated, rnd: () => number, n: number): { binds: Op[]; unbinds: Op[] } {
  const pick = randomPicks(p, rnd, n);
  const binds: Op[] = new Array(n);
  const unbinds: Op[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const process = p.procs[pick[2 * i]!]!;
    const device = p.devs[pick[2 * i + 1]!]!;
    binds[i] = { op: 'bind', args: { process, device } };
    unbinds[i] = { op: 'unbind', args: { process, device } };
  }
  return { binds, unbinds };
}

export interface SplitResult {
  /** Median µs per pair spent in the kernel model (applyOp) and in the invariant checker (checkDirty). */
  kernelUsPerPair: number;
  checkUsPerPair: number;
  kernelReps: number[];
  checkReps: number[];
  /** The fastest repetition's figures. */
  bestKernelUsPerPair: number;
  bestCheckUsPerPair: number;
  pairsPerRep: number;
  bindOkFraction: number;
  /**
   * Dirty marks the checker examined per pair (dirtyMarks before each checkDirty), averaged over every timed pair: the
   * checker's work in units of what the steps changed. Unlike its time, it does not move with the machine's memory
   * latency, which the colder heap of a larger state pays on every object it reads.
   */
  marksPerPair: number;
}

/** The subjects the checker will examine now: the size of every dirty set, each (group, PASID) slot and (master, SSID) CD. */
export function dirtyMarks(d: Populated['lab']['kernel']['dirty']): number {
  let n = d.groups.size + d.mms.size + d.domains.size + d.handles.size + d.masters.size + d.pasids.size + d.processes.size;
  for (const [, set] of d.slots) n += set.size;
  for (const [, set] of d.cds) n += set.size;
  return n;
}

/**
 * The parts of a checked step, timed separately on the lab's kernel: applyOp (the kernel model, what Lab.apply
 * runs first) and checkDirty (the invariant checker, what Lab.apply runs after it when checking is on), each bracketed
 * by its own hrtime reading. Bypasses Lab.apply, so no StepRecord is kept. The lab must have been built with checking
 * on (the kernel's dirty sets are then what a checked step would examine).
 */
export function timeSplit(p: Populated, seed: number, pairs: number, warmupSecs: number, reps: number): SplitResult {
  const rnd = mulberry32(seed);
  const k = p.lab.kernel;
  checkDirty(k); // start from clean dirty sets
  const one = (n: number): { kernel: number; check: number; ok: number; marks: number } => {
    const { binds, unbinds } = randomPairs(p, rnd, n);
    let tk = 0n;
    let tc = 0n;
    let ok = 0;
    let marks = 0;
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const r = applyOp(k, binds[i]!);
      const t1 = process.hrtime.bigint();
      marks += dirtyMarks(k.dirty); // between the two clocks (the sets were just written: hot either way)
      const t1c = process.hrtime.bigint();
      checkDirty(k);
      const t2 = process.hrtime.bigint();
      tk += t1 - t0;
      tc += t2 - t1c;
      if (r.ok) {
        ok++;
        const t3 = process.hrtime.bigint();
        applyOp(k, unbinds[i]!);
        const t4 = process.hrtime.bigint();
        marks += dirtyMarks(k.dirty);
        const t4c = process.hrtime.bigint();
        checkDirty(k);
        const t5 = process.hrtime.bigint();
        tk += t4 - t3;
        tc += t5 - t4c;
      }
    }
    return { kernel: Number(tk) / 1e3 / n, check: Number(tc) / 1e3 / n, ok, marks };
  };
  const tw = now();
  do one(500);
  while (since(tw) < warmupSecs);
  const ks: number[] = [];
  const cs: number[] = [];
  let ok = 0;
  let marks = 0;
  settle();
  for (let i = 0; i < reps; i++) {
    const r = one(pairs);
    ks.push(r.kernel);
    cs.push(r.check);
    ok += r.ok;
    marks += r.marks;
  }
  return { kernelUsPerPair: median(ks), checkUsPerPair: median(cs), kernelReps: ks, checkReps: cs, bestKernelUsPerPair: Math.min(...ks), bestCheckUsPerPair: Math.min(...cs), pairsPerRep: pairs, bindOkFraction: ok / (pairs * reps), marksPerPair: marks / (pairs * reps) };
}
