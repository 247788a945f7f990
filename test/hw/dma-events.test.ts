/**
 * Every SMMUv3 event of kernel-semantics.md §5.9 that the model can raise, driven through a Lab: by steps where
 * Linux produces the condition, and by writing the structures in simulated memory (followed by the invalidation a
 * driver would send) where Linux never does (C_BAD_STE, F_STE_FETCH, F_CD_FETCH, F_ACCESS, F_ADDR_SIZE). Each test
 * checks the event record (SID, SSV, SSID, STALL, STAG, RnW, input address), and that the four translation faults
 * are recorded only when the CD says so (CD.R, or CD.S: a stall is always reported) while configuration errors
 * (C_BAD_*, F_*_FETCH, F_STREAM_DISABLED) always are. Then the event queue overflow (SMMUv3 §7.4).
 *
 * Expectations come from the SMMUv3 specification (§5.2 STE, §5.4 CD, §5.5 A/R/S, §7.3 events, §7.4 overflow) and
 * kernel-semantics.md, not from the model. One deliberate departure from §5.5's table: an abort STE (Config 0b000)
 * records nothing even for SSV = 1 traffic (SMMUv3 §5.2: "Report abort to device, no event recorded").
 */
import { describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.js';
import type { StepResult } from '../../shared/results.js';
import type { EventRecord } from '../../src-main/sim/hw/events.js';
import { CD_FIELD, encodeCdL1 } from '../../src-main/sim/hw/cd.js';
import { setF } from '../../src-main/sim/hw/bits.js';
import { STE_FIELD, encodeStrtabL1 } from '../../src-main/sim/hw/ste.js';
import { PAGE_SIZE } from '../../src-main/sim/hw/memory.js';
import { armSmmuCdPa, armSmmuCmd } from '../../src-main/sim/smmuv3/driver.js';
import type { Cmd } from '../../src-main/sim/hw/commands.js';
import { attachRid, bind, dev, exit, mkLab, proc, step, unbind, type DevIn, type SmmuIn } from '../unit/helpers.js';

// --- fixtures --------------------------------------------------------------------------------------------------

const SMALL: DevIn = { name: 'small', smmu: 'smmu0', sid: 0x10, pasid_bits: 2, stall: true };
const BIG: DevIn = { name: 'big', smmu: 'smmu0', sid: 0x20, pasid_bits: 20 };
const NOPASID: DevIn = { name: 'nopasid', smmu: 'smmu0', sid: 0x30 };
const ACC: DevIn = { name: 'acc', smmu: 'smmu0', sid: 0x40, pasid_bits: 4 }; // no stall: CD.S = 0, CD.R = 1

function soc(devices: DevIn[] = [SMALL, BIG, NOPASID, ACC], smmus?: SmmuIn[]): Lab {
  return mkLab(devices, smmus ? { smmus } : {});
}

const VA = 0x400000;

interface DmaIn {
  device: string;
  process?: string;
  ssid?: number;
  sid?: number;
  va: number;
  length?: number;
  write?: boolean;
  data?: string;
}

/** One DMA step; returns its result and the event records the driver's evtq thread consumed during it. */
function dma(l: Lab, a: DmaIn): { r: StepResult; recs: EventRecord[] } {
  const before = l.kernel.smmuEvents.length;
  const args = { length: 4, write: false, ...a };
  const r = step(l, { op: 'dma', args });
  return { r, recs: l.kernel.smmuEvents.slice(before).map((e) => e.record) };
}

const map = (l: Lab, process: string, va: number, length: number, write = true): StepResult => step(l, { op: 'map', args: { process, va, length, write } });
const touch = (l: Lab, process: string, va: number, length: number, data?: string): StepResult =>
  step(l, { op: 'touch', args: data === undefined ? { process, va, length, write: false } : { process, va, length, write: true, data } });

/** The driver's way of making a structure change visible: the invalidation, then CMD_SYNC. */
function sync(l: Lab, device: string, c: Cmd): void {
  const d = dev(l, device);
  armSmmuCmd(l.kernel, d.smmu, c);
  armSmmuCmd(l.kernel, d.smmu, { op: 'CMD_SYNC' });
}

/** PA of a device's CD `ssid` (where the driver wrote it). */
function cdPa(l: Lab, device: string, ssid: number): number {
  const pa = armSmmuCdPa(dev(l, device).master.cdTable!, ssid);
  if (pa === null) throw new Error(`no CD ${ssid} on ${device}`);
  return pa;
}

/** Rewrites some fields of a CD in memory (read-modify-write of its 16 words). */
function patchCd(l: Lab, device: string, ssid: number, f: (w: Uint32Array) => void): void {
  const mem = l.kernel.mem;
  const pa = cdPa(l, device, ssid);
  const w = mem.readWords(pa, 16);
  f(w);
  mem.writeWords(pa, w);
}

/** Address of the L3 (page) descriptor of `va` in a process's page table, by an independent 4-level walk. */
function pteAddr(l: Lab, process: string, va: number): number {
  const mem = l.kernel.mem;
  let table = proc(l, process).mm.as!.pt.root;
  const idx = [Math.floor(va / 2 ** 39) % 512, Math.floor(va / 2 ** 30) % 512, Math.floor(va / 2 ** 21) % 512, Math.floor(va / 2 ** 12) % 512];
  for (let level = 0; level < 3; level++) {
    const a = table + idx[level]! * 8;
    const lo = mem.read32(a);
    const hi = mem.read32(a + 4);
    if ((lo & 3) !== 3) throw new Error(`no table at L${level} for 0x${va.toString(16)}`);
    table = (hi & 0xffff) * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
  }
  return table + idx[3]! * 8;
}

/** A record as the spec lays it out for these tests (the fields an event carries). */
function fields(e: EventRecord): Pick<EventRecord, 'id' | 'sid' | 'ssv' | 'ssid' | 'stall' | 'stag' | 'rnw' | 'addr'> {
  return { id: e.id, sid: e.sid, ssv: e.ssv, ssid: e.ssid, stall: e.stall, stag: e.stag, rnw: e.rnw, addr: e.addr };
}

/** P with a mapped, populated page at VA (content 0x5a) bound to `device`; returns P's PASID. */
function boundProcess(l: Lab, device: string, process = 'p'): number {
  map(l, process, VA, 4 * PAGE_SIZE);
  touch(l, process, VA, PAGE_SIZE, '5a');
  const r = bind(l, process, device);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r.pasid!;
}

// --- C_BAD_STREAMID (0x02) --------------------------------------------------------------------------------------

describe('C_BAD_STREAMID', () => {
  it('a StreamID outside the stream table: recorded with that SID, the transaction aborted', () => {
    const l = soc();
    const { r, recs } = dma(l, { device: 'small', sid: 0x12345, va: VA });
    expect(r.ok).toBe(false);
    expect(r.event).toBe('C_BAD_STREAMID');
    expect(recs.map(fields)).toEqual([{ id: 'C_BAD_STREAMID', sid: 0x12345, ssv: false, ssid: 0, stall: false, stag: 0, rnw: true, addr: VA }]);
  });

  it('a StreamID inside the 2-level table whose L1 descriptor is invalid (no L2 for it): C_BAD_STREAMID, with SSV/SSID', () => {
    const l = soc();
    const { r, recs } = dma(l, { device: 'small', sid: 0x5000, ssid: 3, va: VA });
    expect(r.event).toBe('C_BAD_STREAMID');
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ id: 'C_BAD_STREAMID', sid: 0x5000, ssv: true, ssid: 3 });
  });
});

