/**
 * The SMMU's caches against its invalidation commands (SMMUv3 §3.21 structure access rules, §4.3 CFGI_*, §4.4
 * TLBI_*): a configuration cache that keeps serving an STE or CD changed in memory until CFGI_STE / CFGI_CD, and a
 * TLB that keeps serving a translation changed in the page table until TLBI_NH_VA / TLBI_NH_ASID, with the hit and
 * miss counters of smmu.hw.stats showing which path each transaction took. Driven through a Lab; the structures
 * are changed behind the driver's back by writing simulated memory, the invalidations are sent as the driver would.
 */
import { describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.js';
import type { StepResult } from '../../shared/results.js';
import { setF } from '../../src-main/sim/hw/bits.js';
import { CD_FIELD } from '../../src-main/sim/hw/cd.js';
import type { Cmd } from '../../src-main/sim/hw/commands.js';
import { PAGE_SIZE } from '../../src-main/sim/hw/memory.js';
import { encodeSte, STE_CONFIG } from '../../src-main/sim/hw/ste.js';
import { armSmmuCdPa, armSmmuCmd, cdWords } from '../../src-main/sim/smmuv3/driver.js';
import { bind, dev, mkLab, proc, step } from '../unit/helpers.js';

const VA = 0x400000;

function soc(): Lab {
  return mkLab([
    { name: 'acc', smmu: 'smmu0', sid: 0x40, pasid_bits: 4 },
    { name: 'acc2', smmu: 'smmu0', sid: 0x41, pasid_bits: 4 },
  ]);
}

function dma(l: Lab, a: { device: string; process?: string; ssid?: number; va: number; length?: number; write?: boolean; data?: string }): StepResult {
  return step(l, { op: 'dma', args: { length: 4, write: false, ...a } });
}

const touch = (l: Lab, process: string, va: number, length: number, data?: string): StepResult =>
  step(l, { op: 'touch', args: data === undefined ? { process, va, length, write: false } : { process, va, length, write: true, data } });

function sync(l: Lab, device: string, c: Cmd): void {
  const d = dev(l, device);
  armSmmuCmd(l.kernel, d.smmu, c);
  armSmmuCmd(l.kernel, d.smmu, { op: 'CMD_SYNC' });
}

function stats(l: Lab): { cfgHit: number; cfgMiss: number; tlbHit: number; tlbMiss: number } {
  const s = dev(l, 'acc').smmu.hw.stats;
  return { cfgHit: s.cfgHit, cfgMiss: s.cfgMiss, tlbHit: s.tlbHit, tlbMiss: s.tlbMiss };
}

/** Counter changes caused by `fn`. */
function delta(l: Lab, fn: () => void): ReturnType<typeof stats> {
  const a = stats(l);
  fn();
  const b = stats(l);
  return { cfgHit: b.cfgHit - a.cfgHit, cfgMiss: b.cfgMiss - a.cfgMiss, tlbHit: b.tlbHit - a.tlbHit, tlbMiss: b.tlbMiss - a.tlbMiss };
}

/** P with four populated pages at VA (bytes 0x5a), bound to `device`. */
function bound(l: Lab, device = 'acc', process = 'p'): number {
  step(l, { op: 'map', args: { process, va: VA, length: 4 * PAGE_SIZE, write: true } });
  touch(l, process, VA, 4 * PAGE_SIZE, '5a');
  const r = bind(l, process, device);
  expect(r.ok).toBe(true);
  return r.pasid!;
}

function pteAddr(l: Lab, process: string, va: number): number {
  const mem = l.kernel.mem;
  let table = proc(l, process).mm.as!.pt.root;
  const idx = [Math.floor(va / 2 ** 39) % 512, Math.floor(va / 2 ** 30) % 512, Math.floor(va / 2 ** 21) % 512, Math.floor(va / 2 ** 12) % 512];
  for (let level = 0; level < 3; level++) {
    const a = table + idx[level]! * 8;
    table = (mem.read32(a + 4) & 0xffff) * 2 ** 32 + ((mem.read32(a) & 0xfffff000) >>> 0);
  }
  return table + idx[3]! * 8;
}

describe('configuration cache', () => {
  it('the first transaction of a stream misses, the next ones hit', () => {
    const l = soc();
    bound(l);
    expect(delta(l, () => dma(l, { device: 'acc', process: 'p', va: VA }))).toMatchObject({ cfgMiss: 1, cfgHit: 0 });
    expect(delta(l, () => dma(l, { device: 'acc', process: 'p', va: VA }))).toMatchObject({ cfgMiss: 0, cfgHit: 1 });
  });

  it('serves a stale STE until CFGI_STE: an abort STE written to memory changes nothing until it is invalidated', () => {
    const l = soc();
    bound(l);
    const d = dev(l, 'acc');
    expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: true, data: '5a5a5a5a' });
    l.kernel.mem.writeWords(d.smmu.stePa(d.sid), encodeSte({ v: true, config: STE_CONFIG.ABORT }));
    // Stale: the cached CD-table STE still translates (a page not in the TLB, so the walk runs through it too).
    const stale = delta(l, () => expect(dma(l, { device: 'acc', process: 'p', va: VA + PAGE_SIZE })).toMatchObject({ ok: true, data: '5a5a5a5a' }));
    expect(stale).toMatchObject({ cfgHit: 1, cfgMiss: 0, tlbMiss: 1 });
    sync(l, 'acc', { op: 'CFGI_STE', sid: d.sid, leaf: true });
    const fresh = delta(l, () => expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: false, event: null, events: [] }));
    expect(fresh).toMatchObject({ cfgMiss: 1 });
  });

  it('CFGI_STE for one SID leaves the other streams cached', () => {
    const l = soc();
    bound(l, 'acc');
    bound(l, 'acc2', 'q');
    dma(l, { device: 'acc', process: 'p', va: VA });
    dma(l, { device: 'acc2', process: 'q', va: VA });
    sync(l, 'acc', { op: 'CFGI_STE', sid: 0x40, leaf: true });
    expect(delta(l, () => dma(l, { device: 'acc2', process: 'q', va: VA }))).toMatchObject({ cfgHit: 1, cfgMiss: 0 });
    expect(delta(l, () => dma(l, { device: 'acc', process: 'p', va: VA }))).toMatchObject({ cfgHit: 0, cfgMiss: 1 });
  });

  it('serves a stale CD until CFGI_CD: a CD cleared in memory (V = 0) keeps translating until invalidated', () => {
    const l = soc();
    const pasid = bound(l);
    const t = dev(l, 'acc').master.cdTable!;
    expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: true });
    l.kernel.mem.writeWords(armSmmuCdPa(t, pasid)!, new Uint32Array(16));
    expect(dma(l, { device: 'acc', process: 'p', va: VA + PAGE_SIZE })).toMatchObject({ ok: true, data: '5a5a5a5a' });
    // CFGI_CD for another SSID does not drop it.
    sync(l, 'acc', { op: 'CFGI_CD', sid: 0x40, ssid: pasid + 1, leaf: true });
    expect(dma(l, { device: 'acc', process: 'p', va: VA + 2 * PAGE_SIZE })).toMatchObject({ ok: true });
    sync(l, 'acc', { op: 'CFGI_CD', sid: 0x40, ssid: pasid, leaf: true });
    expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: false, event: 'C_BAD_CD' });
  });

  it('CFGI_CD_ALL drops every cached CD of the stream; CFGI_ALL every STE', () => {
    const l = soc();
    const pasid = bound(l);
    const cdPa = armSmmuCdPa(dev(l, 'acc').master.cdTable!, pasid)!;
    dma(l, { device: 'acc', process: 'p', va: VA });
    const w = l.kernel.mem.readWords(cdPa, 16);
    setF(w, CD_FIELD.R, 0);
    l.kernel.mem.writeWords(cdPa, w);
    // Still R = 1 from the cache: the fault is recorded.
    expect(dma(l, { device: 'acc', process: 'p', va: 0x900000 })).toMatchObject({ event: 'F_TRANSLATION' });
    sync(l, 'acc', { op: 'CFGI_CD_ALL', sid: 0x40 });
    expect(dma(l, { device: 'acc', process: 'p', va: 0x900000 })).toMatchObject({ ok: false, event: null });
    const d = dev(l, 'acc');
    l.kernel.mem.writeWords(d.smmu.stePa(d.sid), encodeSte({ v: true, config: STE_CONFIG.BYPASS }));
    expect(dma(l, { device: 'acc', ssid: pasid, va: VA })).toMatchObject({ ok: true });
    sync(l, 'acc', { op: 'CFGI_ALL' });
    expect(dma(l, { device: 'acc', ssid: pasid, va: VA })).toMatchObject({ ok: false, event: 'C_BAD_SUBSTREAMID' });
  });
});

