/**
 * Benchmarks of the SMMUv3 hardware model under the driver (issue 3, "Tests and benchmarks"):
 *
 * - translations per second through SmmuV3Hw.translate on the TLB-hit path and on the miss path (a stage-1 walk of
 *   the process's page table in PhysMemory), called directly on a lab whose process has mapped, populated pages and
 *   is bound to a 20-bit device;
 * - the end-to-end `dma` step (Lab.apply of 4 KiB reads), and deviceDma() alone for comparison;
 * - memory of a 2^20-SSID 2-level CD table (8 KiB L1, 64 KiB leaves allocated lazily) with 1,000 live PASIDs,
 *   packed into one leaf or spread over the space.
 */
import { Lab } from '../../src-main/lab/lab.js';
import { labOptions } from './sva-bench.js';
import type { PhysMemory, Region } from '../../src-main/sim/hw/memory.js';
import type { SmmuV3Hw, Txn } from '../../src-main/sim/hw/smmu.js';
import type { Device } from '../../src-main/sim/kernel/structs.js';
import { deviceDma } from '../../src-main/sim/devices/dma.js';
import { SocConfig, type SocConfigInput } from '../../shared/soc-config.js';
import type { Op } from '../../shared/steps.js';
import { median, mulberry32, now, settle, since } from './harness.js';

const PAGE = 4096;
/** Where the benchmark process maps its buffer. */
export const DMA_VA = 0x1000_0000;

/** Keeps translation results observable. */
export let dmaSink = 0;

/** One SMMUv3 (SSIDSIZE 20, 2-level CD tables) and `devices` platform devices with pasid-num-bits 20. */
export function dmaSocConfig(devices = 1): SocConfig {
  const input: SocConfigInput = {
    arch: 'arm64',
    smmus: [{ name: 'smmu0', ssidsize: 20 }],
    devices: Array.from({ length: devices }, (_, i) => ({ name: `dev${i}`, kind: 'platform' as const, smmu: 'smmu0', sid: i, pasid_bits: 20 })),
  };
  return SocConfig.parse(input);
}

export interface DmaLab {
  lab: Lab;
  dev: Device;
  hw: SmmuV3Hw;
  pasid: number;
  asid: number;
  pages: number;
}

/**
 * A lab (mainline) whose process p0 has mmap'ed `pages` pages at DMA_VA, written every byte of them (so every page is
 * populated and mapped in the page table the SMMU walks), and is bound to dev0.
 */
export function dmaLab(pages: number, opts: { check: boolean; trace: boolean; touched: boolean; checkpoints?: boolean }): DmaLab {
  const lab = new Lab(dmaSocConfig(1), 'mainline', labOptions(opts));
  const ok = (op: Op): Record<string, unknown> => {
    const r = lab.apply(op);
    if (!r.result.ok) throw new Error(`dma bench set-up: ${op.op} failed: ${JSON.stringify(r.result)}`);
    return r.result as unknown as Record<string, unknown>;
  };
  ok({ op: 'map', args: { process: 'p0', va: DMA_VA, length: pages * PAGE, write: true } });
  for (let off = 0; off < pages * PAGE; off += 1 << 20) {
    ok({ op: 'touch', args: { process: 'p0', va: DMA_VA + off, length: Math.min(1 << 20, pages * PAGE - off), write: true } });
  }
  const bind = ok({ op: 'bind', args: { process: 'p0', device: 'dev0' } });
  const pasid = bind.pasid as number;
  const dev = lab.kernel.devices.get('dev0')!;
  const hw = dev.smmu.hw;
  const r = hw.translate({ sid: dev.sid, ssid: pasid, va: DMA_VA, write: false });
  if (!r.ok || r.asid === null) throw new Error(`dma bench set-up: the first translation failed: ${JSON.stringify(r)}`);
  return { lab, dev, hw, pasid, asid: r.asid, pages };
}

export interface XlateResult {
  /** Median translations per second (wall clock of the timed loops only). */
  perSec: number;
  /** Median process CPU ns per translation (over the same loops). */
  cpuNsPer: number;
  /** ns per translation of the fastest repetition. */
  bestNsPer: number;
  rates: number[];
  perRep: number;
  /** SmmuV3Hw.stats deltas over the timed repetitions, per translation: the path really taken. */
  tlbHitFraction: number;
  tlbMissFraction: number;
  cfgMissFraction: number;
}