// --- F_STE_FETCH (0x03) -----------------------------------------------------------------------------------------

describe('F_STE_FETCH', () => {
  it('an L1 stream-table descriptor pointing at unbacked memory: the STE fetch aborts (no Linux path does this)', () => {
    const l = soc();
    const hw = dev(l, 'small').smmu.hw;
    const st = hw.strtab!;
    expect(st.fmt).toBe('2lvl');
    const unbacked = 0x7ff00000;
    expect(l.kernel.mem.regionAt(unbacked)).toBeUndefined();
    l.kernel.mem.writeWords(st.base + 0x50 * 8, encodeStrtabL1(unbacked, 9));
    const { r, recs } = dma(l, { device: 'small', sid: 0x5010, va: VA });
    expect(r.ok).toBe(false);
    expect(r.event).toBe('F_STE_FETCH');
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ id: 'F_STE_FETCH', sid: 0x5010, ssv: false, stall: false });
  });
});

// --- C_BAD_STE (0x04) -------------------------------------------------------------------------------------------

describe('C_BAD_STE', () => {
  it('STE.V = 0 written into the stream table and invalidated with CFGI_STE: C_BAD_STE, with and without an SSID', () => {
    const l = soc();
    const d = dev(l, 'small');
    const mem = l.kernel.mem;
    const pa = d.smmu.stePa(d.sid);
    mem.write32(pa, mem.read32(pa) & ~1); // V = 0 (Linux always keeps STEs valid: an abort STE instead)
    sync(l, 'small', { op: 'CFGI_STE', sid: d.sid, leaf: true });
    const a = dma(l, { device: 'small', va: VA });
    expect(a.r.ok).toBe(false);
    expect(a.recs.map(fields)).toEqual([{ id: 'C_BAD_STE', sid: 0x10, ssv: false, ssid: 0, stall: false, stag: 0, rnw: true, addr: VA }]);
    const b = dma(l, { device: 'small', ssid: 1, va: VA, write: true, data: '00' });
    expect(b.recs).toHaveLength(1);
    expect(b.recs[0]).toMatchObject({ id: 'C_BAD_STE', sid: 0x10, ssv: true, ssid: 1, rnw: false });
  });
});