describe('TLB', () => {
  it('a walk fills the TLB; the same page then hits without reading the page table', () => {
    const l = soc();
    bound(l);
    expect(delta(l, () => dma(l, { device: 'acc', process: 'p', va: VA }))).toMatchObject({ tlbMiss: 1, tlbHit: 0 });
    expect(delta(l, () => dma(l, { device: 'acc', process: 'p', va: VA + 0x800, length: 8 }))).toMatchObject({ tlbMiss: 0, tlbHit: 1 });
    // A transfer across two pages: one lookup per page.
    expect(delta(l, () => dma(l, { device: 'acc', process: 'p', va: VA + PAGE_SIZE - 4, length: 8 }))).toMatchObject({ tlbMiss: 1, tlbHit: 1 });
    expect(dev(l, 'acc').smmu.hw.tlbSize()).toBe(2);
  });

  it('serves a stale translation until TLBI_NH_VA: a PTE moved to another page is not seen until invalidated', () => {
    const l = soc();
    const pasid = bound(l);
    touch(l, 'p', VA + PAGE_SIZE, 4, 'b0b0b0b0');
    expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: true, data: '5a5a5a5a' });
    // Point VA's PTE at the page behind VA + 4K (a remap without the TLBI).
    const mem = l.kernel.mem;
    const a = pteAddr(l, 'p', VA);
    const b = pteAddr(l, 'p', VA + PAGE_SIZE);
    mem.write32(a + 4, mem.read32(b + 4));
    mem.write32(a, mem.read32(b));
    expect(delta(l, () => expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: true, data: '5a5a5a5a' }))).toMatchObject({ tlbHit: 1, tlbMiss: 0 });
    const asid = dev(l, 'acc').master.cdTable!.cds.get(pasid)!.asid;
    // A TLBI for another VA, or for another ASID, leaves it.
    sync(l, 'acc', { op: 'TLBI_NH_VA', asid, addr: VA + 3 * PAGE_SIZE, leaf: true });
    sync(l, 'acc', { op: 'TLBI_NH_VA', asid: asid + 1, addr: VA, leaf: true });
    expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ data: '5a5a5a5a' });
    sync(l, 'acc', { op: 'TLBI_NH_VA', asid, addr: VA, leaf: true });
    expect(delta(l, () => expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: true, data: 'b0b0b0b0' }))).toMatchObject({ tlbHit: 0, tlbMiss: 1 });
  });

  it('serves a stale translation of a cleared PTE until TLBI_NH_ASID, which drops only that ASID', () => {
    const l = soc();
    const pasidP = bound(l, 'acc');
    const pasidQ = bound(l, 'acc2', 'q');
    for (const va of [VA, VA + PAGE_SIZE]) dma(l, { device: 'acc', process: 'p', va });
    dma(l, { device: 'acc2', process: 'q', va: VA });
    const hw = dev(l, 'acc').smmu.hw;
    expect(hw.tlbSize()).toBe(3);
    for (const va of [VA, VA + PAGE_SIZE]) {
      const a = pteAddr(l, 'p', va);
      l.kernel.mem.write32(a, 0);
      l.kernel.mem.write32(a + 4, 0);
    }
    expect(dma(l, { device: 'acc', process: 'p', va: VA + PAGE_SIZE })).toMatchObject({ ok: true, data: '5a5a5a5a' });
    const asidP = dev(l, 'acc').master.cdTable!.cds.get(pasidP)!.asid;
    const asidQ = dev(l, 'acc2').master.cdTable!.cds.get(pasidQ)!.asid;
    expect(asidP).not.toBe(asidQ);
    sync(l, 'acc', { op: 'TLBI_NH_ASID', asid: asidP });
    expect(hw.tlbSize()).toBe(1);
    expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: false, event: 'F_TRANSLATION' });
    expect(delta(l, () => dma(l, { device: 'acc2', process: 'q', va: VA }))).toMatchObject({ tlbHit: 1, tlbMiss: 0 });
  });

  it("the kernel's own munmap sends the TLBI: the next DMA walks and faults (no stale entry)", () => {
    const l = soc();
    bound(l);
    dma(l, { device: 'acc', process: 'p', va: VA });
    step(l, { op: 'unmap', args: { process: 'p', va: VA, length: PAGE_SIZE, notify: true } });
    const cmds = dev(l, 'acc').smmu.hw.cmdLog.slice(-2).map((c) => c.cmd.op);
    expect(cmds).toEqual(['TLBI_NH_VA', 'CMD_SYNC']);
    expect(delta(l, () => expect(dma(l, { device: 'acc', process: 'p', va: VA })).toMatchObject({ ok: false, event: 'F_TRANSLATION' }))).toMatchObject({ tlbMiss: 1, tlbHit: 0 });
  });

  it('the stats are visible in the state view', () => {
    const l = soc();
    bound(l);
    dma(l, { device: 'acc', process: 'p', va: VA });
    dma(l, { device: 'acc', process: 'p', va: VA });
    expect(l.view()).toMatchObject({ smmus: { smmu0: { stats: { tlbMiss: 1, tlbHit: 1, cfgMiss: 1, cfgHit: 1, tlb_entries: 1 } } } });
  });
});

