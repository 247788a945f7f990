/**
 * PCIe ATS on the SMMUv3 (IDR0.ATS) as the arm-smmu-v3 driver runs it: arm_smmu_ats_supported, the ATS half of
 * arm_smmu_attach_prepare/arm_smmu_attach_commit (STE.EATS, arm_smmu_enable_ats, ATC invalidation when the
 * translation changes), arm_smmu_atc_inv_domain from the mmu notifier and from arm_smmu_mm_release,
 * arm_smmu_atc_inv_master at a PASID detach, arm_smmu_atc_inv_to_cmd's range rounding; and the endpoint's ATC,
 * which keeps serving what it cached until the ATS Invalidate Request the command sends arrives.
 */
import { describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.js';
import type { Cmd } from '../../src-main/sim/hw/commands.js';
import { ATC_INV_SIZE_ALL } from '../../src-main/sim/hw/commands.js';
import { Atc } from '../../src-main/sim/hw/atc.js';
import { decodeSte, EATS, STE_FIELD } from '../../src-main/sim/hw/ste.js';
import { setF } from '../../src-main/sim/hw/bits.js';
import { PAGE_SIZE } from '../../src-main/sim/hw/memory.js';
import { armSmmuCmd, atcInvCmd } from '../../src-main/sim/smmuv3/driver.js';
import { attachRid, bind, dev, exit, mkLab, step, unbind, view, type DevIn, type SmmuIn } from '../unit/helpers.js';

const NIC: DevIn = { name: 'nic', kind: 'pci', smmu: 'smmu0', sid: 0x100, pasid_bits: 8, ats: true };
const VA = 0x400000;

function lab(smmu: Partial<SmmuIn> = { ats: true }, devices: DevIn[] = [NIC]): Lab {
  return mkLab(devices, { smmus: [{ name: 'smmu0', ssidsize: 20, ...smmu }] });
}

/** Commands issued from now on, as the driver issued them. */
function commandsFrom(l: Lab, device: string): () => Cmd[] {
  const hw = dev(l, device).smmu.hw;
  const from = hw.cmdSeq;
  return () => hw.lastCommands(hw.cmdSeq - from).map((c) => c.cmd);
}

function steEats(l: Lab, device: string): number {
  const d = dev(l, device);
  return decodeSte(d.smmu.mem.readWords(d.smmu.stePa(d.sid), 16)).eats;
}

function boundProcess(l: Lab, device = 'nic', pages = 4): number {
  expect(step(l, { op: 'map', args: { process: 'p', va: VA, length: pages * PAGE_SIZE, write: true } }).ok).toBe(true);
  expect(step(l, { op: 'touch', args: { process: 'p', va: VA, length: pages * PAGE_SIZE, write: true, data: '5a' } }).ok).toBe(true);
  const r = bind(l, 'p', device);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r.pasid!;
}

const dma = (l: Lab, va: number, write = false, device = 'nic') =>
  step(l, { op: 'dma', args: write ? { device, process: 'p', va, length: 4, write, data: 'c3' } : { device, process: 'p', va, length: 4, write } });

describe('arm_smmu_ats_supported and the STE', () => {
  it.each([
    ['the SMMU without IDR0.ATS', { ats: false }, NIC],
    ['a function without the ATS capability', { ats: true }, { ...NIC, ats: false }],
  ])('%s: ATS stays off, STE.EATS = 0, no ATC_INV', (_n, smmu, d) => {
    const l = lab(smmu, [d]);
    expect(view(l).devices.nic.pci).toMatchObject({ ats_enabled: false });
    expect(steEats(l, 'nic')).toBe(EATS.ABT);
    expect(dev(l, 'nic').smmu.hw.cmdLog.some((c) => c.cmd.op === 'ATC_INV')).toBe(false);
  });

  it('both: the DMA domain attach sets STE.EATS = TRANS, then arm_smmu_enable_ats flushes the whole ATC before pci_enable_ats', () => {
    const l = lab();
    expect(view(l).devices.nic.pci).toMatchObject({ ats_cap: true, ats_enabled: true });
    expect(steEats(l, 'nic')).toBe(EATS.TRANS);
    const cmds = dev(l, 'nic').smmu.hw.cmdLog.map((c) => c.cmd);
    const i = cmds.findIndex((c) => c.op === 'ATC_INV');
    expect(cmds[i]).toEqual({ op: 'ATC_INV', sid: 0x100, ssid: 0, ssv: false, size: ATC_INV_SIZE_ALL, addr: 0 });
    expect(cmds[i + 1]).toEqual({ op: 'CMD_SYNC' });
    // The STE with EATS was written before (the CFGI_STE comes first).
    expect(cmds.slice(0, i).some((c) => c.op === 'CFGI_STE')).toBe(true);
  });

  it('a PASID attach with ATS already on invalidates that PASID in the ATC (the translation changed)', () => {
    const l = lab();
    const cmds = commandsFrom(l, 'nic');
    const pasid = boundProcess(l);
    const atc = cmds().filter((c) => c.op === 'ATC_INV');
    expect(atc).toEqual([{ op: 'ATC_INV', sid: 0x100, ssid: pasid, ssv: true, size: ATC_INV_SIZE_ALL, addr: 0 }]);
  });

  it('identity RID without PASIDs: a plain bypass STE, ATS off (pci_disable_ats, then a full ATC_INV)', () => {
    const l = lab();
    const cmds = commandsFrom(l, 'nic');
    expect(attachRid(l, 'nic', 'identity').ok).toBe(true);
    expect(view(l).devices.nic.ste).toBe('bypass');
    expect(view(l).devices.nic.pci.ats_enabled).toBe(false);
    expect(cmds().filter((c) => c.op === 'ATC_INV')).toEqual([{ op: 'ATC_INV', sid: 0x100, ssid: 0, ssv: false, size: ATC_INV_SIZE_ALL, addr: 0 }]);
    // A PASID on the identity RID brings ATS back with a CD-table STE, S1DSS = bypass (cd_needs_ats).
    boundProcess(l);
    expect(view(l).devices.nic.ste).toBe('cdtable/bypass');
    expect(view(l).devices.nic.pci.ats_enabled).toBe(true);
    expect(steEats(l, 'nic')).toBe(EATS.TRANS);
  });
});

describe('the endpoint ATC on the data path', () => {
  it('the first access is an ATS Translation Request (an SMMU walk) cached in the ATC; the next is a Translated request', () => {
    const l = lab();
    boundProcess(l);
    const hw = dev(l, 'nic').smmu.hw;
    expect(dma(l, VA)).toMatchObject({ ok: true, data: '5a5a5a5a' });
    expect(hw.stats.tlbMiss).toBe(1);
    const tlb = { ...hw.stats };
    expect(dma(l, VA + 8)).toMatchObject({ ok: true, data: '5a5a5a5a' });
    // Answered by the ATC: the SMMU neither walked nor looked up its TLB.
    expect(hw.stats.tlbMiss).toBe(tlb.tlbMiss);
    expect(hw.stats.tlbHit).toBe(tlb.tlbHit);
    expect(view(l).devices.nic.pci.atc).toMatchObject({ entries: 1, hit: 1, miss: 1 });
  });

  it('a read-only ATC entry does not serve a write: a new Translation Request, which grants no write: F_PERMISSION, recorded', () => {
    const l = lab();
    boundProcess(l);
    expect(step(l, { op: 'map', args: { process: 'p', va: 0x800000, length: PAGE_SIZE, write: false } }).ok).toBe(true);
    expect(step(l, { op: 'touch', args: { process: 'p', va: 0x800000, length: 4, write: false } }).ok).toBe(true);
    expect(dma(l, 0x800000)).toMatchObject({ ok: true });
    // Without PRI the endpoint falls back to an untranslated write, which the SMMU faults and records.
    expect(dma(l, 0x800000, true)).toMatchObject({ ok: false, event: 'F_PERMISSION', events: ['F_PERMISSION'] });
  });

  it('munmap with the notifier: TLBI_NH_VA + CMD_SYNC, then ATC_INV of that page for the PASID + CMD_SYNC; the ATC forgets it', () => {
    const l = lab();
    const pasid = boundProcess(l);
    expect(dma(l, VA)).toMatchObject({ ok: true });
    const cmds = commandsFrom(l, 'nic');
    expect(step(l, { op: 'unmap', args: { process: 'p', va: VA, length: PAGE_SIZE, notify: true } }).ok).toBe(true);
    const asid = dev(l, 'nic').master.cdTable!.cds.get(pasid)!.asid;
    expect(cmds()).toEqual([
      { op: 'TLBI_NH_VA', asid, addr: VA, leaf: false },
      { op: 'CMD_SYNC' },
      { op: 'ATC_INV', sid: 0x100, ssid: pasid, ssv: true, size: 0, addr: VA },
      { op: 'CMD_SYNC' },
    ]);
    expect(view(l).devices.nic.pci.atc.entries).toBe(0);
    // The next access asks again; the ATS request faults unrecorded, the untranslated retry faults recorded.
    expect(dma(l, VA)).toMatchObject({ ok: false, event: 'F_TRANSLATION', events: ['F_TRANSLATION'] });
  });

  it('munmap without the notifier: no ATC_INV, and the ATC keeps sending the freed page to memory (isolation)', () => {
    const l = lab();
    boundProcess(l);
    expect(dma(l, VA)).toMatchObject({ ok: true });
    const cmds = commandsFrom(l, 'nic');
    expect(step(l, { op: 'unmap', args: { process: 'p', va: VA, length: PAGE_SIZE, notify: false } }).ok).toBe(true);
    expect(cmds()).toEqual([]);
    const before = dev(l, 'nic').smmu.hw.stats.tlbHit;
    const rec = l.apply({ op: 'dma', args: { device: 'nic', process: 'p', va: VA, length: 4, write: false } });
    expect(rec.result).toMatchObject({ ok: true, data: '00000000' });
    expect(dev(l, 'nic').smmu.hw.stats.tlbHit).toBe(before); // the SMMU was not asked
    expect(rec.findings.map((f) => f.invariant)).toEqual(['isolation']);
  });

  it('a range unmap becomes one ATC_INV over the smallest aligned power-of-two span (arm_smmu_atc_inv_to_cmd)', () => {
    const l = lab();
    const pasid = boundProcess(l, 'nic', 4);
    const cmds = commandsFrom(l, 'nic');
    // Pages 0x401..0x403 (VA + 4K .. VA + 16K - 1): 0x401 ^ 0x403 = 0b10, span 2^2 pages from 0x400.
    expect(step(l, { op: 'unmap', args: { process: 'p', va: VA + PAGE_SIZE, length: 3 * PAGE_SIZE, notify: true } }).ok).toBe(true);
    expect(cmds().filter((c) => c.op === 'ATC_INV')).toEqual([{ op: 'ATC_INV', sid: 0x100, ssid: pasid, ssv: true, size: 2, addr: VA }]);
  });

  it('unbind (arm_smmu_blocking_set_dev_pasid): the CD cleared, then ATC_INV of that PASID; its ATC entries go', () => {
    const l = lab();
    const pasid = boundProcess(l);
    expect(dma(l, VA)).toMatchObject({ ok: true });
    const cmds = commandsFrom(l, 'nic');
    expect(unbind(l, 'p', 'nic').ok).toBe(true);
    const c = cmds();
    const cfgi = c.findIndex((x) => x.op === 'CFGI_CD' && x.ssid === pasid);
    const inv = c.findIndex((x) => x.op === 'ATC_INV');
    expect(cfgi).toBeGreaterThanOrEqual(0);
    expect(inv).toBeGreaterThan(cfgi);
    expect(c[inv]).toEqual({ op: 'ATC_INV', sid: 0x100, ssid: pasid, ssv: true, size: ATC_INV_SIZE_ALL, addr: 0 });
    expect(view(l).devices.nic.pci.atc.entries).toBe(0);
  });

  it('exit (arm_smmu_mm_release): TLBI_NH_ASID + CMD_SYNC, then ATC_INV of every ATS master of the domain + CMD_SYNC', () => {
    const l = lab();
    const pasid = boundProcess(l);
    const cmds = commandsFrom(l, 'nic');
    expect(exit(l, 'p', true).ok).toBe(true);
    const c = cmds();
    const asid = dev(l, 'nic').master.cdTable!.cds.get(pasid)!.asid;
    const i = c.findIndex((x) => x.op === 'TLBI_NH_ASID');
    expect(c.slice(i, i + 4)).toEqual([
      { op: 'TLBI_NH_ASID', asid },
      { op: 'CMD_SYNC' },
      { op: 'ATC_INV', sid: 0x100, ssid: pasid, ssv: true, size: ATC_INV_SIZE_ALL, addr: 0 },
      { op: 'CMD_SYNC' },
    ]);
  });

  it('without ATS, arm_smmu_mm_release issues no ATC_INV at all (arm_smmu_atc_inv_domain returns at once)', () => {
    const l = lab({ ats: false });
    boundProcess(l);
    const cmds = commandsFrom(l, 'nic');
    expect(exit(l, 'p', true).ok).toBe(true);
    expect(cmds().some((c) => c.op === 'ATC_INV')).toBe(false);
  });
});

describe('the SMMU side of ATS', () => {
  it('a Translation Request to an STE without EATS is F_BAD_ATS_TREQ; a Translated request to one is F_TRANSL_FORBIDDEN', () => {
    const l = lab();
    boundProcess(l);
    expect(dma(l, VA)).toMatchObject({ ok: true }); // VA's page is now in the ATC
    // A driver bug: EATS cleared in memory while the function keeps ATS enabled.
    const d = dev(l, 'nic');
    const pa = d.smmu.stePa(d.sid);
    const w = d.smmu.mem.readWords(pa, 16);
    setF(w, STE_FIELD.EATS, EATS.ABT);
    d.smmu.mem.writeWords(pa, w);
    armSmmuCmd(l.kernel, d.smmu, { op: 'CFGI_STE', sid: d.sid, leaf: true });
    expect(dma(l, VA)).toMatchObject({ ok: false, event: 'F_TRANSL_FORBIDDEN' });
    expect(dma(l, VA + PAGE_SIZE)).toMatchObject({ ok: false, event: 'F_BAD_ATS_TREQ' });
  });

  it('a stage-1 fault on a Translation Request is reported to the endpoint only: no event, no stall', () => {
    const l = lab({ ats: true, stall: 'force' });
    boundProcess(l);
    const hw = dev(l, 'nic').smmu.hw;
    const r = hw.translate({ sid: 0x100, ssid: 1, va: 0x900000, write: false, ats: true });
    expect(r).toMatchObject({ ok: false, fault: 'F_TRANSLATION', event: null, stalled: false });
    expect(hw.evtq.entries).toHaveLength(0);
  });
});

describe('atcInvCmd (arm_smmu_atc_inv_to_cmd) and the ATC', () => {
  it('rounds a range to the smallest naturally aligned power-of-two span of pages', () => {
    // The kernel's own examples: pages [8; 11] -> span 4 from 8; pages [7; 10] -> span 16 from 0.
    expect(atcInvCmd(1, 3, 8 * 4096, 4 * 4096)).toEqual({ op: 'ATC_INV', sid: 1, ssid: 3, ssv: true, size: 2, addr: 8 * 4096 });
    expect(atcInvCmd(1, 3, 7 * 4096, 4 * 4096)).toEqual({ op: 'ATC_INV', sid: 1, ssid: 3, ssv: true, size: 4, addr: 0 });
    expect(atcInvCmd(1, 0, 0x1234, 1)).toEqual({ op: 'ATC_INV', sid: 1, ssid: 0, ssv: false, size: 0, addr: 0x1000 });
    expect(atcInvCmd(1, 5, 0, 0)).toEqual({ op: 'ATC_INV', sid: 1, ssid: 5, ssv: true, size: ATC_INV_SIZE_ALL, addr: 0 });
    // Above 32 bits the XOR must not wrap.
    expect(atcInvCmd(1, 1, 2 ** 40, 4096)).toMatchObject({ size: 0, addr: 2 ** 40 });
  });

  it('SSV = 1 drops only that PASID in range; SSV = 0 drops every PASID in range (no PASID-less-only invalidation)', () => {
    const atc = new Atc(1);
    atc.insert(1, 0x1000, 0xa000, true);
    atc.insert(2, 0x1000, 0xb000, true);
    atc.insert(null, 0x1000, 0xc000, true);
    atc.insert(1, 0x9000, 0xd000, true);
    atc.invalidate({ op: 'ATC_INV', ssv: true, ssid: 1, size: 0, addr: 0x1000 });
    expect(atc.lookup(1, 0x1000)).toBeUndefined();
    expect(atc.lookup(2, 0x1000)).toBeDefined();
    expect(atc.lookup(1, 0x9000)).toBeDefined();
    atc.invalidate({ op: 'ATC_INV', ssv: false, ssid: 0, size: 1, addr: 0 });
    expect(atc.lookup(2, 0x1000)).toBeUndefined();
    expect(atc.lookup(null, 0x1000)).toBeUndefined();
    expect(atc.lookup(1, 0x9000)).toBeDefined();
    atc.invalidate({ op: 'ATC_INV', ssv: false, ssid: 0, size: ATC_INV_SIZE_ALL, addr: 0 });
    expect(atc.size).toBe(0);
  });
});