// --- F_STREAM_DISABLED (0x06) -----------------------------------------------------------------------------------

describe('F_STREAM_DISABLED', () => {
  it('S1DSS = SSID0 (RID on the DMA domain) and a transaction with SSID 0', () => {
    const l = soc();
    const { r, recs } = dma(l, { device: 'small', ssid: 0, va: 0x10000 });
    expect(r.event).toBe('F_STREAM_DISABLED');
    expect(recs.map(fields)).toEqual([{ id: 'F_STREAM_DISABLED', sid: 0x10, ssv: true, ssid: 0, stall: false, stag: 0, rnw: true, addr: 0x10000 }]);
  });

  it('S1DSS = TERMINATE (RID blocked, a PASID bound) and a transaction without an SSID', () => {
    const l = soc();
    attachRid(l, 'acc', 'blocked');
    boundProcess(l, 'acc');
    const { r, recs } = dma(l, { device: 'acc', va: VA });
    expect(r.event).toBe('F_STREAM_DISABLED');
    expect(recs.map(fields)).toEqual([{ id: 'F_STREAM_DISABLED', sid: 0x40, ssv: false, ssid: 0, stall: false, stag: 0, rnw: true, addr: VA }]);
  });

  it('is recorded whatever CD0 says (R = 0 in CD0 does not suppress it)', () => {
    const l = soc();
    patchCd(l, 'small', 0, (w) => setF(w, CD_FIELD.R, 0));
    sync(l, 'small', { op: 'CFGI_CD', sid: 0x10, ssid: 0, leaf: true });
    expect(dma(l, { device: 'small', ssid: 0, va: 0x10000 }).recs.map((e) => e.id)).toEqual(['F_STREAM_DISABLED']);
  });
});

// --- C_BAD_SUBSTREAMID (0x08), each cause of §5.9 -----------------------------------------------------------------