type Mode =
  /** TLB hits: a working set of `set` pages (1 = the same page), cycled. */
  | { kind: 'hit'; set: number }
  /** TLB misses: a stride over every page, each translated once per pass; one TLBI_NH_ASID between passes (untimed). */
  | { kind: 'stride' }
  /** TLB misses: TLBI_NH_ASID + CMD_SYNC before every translation, commands inside the timed loop. */
  | { kind: 'tlbi-each' }
  /** Configuration-cache and TLB misses: CFGI_STE + TLBI_NH_ASID + CMD_SYNC before every translation (STE, L1CD, CD re-fetched and decoded). */
  | { kind: 'cold-each' }
  /**
   * One page invalidated and refilled over and over (TLBI_NH_VA + CMD_SYNC, then its translation) while every other
   * page stays cached: the same TLB key removed and added again, which a V8 Map makes slower the more entries it holds.
   */
  | { kind: 'refill-one' };

/**
 * Translations through SmmuV3Hw.translate in a tight loop, `reps` repetitions of about `targetSecs` each after a
 * warm-up of `warmupSecs`. Transactions are built before the clock starts.
 */
export function timeTranslate(d: DmaLab, mode: Mode, opts: { warmupSecs: number; reps: number; targetSecs: number }): XlateResult {
  const { hw, dev, pasid, asid } = d;
  const n = mode.kind === 'hit' ? mode.set : d.pages;
  const txns: Txn[] = Array.from({ length: n }, (_, i) => ({ sid: dev.sid, ssid: pasid, va: DMA_VA + i * PAGE + ((i * 64) % PAGE), write: (i & 1) === 0 }));
  const tlbi = { op: 'TLBI_NH_ASID' as const, asid };
  const cfgi = { op: 'CFGI_STE' as const, sid: dev.sid, leaf: true };
  const sync = { op: 'CMD_SYNC' as const };
  const tlbiVa = { op: 'TLBI_NH_VA' as const, asid, addr: txns[0]!.va, leaf: true };
  hw.command({ op: 'TLBI_NSNH_ALL' });
  if (mode.kind === 'refill-one') for (const t of txns) hw.translate(t); // every page cached
  // One pass of `count` translations; returns wall seconds of the timed part.
  const pass = (count: number): number => {
    let acc = 0;
    let secs = 0;
    if (mode.kind === 'stride') {
      let done = 0;
      while (done < count) {
        const m = Math.min(n, count - done);
        hw.command(tlbi);
        const t0 = now();
        for (let i = 0; i < m; i++) {
          const r = hw.translate(txns[i]!);
          if (r.ok) acc += r.pa;
        }
        secs += since(t0);
        done += m;
      }
    } else if (mode.kind === 'hit') {
      const t0 = now();
      for (let i = 0, j = 0; i < count; i++) {
        const r = hw.translate(txns[j]!);
        if (r.ok) acc += r.pa;
        if (++j === n) j = 0;
      }
      secs = since(t0);
    } else if (mode.kind === 'refill-one') {
      const t0 = now();
      for (let i = 0; i < count; i++) {
        hw.command(tlbiVa);
        hw.command(sync);
        const r = hw.translate(txns[0]!);
        if (r.ok) acc += r.pa;
      }
      secs = since(t0);
    } else {
      const cold = mode.kind === 'cold-each';
      const t0 = now();
      for (let i = 0; i < count; i++) {
        if (cold) hw.command(cfgi);
        hw.command(tlbi);
        hw.command(sync);
        const r = hw.translate(txns[i % n]!);
        if (r.ok) acc += r.pa;
      }
      secs = since(t0);
    }
    dmaSink = (dmaSink + acc) % 1e9;
    return secs;
  };
  // Warm-up, and an estimate of the rate to size the repetitions.
  const chunk = mode.kind === 'stride' ? n : 20_000;
  const chunkRates: number[] = [];
  const tw = now();
  do chunkRates.push(chunk / pass(chunk));
  while (since(tw) < opts.warmupSecs);
  const perRep = Math.max(chunk, Math.round((median(chunkRates) * opts.targetSecs) / chunk) * chunk);
  const s0 = { ...hw.stats };
  const rates: number[] = [];
  const cpu: number[] = [];
  settle();
  for (let i = 0; i < opts.reps; i++) {
    const c0 = process.cpuUsage();
    const secs = pass(perRep);
    const c = process.cpuUsage(c0);
    rates.push(perRep / secs);
    // CPU time covers the whole pass (for 'stride', the untimed TLBI between passes too: one per `n` translations).
    cpu.push(((c.user + c.system) * 1e3) / perRep);
  }
  const total = perRep * opts.reps;
  const st = hw.stats;
  const m = median(rates);
  return {
    perSec: m,
    cpuNsPer: median(cpu),
    bestNsPer: 1e9 / Math.max(...rates),
    rates,
    perRep,
    tlbHitFraction: (st.tlbHit - s0.tlbHit) / total,
    tlbMissFraction: (st.tlbMiss - s0.tlbMiss) / total,
    cfgMissFraction: (st.cfgMiss - s0.cfgMiss) / total,
  };
}