describe('a CD write: the kernel update in memory, its syncs on the command queue', () => {
  it('a bind fills the CD with two CFGI_CD + CMD_SYNC pairs (V = 0 -> valid), an unbind clears it with two more', () => {
    const l = soc();
    const hw = dev(l, 'acc').smmu.hw;
    const seq0 = hw.cmdSeq;
    const residentBefore = l.kernel.mem.residentBytes();
    const pasid = bind(l, 'p', 'acc').pasid!;
    const master = dev(l, 'acc').master;
    const t = master.cdTable!;
    const pa = armSmmuCdPa(t, pasid)!;
    const cd = t.cds.get(pasid)!;
    // arm-smmu-v3-test.c arm_smmu_v3_write_cd_test_sva_clear: NUM_EXPECTED_SYNCS(2) each way.
    const bindCmds = hw.cmdLog.filter((c) => c.seq >= seq0).map((c) => c.cmd);
    const cdCmds = bindCmds.filter((c) => c.op === 'CFGI_CD' && c.ssid === pasid);
    expect(cdCmds).toHaveLength(2);
    expect(cdCmds.every((c) => c.leaf === true && c.sid === master.sid)).toBe(true);
    // Each CFGI_CD is followed by its CMD_SYNC.
    for (let i = 0; i < bindCmds.length; i++) if (bindCmds[i]!.op === 'CFGI_CD') expect(bindCmds[i + 1]!.op).toBe('CMD_SYNC');
    expect([...l.kernel.mem.readWords(pa, 16)]).toEqual([...cdWords(cd)]);
    const seq1 = hw.cmdSeq;
    step(l, { op: 'unbind', args: { process: 'p', device: 'acc' } });
    const unbindCd = hw.cmdLog.filter((c) => c.seq >= seq1).map((c) => c.cmd).filter((c) => c.op === 'CFGI_CD' && c.ssid === pasid);
    expect(unbindCd).toHaveLength(2);
    expect([...l.kernel.mem.readWords(pa, 16)]).toEqual(new Array(16).fill(0));
    // The cleared CD's block is given back: memory holds what it held before the bind.
    expect(l.kernel.mem.residentBytes()).toBe(residentBefore);
  });
});