describe('C_BAD_SUBSTREAMID', () => {
  function expectBadSsid(l: Lab, device: string, sid: number, ssid: number, why?: RegExp): void {
    const { r, recs } = dma(l, { device, ssid, va: VA });
    expect(r.ok).toBe(false);
    expect(r.event).toBe('C_BAD_SUBSTREAMID');
    // The record always carries the SSID.
    expect(recs.map(fields)).toEqual([{ id: 'C_BAD_SUBSTREAMID', sid, ssv: true, ssid, stall: false, stag: 0, rnw: true, addr: VA }]);
    if (why) expect(r.why).toMatch(why);
  }

  it('a bypass STE (RID identity, no PASID in use): stage 1 disabled', () => {
    const l = soc();
    attachRid(l, 'acc', 'identity');
    expect(dev(l, 'acc').master.ste.config).toBe('bypass');
    expectBadSsid(l, 'acc', 0x40, 1, /stage 1 disabled/);
    // Without an SSID the same STE bypasses, no event.
    expect(dma(l, { device: 'acc', va: VA }).r).toMatchObject({ ok: true, events: [] });
  });

  it('an S2-only STE (RID on an S2 domain)', () => {
    const l = soc();
    expect(attachRid(l, 'acc', 's2').ok).toBe(true);
    expectBadSsid(l, 'acc', 0x40, 1, /stage 1 disabled/);
  });

  it('STE.S1CDMax = 0 (a device without PASID support), SSID 0 included', () => {
    const l = soc();
    expect(dev(l, 'nopasid').master.cdTable!.s1cdmax).toBe(0);
    expectBadSsid(l, 'nopasid', 0x30, 1, /S1CDMax 0/);
    expectBadSsid(l, 'nopasid', 0x30, 0, /S1CDMax 0/);
  });

  it('SSID >= 2^S1CDMax (SMALL: S1CDMax 2)', () => {
    const l = soc();
    expectBadSsid(l, 'small', 0x10, 4, />= 2\^S1CDMax/);
    expectBadSsid(l, 'small', 0x10, 0xfffff, />= 2\^S1CDMax/);
  });

  it('a 2-level CD table whose L1 descriptor has V = 0 (BIG: leaf 0 exists, leaf 2 does not)', () => {
    const l = soc();
    expect(boundProcess(l, 'big')).toBe(1);
    expect([...dev(l, 'big').master.cdTable!.l2]).toEqual([0]);
    expectBadSsid(l, 'big', 0x20, 2048, /L1 CD descriptor 2/);
    expectBadSsid(l, 'big', 0x20, 1024, /L1 CD descriptor 1/);
  });

  it('SMMU_IDR1.SSIDSIZE = 0: no SubstreamID may be supplied', () => {
    const l = soc([{ name: 'small', smmu: 'smmu0', sid: 0x10, pasid_bits: 2, stall: true }], [{ name: 'smmu0', ssidsize: 0 }]);
    expectBadSsid(l, 'small', 0x10, 1, /SSIDSIZE is 0/);
  });

  it('an abort STE records nothing, even for SSV = 1 traffic (SMMUv3 §5.2 Config 0b000; the deliberate departure from §5.5)', () => {
    const l = soc();
    attachRid(l, 'acc', 'blocked');
    expect(dev(l, 'acc').master.ste.config).toBe('abort');
    for (const ssid of [undefined, 1]) {
      const { r, recs } = dma(l, ssid === undefined ? { device: 'acc', va: VA } : { device: 'acc', ssid, va: VA });
      expect(r.ok).toBe(false);
      expect(r.event).toBeNull();
      expect(recs).toEqual([]);
    }
  });
});

// --- F_CD_FETCH (0x09) ------------------------------------------------------------------------------------------

describe('F_CD_FETCH', () => {
  it('a valid L1 CD descriptor whose leaf pointer names unbacked memory (2-level table)', () => {
    const l = soc();
    boundProcess(l, 'big');
    const t = dev(l, 'big').master.cdTable!;
    const unbacked = 0x7ff00000;
    expect(l.kernel.mem.regionAt(unbacked)).toBeUndefined();
    l.kernel.mem.writeWords(t.region.base + 1 * 8, encodeCdL1(unbacked, true));
    sync(l, 'big', { op: 'CFGI_CD', sid: 0x20, ssid: 1027, leaf: false });
    const { r, recs } = dma(l, { device: 'big', ssid: 1027, va: VA });
    expect(r.ok).toBe(false);
    expect(r.event).toBe('F_CD_FETCH');
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ id: 'F_CD_FETCH', sid: 0x20, ssv: true, ssid: 1027, stall: false });
  });

  it('STE.S1ContextPtr of a linear table moved to unbacked memory and CFGI_STE: the CD fetch aborts', () => {
    const l = soc();
    const d = dev(l, 'small');
    const mem = l.kernel.mem;
    const pa = d.smmu.stePa(d.sid);
    const w = mem.readWords(pa, 16);
    setF(w, STE_FIELD.S1CTXPTR, 0x7ff00000 / 64);
    mem.writeWords(pa, w);
    sync(l, 'small', { op: 'CFGI_STE', sid: d.sid, leaf: true });
    const { recs } = dma(l, { device: 'small', ssid: 2, va: VA });
    expect(recs.map((e) => [e.id, e.ssid])).toEqual([['F_CD_FETCH', 2]]);
  });
});

// --- C_BAD_CD (0x0A) --------------------------------------------------------------------------------------------