export interface DmaStepResult {
  stepsPerSec: number;
  cpuUsPerStep: number;
  bestUsPerStep: number;
  rates: number[];
  perRep: number;
  failed: number;
  bytesPerStep: number;
}

/**
 * 4 KiB DMA reads by dev0 for p0 (tagged with its PASID), one page each, cycling over the buffer's pages.
 * `direct`: deviceDma() on the kernel alone, no Lab.apply (no step record, no hex encoding of the bytes read).
 * Each repetition (and the warm-up) gets a fresh lab from `make` outside the clock: the lab keeps every StepRecord
 * (each holds the 4 KiB read back as hex), so one long-lived lab would measure a growing heap.
 */
export function timeDmaSteps(make: () => DmaLab, direct: boolean, opts: { warmupSecs: number; reps: number; targetSecs: number }): DmaStepResult {
  let failed = 0;
  const run = (d: DmaLab, count: number): number => {
    const { lab, dev } = d;
    const ops: Op[] = Array.from({ length: d.pages }, (_, i) => ({ op: 'dma', args: { device: 'dev0', process: 'p0', va: DMA_VA + i * PAGE, length: PAGE, write: false } }));
    const t0 = now();
    if (direct) {
      const k = lab.kernel;
      for (let i = 0; i < count; i++) {
        const r = deviceDma(k, dev, d.pasid, DMA_VA + (i % d.pages) * PAGE, PAGE, false, null);
        if (!r.ok) failed++;
        dmaSink = (dmaSink + r.bytes.length) % 1e9;
      }
    } else {
      for (let i = 0; i < count; i++) {
        const r = lab.apply(ops[i % d.pages]!);
        if (!r.result.ok) failed++;
      }
    }
    return since(t0);
  };
  const chunk = 200;
  const chunkRates: number[] = [];
  const warm = make();
  const tw = now();
  do chunkRates.push(chunk / run(warm, chunk));
  while (since(tw) < opts.warmupSecs);
  failed = 0;
  const perRep = Math.max(chunk, Math.round(median(chunkRates) * opts.targetSecs));
  const rates: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < opts.reps; i++) {
    const d = make();
    settle();
    const c0 = process.cpuUsage();
    const secs = run(d, perRep);
    const c = process.cpuUsage(c0);
    rates.push(perRep / secs);
    cpu.push((c.user + c.system) / perRep);
  }
  const m = median(rates);
  return { stepsPerSec: m, cpuUsPerStep: median(cpu), bestUsPerStep: 1e6 / Math.max(...rates), rates, perRep, failed, bytesPerStep: PAGE };
}

// ---------------------------------------------------------------------------------------------------------------
// CD table memory
// ---------------------------------------------------------------------------------------------------------------

export interface CdMemory {
  /** Bytes allocated to the CD table's regions (L1 + leaves), from the driver's CdTable. */
  allocatedBytes: number;
  /** Of those, bytes PhysMemory holds: 64-byte blocks with a non-zero byte (it keeps no others). */
  residentBytes: number;
  l1Bytes: number;
  leaves: number;
  /** The same figures from a scan of every PhysMemory region whose owner is `cd-l1:<dev>` / `cd-l2:<dev>[..]`. */
  scanAllocatedBytes: number;
  scanRegions: number;
  /** PhysMemory as a whole (process pages, page tables, stream table, queues included). */
  memAllocatedBytes: number;
  memResidentBytes: number;
}

/**
 * Memory of `device`'s CD table: walks the driver's CdTable (master.cdTable.region = the L1 table, l2Regions = the
 * 64 KiB leaves), checks each region's owner, counts its resident pages; cross-checks against a scan of every region.
 */
