/**
 * PCIe PRI on mainline SMMUv3: an ATS endpoint whose Translation Request fails sends a Page Request; the SMMU
 * writes it to the PRI queue (IDR0.PRI); arm_smmu_priq_thread() -> arm_smmu_handle_ppr() logs "unexpected PRI
 * request received" and answers the last request of the group with CMD_PRI_RESP PRI_RESP_DENY (no CMD_SYNC). The
 * page is never faulted in and the transfer fails; nothing is recorded in the event queue.
 */
import { describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.js';
import { decodePri, encodePri, PriQueue, PRIQ_WORDS, type PriRecord } from '../../src-main/sim/hw/priq.js';
import { DSA_COMP, decodeCompletion } from '../../src-main/sim/devices/idxd.js';
import type { Cmd } from '../../src-main/sim/hw/commands.js';
import { bind, dev, mapOnly, mapTouched, mkLab, openWq, readBytes, step, submit, view, write } from './helpers.js';
import type { DevIn, SmmuIn } from '../unit/helpers.js';

const GPU: DevIn = { name: 'gpu', kind: 'pci', smmu: 'smmu0', sid: 0x200, pasid_bits: 8, ats: true, pri: true };
const VA = 0x400000;

function lab(smmu: Partial<SmmuIn> = { ats: true, pri: true }, devices: DevIn[] = [GPU]): Lab {
  return mkLab(devices, { smmus: [{ name: 'smmu0', ssidsize: 20, ...smmu }] });
}

function newCommands(l: Lab, device: string): () => Cmd[] {
  const hw = dev(l, device).smmu.hw;
  const from = hw.cmdSeq;
  return () => hw.lastCommands(hw.cmdSeq - from).map((c) => c.cmd);
}

/** p with a populated page at VA and an untouched one at VA + 4K, bound to `device`. */
function setup(l: Lab, device = 'gpu'): number {
  mapTouched(l, 'p', VA, 0x1000, '11');
  mapOnly(l, 'p', VA + 0x1000, 0x1000);
  const r = bind(l, 'p', device);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r.pasid!;
}

describe('a Page Request on mainline SMMUv3', () => {
  it('lands in the PRI queue, is denied with CMD_PRI_RESP (no CMD_SYNC), records no event; the DMA fails', () => {
    const l = lab();
    const pasid = setup(l);
    const cmds = newCommands(l, 'gpu');
    const rec = l.apply({ op: 'dma', args: { device: 'gpu', process: 'p', va: VA + 0x1010, length: 4, write: false } });
    expect(rec.result).toMatchObject({ ok: false, errno: 'EFAULT', event: null, events: [] });
    expect(rec.result.why).toMatch(/PRI_RESP_DENY/);
    expect(cmds()).toEqual([{ op: 'PRI_RESP', sid: 0x200, ssid: pasid, ssv: true, grpid: 0, resp: 'deny' }]);
    const priq = view(l).smmus.smmu0.priq;
    expect(priq).toMatchObject({ produced: 1, pending: 0, overflowed: 0 });
    expect(priq.last).toEqual([{ sid: 0x200, ssv: true, ssid: pasid, read: true, write: false, exec: false, priv: false, last: true, grpid: 0, addr: VA + 0x1000, resp: 'deny', log: `sid 0x00000200.0x${pasid.toString(16).padStart(5, '0')}: [0L] unprivileged R access at iova 0x${(VA + 0x1000).toString(16).padStart(16, '0')}` }]);
    expect(view(l).smmus.smmu0.evtq.produced).toBe(0);
    // The trace shows the driver's log line and the response command.
    const notes = l.traceOf(rec).map((t) => JSON.stringify(t)).join('\n');
    expect(notes).toMatch(/unexpected PRI request received: sid 0x00000200\.0x00001: \[0L\] unprivileged R access at iova 0x0000000000401000/);
    expect(notes).toMatch(/PRI_RESP sid=0x200 ssid=1 ssv=1 grpid=0 resp=deny/);
    // Nobody faulted the page in: it is still absent from p's page table.
    expect(l.kernel.processes.get('p')!.mm.as!.pt.lookup(VA + 0x1000)).toBeNull();
  });

  it('bytes before the faulting page moved; a write asks for W; each request is a new group', () => {
    const l = lab();
    setup(l);
    const r = step(l, { op: 'dma', args: { device: 'gpu', process: 'p', va: VA + 0xffc, length: 8, write: true, data: 'ee' } });
    expect(r.ok).toBe(false);
    expect(r.reached).toHaveLength(1);
    expect(readBytes(l, 'p', VA + 0xffc, 4).toString('hex')).toBe('eeeeeeee');
    step(l, { op: 'dma', args: { device: 'gpu', process: 'p', va: VA + 0x1000, length: 4, write: false } });
    const last = view(l).smmus.smmu0.priq.last;
    expect(last.map((p: PriRecord) => [p.grpid, p.read, p.write])).toEqual([
      [0, false, true],
      [1, true, false],
    ]);
  });

  it('a populated page is translated by ATS as usual: no page request', () => {
    const l = lab();
    setup(l);
    expect(step(l, { op: 'dma', args: { device: 'gpu', process: 'p', va: VA, length: 4, write: false } })).toMatchObject({ ok: true, data: '11111111' });
    expect(view(l).smmus.smmu0.priq.produced).toBe(0);
  });

  it('an SMMU without IDR0.PRI has no PRI queue: the request is not taken, the DMA fails, nothing is recorded', () => {
    const l = lab({ ats: true, pri: false });
    setup(l);
    const r = step(l, { op: 'dma', args: { device: 'gpu', process: 'p', va: VA + 0x1000, length: 4, write: false } });
    expect(r).toMatchObject({ ok: false, event: null, events: [] });
    expect(r.why).toMatch(/no PRI queue: SMMU_IDR0.PRI = 0/);
    expect(view(l).smmus.smmu0.priq).toBeNull();
    expect(dev(l, 'gpu').smmu.hw.cmdLog.some((c) => c.cmd.op === 'PRI_RESP')).toBe(false);
  });

  it('an ATS endpoint without PRI issues the access untranslated instead: F_TRANSLATION, recorded', () => {
    const l = lab({ ats: true, pri: true }, [{ ...GPU, pri: false }]);
    setup(l);
    const r = step(l, { op: 'dma', args: { device: 'gpu', process: 'p', va: VA + 0x1000, length: 4, write: false } });
    expect(r).toMatchObject({ ok: false, event: 'F_TRANSLATION', events: ['F_TRANSLATION'] });
    expect(view(l).smmus.smmu0.priq.produced).toBe(0);
  });

  it('PRI without ATS enabled (the SMMU lacks IDR0.ATS) sends no page requests: plain untranslated faults', () => {
    const l = lab({ ats: false, pri: true });
    setup(l);
    const r = step(l, { op: 'dma', args: { device: 'gpu', process: 'p', va: VA + 0x1000, length: 4, write: false } });
    expect(r).toMatchObject({ ok: false, event: 'F_TRANSLATION' });
    expect(view(l).smmus.smmu0.priq.produced).toBe(0);
  });

  it('a DSA job on an absent page: the device reports a page fault in its completion record, the PRG was denied', () => {
    const dsa: DevIn = { name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 0x100, pasid_bits: 20, ats: true, pri: true };
    const l = mkLab([dsa], { smmus: [{ name: 'smmu0', ssidsize: 20, ats: true, pri: true }], arch: 'x86' });
    mapTouched(l, 'p', 0x400000, 0x1000);
    mapOnly(l, 'p', 0x401000, 0x1000);
    mapTouched(l, 'p', 0x500000, 0x2000);
    mapTouched(l, 'p', 0x600000, 0x1000);
    write(l, 'p', 0x400ffe, 'abcd');
    openWq(l, 'p', 'dsa0', 'wq0');
    const r = submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'memmove', src: 0x400000, dst: 0x500000, length: 0x2000, completion: 0x600000 });
    expect(r).toMatchObject({ ok: false, errno: 'EFAULT', event: null, events: [] });
    expect(decodeCompletion('dsa', readBytes(l, 'p', 0x600000, 32))).toMatchObject({ status: DSA_COMP.PAGE_FAULT_NOBOF, bytesCompleted: 0x1000, faultAddr: 0x401000 });
    expect(view(l).smmus.smmu0.priq.last.at(-1)).toMatchObject({ sid: 0x100, addr: 0x401000, resp: 'deny' });
  });
});