describe('C_BAD_CD', () => {
  it('a CD with V = 0 inside the table: never attached, or cleared by unbind', () => {
    const l = soc();
    const a = dma(l, { device: 'small', ssid: 2, va: VA, write: true, data: 'ff' });
    expect(a.r.event).toBe('C_BAD_CD');
    expect(a.recs.map(fields)).toEqual([{ id: 'C_BAD_CD', sid: 0x10, ssv: true, ssid: 2, stall: false, stag: 0, rnw: false, addr: VA }]);
    const pasid = boundProcess(l, 'small');
    expect(dma(l, { device: 'small', ssid: pasid, va: VA }).r).toMatchObject({ ok: true, data: '5a5a5a5a' });
    unbind(l, 'p', 'small');
    const b = dma(l, { device: 'small', ssid: pasid, va: VA });
    expect(b.recs.map((e) => [e.id, e.ssid, e.stall])).toEqual([['C_BAD_CD', pasid, false]]);
  });

  it('an ILLEGAL CD (T0SZ outside 16..39, SMMUv3 §5.4) is C_BAD_CD', () => {
    const l = soc();
    const pasid = boundProcess(l, 'acc');
    patchCd(l, 'acc', pasid, (w) => setF(w, CD_FIELD.T0SZ, 0));
    sync(l, 'acc', { op: 'CFGI_CD', sid: 0x40, ssid: pasid, leaf: true });
    const { r, recs } = dma(l, { device: 'acc', ssid: pasid, va: VA + PAGE_SIZE });
    expect(r.event).toBe('C_BAD_CD');
    expect(recs.map((e) => e.id)).toEqual(['C_BAD_CD']);
  });

  it('an ILLEGAL CD (TTB0 outside the 48-bit range of a 4 KB granule without DS, SMMUv3 §5.4 CD.TTB0) is C_BAD_CD, not a walk fault', () => {
    const l = soc();
    const pasid = boundProcess(l, 'acc');
    patchCd(l, 'acc', pasid, (w) => setF(w, CD_FIELD.TTB0, 2 ** 48 / 16));
    sync(l, 'acc', { op: 'CFGI_CD', sid: 0x40, ssid: pasid, leaf: true });
    const { r, recs } = dma(l, { device: 'acc', ssid: pasid, va: VA + PAGE_SIZE });
    expect(r.ok).toBe(false);
    expect(recs.map((e) => e.id)).toEqual(['C_BAD_CD']);
  });
});

// --- F_TRANSLATION (0x10) ---------------------------------------------------------------------------------------

describe('F_TRANSLATION', () => {
  it('an unmapped VA through a valid CD (no stall): recorded with the input address, RnW, SSID; the DMA fails', () => {
    const l = soc();
    const pasid = boundProcess(l, 'acc');
    const rd = dma(l, { device: 'acc', process: 'p', va: 0x900010, length: 8 });
    expect(rd.r).toMatchObject({ ok: false, event: 'F_TRANSLATION', events: ['F_TRANSLATION'] });
    expect(rd.recs.map(fields)).toEqual([{ id: 'F_TRANSLATION', sid: 0x40, ssv: true, ssid: pasid, stall: false, stag: 0, rnw: true, addr: 0x900010 }]);
    const wr = dma(l, { device: 'acc', process: 'p', va: VA + 2 * PAGE_SIZE + 4, write: true, data: '01' });
    expect(wr.recs.map(fields)).toEqual([{ id: 'F_TRANSLATION', sid: 0x40, ssv: true, ssid: pasid, stall: false, stag: 0, rnw: false, addr: VA + 2 * PAGE_SIZE + 4 }]);
  });

  it('RID traffic through CD0 to an unmapped IOVA: SSV = 0 in the record', () => {
    const l = soc();
    const { recs } = dma(l, { device: 'acc', va: 0x20000 });
    expect(recs.map(fields)).toEqual([{ id: 'F_TRANSLATION', sid: 0x40, ssv: false, ssid: 0, stall: false, stag: 0, rnw: true, addr: 0x20000 }]);
  });

  it('a stall-enabled master: STALL = 1 with a STAG, answered by CMD_RESUME with that STAG after IOPF', () => {
    const l = soc();
    const pasid = boundProcess(l, 'small');
    const hw = dev(l, 'small').smmu.hw;
    const { r, recs } = dma(l, { device: 'small', process: 'p', va: VA + PAGE_SIZE + 8, length: 4, write: true, data: 'aa' });
    expect(r.ok).toBe(true);
    expect(recs).toHaveLength(1);
    const e = recs[0]!;
    expect(fields(e)).toMatchObject({ id: 'F_TRANSLATION', sid: 0x10, ssv: true, ssid: pasid, stall: true, rnw: false, addr: VA + PAGE_SIZE + 8 });
    expect(e.stag).toBeGreaterThan(0);
    const resume = hw.cmdLog.map((c) => c.cmd).filter((c) => c.op === 'RESUME');
    expect(resume).toEqual([expect.objectContaining({ op: 'RESUME', sid: 0x10, stag: e.stag, resp: 'retry' })]);
    expect(hw.stalled.size).toBe(0);
  });

  it('the fault-everything CD after exit (R = 0, S = 0): the DMA fails and nothing is recorded', () => {
    const l = soc();
    boundProcess(l, 'small');
    exit(l, 'p', true);
    expect(dev(l, 'small').master.cdTable!.cds.get(1)).toMatchObject({ kind: 'fault', record: false, stall: false });
    const { r, recs } = dma(l, { device: 'small', process: 'p', va: VA });
    expect(r.ok).toBe(false);
    expect(r.event).toBeNull();
    expect(recs).toEqual([]);
    // A configuration error on the same stream is still recorded.
    expect(dma(l, { device: 'small', ssid: 2, va: VA }).recs.map((e) => e.id)).toEqual(['C_BAD_CD']);
  });

  it('the fault-everything CD on a STALL_FORCE SMMU keeps S = 1, R = 1: recorded, stalled, and IOPF (no live mm) aborts', () => {
    const l = soc([{ name: 'smallf', smmu: 'smmu0', sid: 0x10, pasid_bits: 2 }], [{ name: 'smmu0', ssidsize: 20, stall: 'force' }]);
    const pasid = boundProcess(l, 'smallf');
    exit(l, 'p', true);
    const { r, recs } = dma(l, { device: 'smallf', process: 'p', va: VA });
    expect(r.ok).toBe(false);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ id: 'F_TRANSLATION', sid: 0x10, ssv: true, ssid: pasid, stall: true, addr: VA });
    const resume = dev(l, 'smallf').smmu.hw.cmdLog.map((c) => c.cmd).filter((c) => c.op === 'RESUME');
    expect(resume.at(-1)).toMatchObject({ stag: recs[0]!.stag, resp: 'abort' });
  });
});