export function cdTableMemory(lab: Lab, device: string): CdMemory {
  const k = lab.kernel;
  const dev = k.devices.get(device)!;
  const t = dev.master.cdTable;
  const mem = k.mem;
  const l1Owner = `cd-l1:${device}`;
  const l2Prefix = `cd-l2:${device}[`;
  let allocated = 0;
  let res = 0;
  let l1Bytes = 0;
  if (t) {
    if (t.linear) throw new Error(`${device}'s CD table is linear`);
    const regions: Region[] = [t.region, ...t.l2Regions.values()];
    for (const r of regions) {
      if (r.owner !== l1Owner && !r.owner.startsWith(l2Prefix)) throw new Error(`unexpected owner ${r.owner} in ${device}'s CD table`);
      allocated += r.size;
      res += mem.residentBytesIn(r);
    }
    l1Bytes = t.region.size;
  }
  const seen = new Set<Region>();
  for (const r of mem.regions()) if (r.owner === l1Owner || r.owner.startsWith(l2Prefix)) seen.add(r);
  let scan = 0;
  for (const r of seen) scan += r.size;
  return { allocatedBytes: allocated, residentBytes: res, l1Bytes, leaves: t ? t.l2Regions.size : 0, scanAllocatedBytes: scan, scanRegions: seen.size, memAllocatedBytes: mem.allocatedBytes(), memResidentBytes: mem.residentBytes() };
}

export interface CdMemoryCase {
  label: string;
  pasids: number[];
  /** Distinct 1,024-SSID leaves the PASIDs fall in: what the table must allocate. */
  expectedLeaves: number;
  mem: CdMemory;
  bindSecs: number;
}

/**
 * Binds `count` processes to dev0 (2^20 SSIDs, 2-level CD table) under mainline, with the global PASID IDA first
 * reserved everywhere except `pasids` (Ida.take over 1..2^20-1), so that mainline's lowest-free allocation hands out
 * exactly those numbers; `pasids` null: no reservation (PASIDs 1..count, one leaf). Afterwards the reserved ids are
 * released again, so the IDA holds only the live PASIDs when the memory is read.
 */
export function cdMemoryCase(label: string, count: number, pasids: number[] | null): CdMemoryCase {
  const lab = new Lab(dmaSocConfig(1), 'mainline', labOptions({ check: false, trace: false, touched: false }));
  const ida = lab.kernel.globalPasidIda;
  if (ida.size !== 0) throw new Error('the global PASID IDA is not empty at boot');
  const max = (1 << 20) - 1;
  let reserved: number[] = [];
  if (pasids) {
    if (pasids.length !== count) throw new Error('cdMemoryCase: pasids.length !== count');
    const keep = new Set(pasids);
    reserved = [];
    for (let id = 1; id <= max; id++) if (!keep.has(id)) reserved.push(id);
    for (const id of reserved) ida.take(id);
  }
  const got: number[] = [];
  const t0 = now();
  for (let i = 0; i < count; i++) {
    const r = lab.apply({ op: 'bind', args: { process: `p${i}`, device: 'dev0' } });
    if (!r.result.ok) throw new Error(`cd memory bench: bind ${i} failed: ${JSON.stringify(r.result)}`);
    got.push(r.result.pasid!);
  }
  const bindSecs = since(t0);
  for (const id of reserved) ida.free(id);
  if (pasids) {
    const want = [...pasids].sort((a, b) => a - b);
    if (got.some((p, i) => p !== want[i])) throw new Error('cd memory bench: the binds did not get the chosen PASIDs');
  }
  const expectedLeaves = new Set(got.map((p) => p >> 10)).size;
  return { label, pasids: got, expectedLeaves, mem: cdTableMemory(lab, 'dev0'), bindSecs };
}

/** `count` PASIDs evenly spaced over 1..2^20-1 (stride > 1,024: one per leaf). */
export function evenPasids(count: number): number[] {
  const max = (1 << 20) - 1;
  return Array.from({ length: count }, (_, j) => 1 + Math.floor((j * (max - 1)) / (count - 1)));
}

/** `count` distinct PASIDs drawn uniformly from 1..2^20-1 (seeded), sorted. */
export function randomPasids(count: number, seed: number): number[] {
  const rnd = mulberry32(seed);
  const s = new Set<number>();
  while (s.size < count) s.add(1 + (rnd() % ((1 << 20) - 1)));
  return [...s].sort((a, b) => a - b);
}