describe('PRI queue records (arm-smmu-v3.h PRIQ_0_* / PRIQ_1_*)', () => {
  it('encode bit-exactly and round-trip', () => {
    const r: PriRecord = { sid: 0xdeadbeef, ssv: true, ssid: 0xabcde, read: true, write: false, exec: true, priv: false, last: true, grpid: 0x1ff, addr: 0x12_3456_7000 };
    const w = encodePri(r);
    expect(w).toHaveLength(PRIQ_WORDS);
    expect(w[0]).toBe(0xdeadbeef); // SID [31:0]
    // dword 0 high word: SSID [51:32] = 0xabcde, EXEC 59, READ 60, PRG_LAST 62, SSID_V 63
    expect(w[1]).toBe((0xabcde | (1 << 27) | (1 << 28) | (1 << 30) | (1 << 31)) >>> 0);
    expect(w[2]).toBe((0x34567000 | 0x1ff) >>> 0); // PRG_IDX [8:0], ADDR [63:12]: the address bits [31:12] in place
    expect(w[3]).toBe(0x12);
    expect(decodePri(w)).toEqual(r);
    expect(decodePri(encodePri({ ...r, ssv: false }))).toMatchObject({ ssv: false, ssid: 0 });
  });

  it('the queue overflows: requests past its capacity are lost and counted', () => {
    const q = new PriQueue(2);
    const r: PriRecord = { sid: 1, ssv: false, ssid: 0, read: true, write: false, exec: false, priv: false, last: true, grpid: 0, addr: 0 };
    expect(q.push(r)).toBe(true);
    expect(q.push(r)).toBe(true);
    expect(q.push(r)).toBe(false);
    expect(q.overflowed).toBe(1);
    expect(q.drain()).toHaveLength(2);
    expect(q.push(r)).toBe(true);
  });
});