// --- F_ADDR_SIZE (0x11) -----------------------------------------------------------------------------------------

describe('F_ADDR_SIZE', () => {
  // SMMUv3 §5.4 CD.IPS: "if the output address of any stage 1 translation has non-zero bits above eff_IPS ... an
  // F_ADDR_SIZE is recorded", eff_IPS = MIN(CD.IPS, SMMU_IDR5.OAS). Linux never maps such an address.
  it.each([
    ['CD.IPS = 0b000 (32 bits)', (l: Lab, pasid: number) => patchCd(l, 'acc', pasid, (w) => setF(w, CD_FIELD.IPS, 0))],
    ['SMMU_IDR5.OAS = 32 bits (CD.IPS 48 is capped to it)', (l: Lab) => void (dev(l, 'acc').smmu.hw.regs.idr5.oas = 32)],
  ])('an output address above the effective IPS: %s', (_name, shrink) => {
    const l = soc();
    const pasid = boundProcess(l, 'acc');
    touch(l, 'p', VA + PAGE_SIZE, 4, '00');
    shrink(l, pasid);
    sync(l, 'acc', { op: 'CFGI_CD', sid: 0x40, ssid: pasid, leaf: true });
    // The page descriptor of VA + 4K now outputs PA 0x1_0000_1000 (bit 32 set): beyond 32 bits.
    const pte = pteAddr(l, 'p', VA + PAGE_SIZE);
    l.kernel.mem.write32(pte + 4, (l.kernel.mem.read32(pte + 4) & ~0xffff) | 0x1);
    const { r, recs } = dma(l, { device: 'acc', process: 'p', va: VA + PAGE_SIZE + 0x20 });
    expect(r.ok).toBe(false);
    expect(r.event).toBe('F_ADDR_SIZE');
    expect(recs.map(fields)).toEqual([{ id: 'F_ADDR_SIZE', sid: 0x40, ssv: true, ssid: pasid, stall: false, stag: 0, rnw: true, addr: VA + PAGE_SIZE + 0x20 }]);
  });
});

// --- F_ACCESS (0x12) --------------------------------------------------------------------------------------------

describe('F_ACCESS', () => {
  it('a page descriptor with AF = 0 (no HTTU, CD.AFFD = 0) and no TLB entry: F_ACCESS, recorded', () => {
    const l = soc();
    const pasid = boundProcess(l, 'acc');
    touch(l, 'p', VA + PAGE_SIZE, 4, '01');
    const pte = pteAddr(l, 'p', VA + PAGE_SIZE);
    l.kernel.mem.write32(pte, l.kernel.mem.read32(pte) & ~(1 << 10)); // PTE_AF
    const { r, recs } = dma(l, { device: 'acc', process: 'p', va: VA + PAGE_SIZE + 4, write: true, data: '02' });
    expect(r.ok).toBe(false);
    expect(r.event).toBe('F_ACCESS');
    expect(recs.map(fields)).toEqual([{ id: 'F_ACCESS', sid: 0x40, ssv: true, ssid: pasid, stall: false, stag: 0, rnw: false, addr: VA + PAGE_SIZE + 4 }]);
  });
});

// --- F_PERMISSION (0x13) ----------------------------------------------------------------------------------------

describe('F_PERMISSION', () => {
  it('a DMA write to a read-only page, on a walk and on a TLB hit', () => {
    const l = soc();
    const pasid = boundProcess(l, 'acc');
    map(l, 'p', 0x600000, 2 * PAGE_SIZE, false);
    touch(l, 'p', 0x600000, 2 * PAGE_SIZE);
    const walk = dma(l, { device: 'acc', process: 'p', va: 0x600008, write: true, data: 'ff' });
    expect(walk.r).toMatchObject({ ok: false, event: 'F_PERMISSION' });
    expect(walk.recs.map(fields)).toEqual([{ id: 'F_PERMISSION', sid: 0x40, ssv: true, ssid: pasid, stall: false, stag: 0, rnw: false, addr: 0x600008 }]);
    // A read fills the TLB with a read-only entry; the write then faults on the hit.
    expect(dma(l, { device: 'acc', process: 'p', va: 0x601000 }).r).toMatchObject({ ok: true, data: '00000000' });
    const hits = dev(l, 'acc').smmu.hw.stats.tlbHit;
    const hit = dma(l, { device: 'acc', process: 'p', va: 0x601010, write: true, data: 'ff' });
    expect(dev(l, 'acc').smmu.hw.stats.tlbHit).toBe(hits + 1);
    expect(hit.recs.map((e) => [e.id, e.rnw, e.addr])).toEqual([['F_PERMISSION', false, 0x601010]]);
  });

  it('a stall-enabled master stalls on F_PERMISSION; IOPF cannot make a read-only VMA writable and aborts', () => {
    const l = soc();
    boundProcess(l, 'small');
    map(l, 'p', 0x600000, PAGE_SIZE, false);
    touch(l, 'p', 0x600000, 4);
    const { r, recs } = dma(l, { device: 'small', process: 'p', va: 0x600000, write: true, data: 'ff' });
    expect(r.ok).toBe(false);
    expect(recs.map((e) => [e.id, e.stall])).toEqual([['F_PERMISSION', true]]);
    const resume = dev(l, 'small').smmu.hw.cmdLog.map((c) => c.cmd).filter((c) => c.op === 'RESUME');
    expect(resume.at(-1)).toMatchObject({ stag: recs[0]!.stag, resp: 'abort' });
  });
});

// --- recording: CD.R and CD.S -----------------------------------------------------------------------------------

describe('recording is the CD\'s decision for translation faults only', () => {
  it('with CD.R = 0 and CD.S = 0, F_TRANSLATION / F_PERMISSION / F_ACCESS abort silently; C_BAD_CD is still recorded', () => {
    const l = soc();
    const pasid = boundProcess(l, 'acc');
    map(l, 'p', 0x600000, PAGE_SIZE, false);
    touch(l, 'p', 0x600000, 4);
    touch(l, 'p', VA + PAGE_SIZE, 4, '01');
    const pte = pteAddr(l, 'p', VA + PAGE_SIZE);
    l.kernel.mem.write32(pte, l.kernel.mem.read32(pte) & ~(1 << 10));
    patchCd(l, 'acc', pasid, (w) => setF(w, CD_FIELD.R, 0));
    sync(l, 'acc', { op: 'CFGI_CD', sid: 0x40, ssid: pasid, leaf: true });
    for (const a of [
      { va: 0x900000 }, // F_TRANSLATION
      { va: 0x600000, write: true, data: 'ff' }, // F_PERMISSION
      { va: VA + PAGE_SIZE }, // F_ACCESS
    ]) {
      const { r, recs } = dma(l, { device: 'acc', process: 'p', ...a });
      expect(r.ok).toBe(false);
      expect(r.event).toBeNull();
      expect(recs).toEqual([]);
    }
    expect(dma(l, { device: 'acc', ssid: pasid + 1, va: VA }).recs.map((e) => e.id)).toEqual(['C_BAD_CD']);
    expect(dma(l, { device: 'acc', ssid: 16, va: VA }).recs.map((e) => e.id)).toEqual(['C_BAD_SUBSTREAMID']);
  });

  it('with CD.R = 0 but CD.S = 1, a stall is always reported (SMMUv3 §5.5) and IOPF resolves it', () => {
    const l = soc();
    const pasid = boundProcess(l, 'small');
    patchCd(l, 'small', pasid, (w) => setF(w, CD_FIELD.R, 0));
    sync(l, 'small', { op: 'CFGI_CD', sid: 0x10, ssid: pasid, leaf: true });
    const { r, recs } = dma(l, { device: 'small', process: 'p', va: VA + 3 * PAGE_SIZE, write: true, data: '3c' });
    expect(r.ok).toBe(true);
    expect(recs.map((e) => [e.id, e.stall])).toEqual([['F_TRANSLATION', true]]);
    expect(touch(l, 'p', VA + 3 * PAGE_SIZE, 2)).toMatchObject({ data: '3c3c' });
  });
});

// --- the event queue overflows ----------------------------------------------------------------------------------

describe('event queue overflow (SMMUv3 §7.4)', () => {
  /** A burst of faulting transactions from SMALL (C_BAD_CD at SSID 2) before the driver's evtq thread runs. */
  function burst(l: Lab, n: number): void {
    const hw = dev(l, 'small').smmu.hw;
    for (let i = 0; i < n; i++) expect(hw.translate({ sid: 0x10, ssid: 2, va: VA + i * 8, write: false }).ok).toBe(false);
  }

  it('past its capacity in one burst: records beyond capacity are discarded and counted; the drain delivers the rest, then recording resumes', () => {
    const l = soc();
    const hw = dev(l, 'small').smmu.hw;
    const cap = hw.evtq.capacity;
    expect(cap).toBeGreaterThan(0);
    burst(l, cap + 10);
    expect(hw.evtq.entries).toHaveLength(cap);
    expect(hw.evtq.produced).toBe(cap);
    expect(hw.evtq.overflowed).toBe(10);
    // The next DMA step runs the driver's evtq thread: it gets the `cap` queued records (the first ones, in order);
    // this DMA's own configuration-error record met a full queue and was discarded too.
    const { r, recs } = dma(l, { device: 'small', ssid: 3, va: VA });
    expect(r.ok).toBe(false);
    expect(recs).toHaveLength(cap);
    expect(recs.every((e) => e.id === 'C_BAD_CD' && e.ssid === 2)).toBe(true);
    expect(recs[0]!.addr).toBe(VA);
    expect(recs[cap - 1]!.addr).toBe(VA + (cap - 1) * 8);
    expect(hw.evtq.overflowed).toBe(11);
    expect(hw.evtq.entries).toHaveLength(0);
    // Space again: the next event is recorded.
    expect(dma(l, { device: 'small', ssid: 3, va: VA }).recs.map((e) => [e.id, e.ssid])).toEqual([['C_BAD_CD', 3]]);
    expect(l.view()).toMatchObject({ smmus: { smmu0: { evtq: { capacity: cap, produced: cap + 1, overflowed: 11, pending: 0 } } } });
  });

  it('a stalled fault record is not discarded on a full queue and causes no overflow; it is reported when the queue is writable', () => {
    const l = soc();
    const hw = dev(l, 'small').smmu.hw;
    boundProcess(l, 'small');
    burst(l, hw.evtq.capacity);
    expect(hw.evtq.overflowed).toBe(0);
    // A stalling DMA fault while the queue is full: §7.4 keeps the stall record and reports it once the driver has
    // drained the queue, so IOPF still runs and the DMA completes.
    const { r, recs } = dma(l, { device: 'small', process: 'p', va: VA + 2 * PAGE_SIZE, write: true, data: '77' });
    expect(hw.evtq.overflowed).toBe(0);
    expect(recs.filter((e) => e.stall).map((e) => e.id)).toEqual(['F_TRANSLATION']);
    expect(r.ok).toBe(true);
  });
});
