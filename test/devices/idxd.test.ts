/**
 * DSA-like and IAA-like devices (devices/idxd.ts): descriptors through dedicated WQs (WQCFG.pasid), shared WQs
 * (ENQCMD / IA32_PASID, or ST64BV0 / ACCDATA_EL1 on an arm64 SoC that has it) and kernel WQs (the idxd kernel PASID),
 * executed as DMA through the SMMU, with completion records written back the same way.
 */
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeCompletion, DSA_COMP, IAX_COMP } from '../../src-main/sim/devices/idxd.js';
import type { StepResult } from '../../shared/results.js';
import { exit, hex, mapOnly, mapTouched, openWq, read, readBytes, rejected, step, submit, unbind, view, write, writeBytes } from './helpers.js';
import { Lab } from '../../src-main/lab/lab.js';
import { SocConfig } from '../../shared/soc-config.js';

const SRC = 0x400000;
const DST = 0x500000;
const CR = 0x600000;

const dsa = { name: 'dsa0', kind: 'dsa' as const, smmu: 'smmu0', sid: 0x100, pasid_bits: 20, kernel_pasid: true };
const iax = { name: 'iax0', kind: 'iaa' as const, smmu: 'smmu0', sid: 0x110, pasid_bits: 20, kernel_pasid: true };

/** An x86 lab (dsa0 kernel PASID 1, iax0 kernel PASID 2) where p has populated src, dst and completion buffers. */
function lab(opts: { arch?: 'x86' | 'arm64'; enqcmd?: boolean; policy?: 'mainline' | 'rfc-v1' } = {}): Lab {
  const soc = SocConfig.parse({ arch: opts.arch ?? 'x86', enqcmd: opts.enqcmd, smmus: [{ name: 'smmu0', ssidsize: 20 }], devices: [dsa, iax] });
  return new Lab(soc, opts.policy ?? 'mainline');
}

function buffers(l: Lab, p = 'p'): void {
  mapTouched(l, p, SRC, 0x4000);
  mapTouched(l, p, DST, 0x4000);
  mapTouched(l, p, CR, 0x1000);
}

function cr(l: Lab, kind: 'dsa' | 'iaa', va: number, p = 'p') {
  return decodeCompletion(kind, readBytes(l, p, va, kind === 'dsa' ? 32 : 64));
}

function ok(r: StepResult): StepResult {
  expect(r.ok, `${r.errno}: ${r.why}`).toBe(true);
  return r;
}

describe('DSA through a dedicated WQ (MOVDIR64B, WQCFG.pasid)', () => {
  for (const arch of ['x86', 'arm64'] as const) {
    it(`memmove, fill and compare on ${arch}`, () => {
      const l = lab({ arch });
      buffers(l);
      write(l, 'p', SRC, hex('hello, accelerator world'));
      expect(openWq(l, 'p', 'dsa0', 'wq1')).toMatchObject({ ok: true, pasid: 3 });
      expect(view(l).devices.dsa0.wqs.wq1.wqcfg_pasid).toBe(3);
      const m = ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'memmove', src: SRC, dst: DST, length: 24, completion: CR }));
      expect(m).toMatchObject({ pasid: 3, events: [] });
      expect(m.detail).toMatch(/^MOVDIR64B, PASID from WQCFG \(3\)/);
      expect(readBytes(l, 'p', DST, 24).toString()).toBe('hello, accelerator world');
      expect(cr(l, 'dsa', CR)).toEqual({ status: DSA_COMP.SUCCESS, result: 0, errorCode: 0, bytesCompleted: 24, faultAddr: 0, outputSize: 0 });
      expect(m.data).toBe(read(l, 'p', CR, 32));

      ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'fill', value: '0102030405060708', dst: DST + 0x1000, length: 20, completion: CR + 32 }));
      expect(read(l, 'p', DST + 0x1000, 20)).toBe('0102030405060708'.repeat(2) + '01020304');

      const eq = ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'compare', src: SRC, dst: DST, length: 24, completion: CR + 64 }));
      expect(cr(l, 'dsa', CR + 64)).toMatchObject({ status: 1, result: 0, bytesCompleted: 24 });
      expect(eq.detail).toMatch(/result 0/);
      write(l, 'p', DST + 7, hex('A'));
      ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'compare', src: SRC, dst: DST, length: 24, completion: CR + 96 }));
      expect(cr(l, 'dsa', CR + 96)).toMatchObject({ status: 1, result: 1, bytesCompleted: 7 }); // offset of the first difference
      expect(l.findings()).toEqual([]);
    });
  }

  it('a dedicated WQ takes descriptors only from the process holding it; a kernel descriptor cannot use it', () => {
    const l = lab();
    buffers(l);
    openWq(l, 'p', 'dsa0', 'wq1');
    step(l, { op: 'spawn', args: { process: 'q' } });
    rejected(l, { device: 'dsa0', process: 'q', wq: 'wq1', op: 'fill', value: '00', dst: DST, length: 4 }, /has not opened dsa0\/wq1/);
    rejected(l, { device: 'dsa0', wq: 'wq1', op: 'fill', value: '00', dst: DST, length: 4 }, /is a user WQ/);
    rejected(l, { device: 'dsa0', process: 'p', op: 'fill', value: '00', dst: DST, length: 4 }, /give `wq`/);
    rejected(l, { device: 'dsa0', process: 'p', wq: 'wq9', op: 'fill', value: '00', dst: DST, length: 4 }, /no work queue 'wq9'/);
    rejected(l, { device: 'iax0', process: 'p', wq: 'wq0', op: 'compare', src: SRC, dst: DST, length: 4 }, /iaa device does memmove, compress, decompress/);
  });
});

describe('DSA through a shared WQ (ENQCMD)', () => {
  it('the first ENQCMD of a thread takes the #GP fixup; the descriptor carries IA32_PASID', () => {
    const l = lab();
    buffers(l);
    write(l, 'p', SRC, 'abcdef0123');
    openWq(l, 'p', 'dsa0', 'wq0');
    expect(view(l).processes.p.threads.t1).toBeUndefined();
    const r = ok(submit(l, { device: 'dsa0', process: 'p', thread: 't1', wq: 'wq0', op: 'memmove', src: SRC, dst: DST, length: 5, completion: CR }));
    expect(r.pasid).toBe(3);
    expect(r.detail).toMatch(/^ENQCMD, PASID from p\/t1's IA32_PASID \(3\)/);
    expect(view(l).processes.p.threads.t1).toEqual({ pasid_activated: true, ia32_pasid: 3 });
    expect(read(l, 'p', DST, 5)).toBe('abcdef0123');
    ok(submit(l, { device: 'dsa0', process: 'p', thread: 't1', wq: 'wq0', op: 'fill', value: 'ee', dst: DST + 8, length: 3, completion: CR + 32 }));
    expect(read(l, 'p', DST + 8, 3)).toBe('eeeeee');
    expect(cr(l, 'dsa', CR + 32)).toMatchObject({ status: 1, bytesCompleted: 3 });
  });

  it('ENQCMD without a PASID: SIGSEGV, nothing reaches the device', () => {
    const l = lab();
    buffers(l);
    const r = submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '11', dst: DST, length: 4, completion: CR });
    expect(r).toMatchObject({ ok: false, errno: 'SIGSEGV' });
    expect(r.events).toBeUndefined();
    expect(view(l).processes.p.threads.main).toEqual({ pasid_activated: false, ia32_pasid: null });
    expect(read(l, 'p', DST, 4)).toBe('00000000');
    expect(l.kernel.smmuEvents).toEqual([]);
  });

  it('a fork child has a new mm without a PASID: its ENQCMD gets SIGSEGV while the parent’s works', () => {
    const l = lab();
    buffers(l);
    openWq(l, 'p', 'dsa0', 'wq0');
    ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '11', dst: DST, length: 4, completion: CR }));
    step(l, { op: 'fork', args: { process: 'p', child: 'c' } });
    mapTouched(l, 'c', DST, 0x1000);
    expect(submit(l, { device: 'dsa0', process: 'c', wq: 'wq0', op: 'fill', value: '22', dst: DST, length: 4 })).toMatchObject({ ok: false, errno: 'SIGSEGV' });
    expect(read(l, 'c', DST, 4)).toBe('00000000');
    ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '33', dst: DST, length: 4 }));
  });

  it('after unbind the thread still carries the PASID: no #GP, the device DMA meets C_BAD_CD and no record is written (S9 step 3)', () => {
    const l = lab();
    buffers(l);
    openWq(l, 'p', 'dsa0', 'wq0');
    ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '11', dst: DST, length: 4, completion: CR }));
    unbind(l, 'p', 'dsa0');
    expect(view(l).devices.dsa0.pasid_array[3]).toBeUndefined();
    write(l, 'p', CR, '00'.repeat(32));
    const r = submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '22', dst: DST, length: 4, completion: CR });
    expect(r).toMatchObject({ ok: false, errno: 'EFAULT', pasid: 3, events: ['C_BAD_CD', 'C_BAD_CD'], event: 'C_BAD_CD' });
    expect(r.data).toBeUndefined();
    expect(r.why).toMatch(/TRANSLATION_FAIL.*CRA_XLAT/);
    expect(read(l, 'p', DST, 4)).toBe('11111111');
    expect(read(l, 'p', CR, 1)).toBe('00');
    expect(view(l).processes.p.threads.main.ia32_pasid).toBe(3);
  });

  it('arm64 with an ENQCMD-like instruction: ST64BV0 with ACCDATA_EL1 loaded the same lazy way [I]; without one: SIGILL', () => {
    const l = lab({ arch: 'arm64', enqcmd: true });
    buffers(l);
    openWq(l, 'p', 'dsa0', 'wq0');
    const r = ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '5a', dst: DST, length: 2, completion: CR }));
    expect(r.detail).toMatch(/^ST64BV0, PASID from p\/main's ACCDATA_EL1 \(3\)/);
    expect(read(l, 'p', DST, 2)).toBe('5a5a');
    const n = lab({ arch: 'arm64' });
    buffers(n);
    openWq(n, 'p', 'dsa0', 'wq0');
    expect(submit(n, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '5a', dst: DST, length: 2 })).toMatchObject({ ok: false, errno: 'SIGILL' });
  });
});

describe('IAA compress / decompress', () => {
  const text = Buffer.from('SVA lab: the IAA compresses for real. '.repeat(60) + 'The end.');

  it('compress then decompress is a round trip of real deflate data', () => {
    const l = lab();
    buffers(l);
    writeBytes(l, 'p', SRC, text);
    openWq(l, 'p', 'iax0', 'wq0');
    const c = ok(submit(l, { device: 'iax0', process: 'p', wq: 'wq0', op: 'compress', src: SRC, dst: DST, length: text.length, completion: CR }));
    const rec = cr(l, 'iaa', CR);
    expect(rec).toMatchObject({ status: IAX_COMP.SUCCESS, bytesCompleted: text.length });
    expect(rec.outputSize).toBeLessThan(text.length / 10);
    expect(c.detail).toMatch(new RegExp(`output_size ${rec.outputSize}`));
    expect(readBytes(l, 'p', DST, rec.outputSize)).toEqual(deflateRawSync(text));
    const d = ok(submit(l, { device: 'iax0', process: 'p', wq: 'wq0', op: 'decompress', src: DST, dst: DST + 0x2000, length: rec.outputSize, dst_length: 0x2000, completion: CR + 64 }));
    expect(cr(l, 'iaa', CR + 64)).toMatchObject({ status: 1, outputSize: text.length, bytesCompleted: rec.outputSize });
    expect(readBytes(l, 'p', DST + 0x2000, text.length)).toEqual(text);
    expect(d.events).toEqual([]);
    expect(l.findings()).toEqual([]);
  });

  it('a corrupt stream is an analytics error; an output larger than max_dst_size overflows', () => {
    const l = lab();
    buffers(l);
    openWq(l, 'p', 'iax0', 'wq0');
    write(l, 'p', SRC, 'ffffffffffffffff');
    const bad = submit(l, { device: 'iax0', process: 'p', wq: 'wq0', op: 'decompress', src: SRC, dst: DST, length: 8, completion: CR });
    expect(bad).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(cr(l, 'iaa', CR)).toMatchObject({ status: IAX_COMP.ANALYTICS_ERROR, errorCode: 1 });
    writeBytes(l, 'p', SRC, deflateRawSync(text));
    const over = submit(l, { device: 'iax0', process: 'p', wq: 'wq0', op: 'decompress', src: SRC, dst: DST, length: deflateRawSync(text).length, dst_length: 100, completion: CR + 64 });
    expect(over).toMatchObject({ ok: false, errno: 'EOVERFLOW' });
    expect(cr(l, 'iaa', CR + 64)).toMatchObject({ status: IAX_COMP.OUTBUF_OVERFLOW });
  });
});

describe('completion records', () => {
  it('a page fault in the middle: status PAGE_FAULT_NOBOF, bytes_completed and fault_addr; the bytes before it moved', () => {
    const l = lab();
    mapTouched(l, 'p', SRC, 0x1000);
    mapOnly(l, 'p', SRC + 0x1000, 0x1000); // mapped, never touched: no PTE, and a PCIe device cannot fault it in
    mapTouched(l, 'p', DST, 0x2000);
    mapTouched(l, 'p', CR, 0x1000);
    write(l, 'p', SRC + 0xffe, 'abcd');
    openWq(l, 'p', 'dsa0', 'wq0');
    const r = submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'memmove', src: SRC, dst: DST, length: 0x2000, completion: CR });
    expect(r).toMatchObject({ ok: false, errno: 'EFAULT', events: ['F_TRANSLATION'], event: 'F_TRANSLATION' });
    expect(cr(l, 'dsa', CR)).toEqual({ status: DSA_COMP.PAGE_FAULT_NOBOF, result: 0, errorCode: 0, bytesCompleted: 0x1000, faultAddr: SRC + 0x1000, outputSize: 0 });
    expect(read(l, 'p', DST + 0xffe, 2)).toBe('abcd');
    expect(r.data!.slice(0, 2)).toBe('03');
  });

  it('a fault on a write sets DSA_COMP_STATUS_WRITE (0x80)', () => {
    const l = lab();
    mapTouched(l, 'p', SRC, 0x2000);
    mapTouched(l, 'p', DST, 0x1000);
    mapOnly(l, 'p', DST + 0x1000, 0x1000);
    mapTouched(l, 'p', CR, 0x1000);
    openWq(l, 'p', 'dsa0', 'wq1');
    submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'fill', value: '99', dst: DST + 0xf00, length: 0x200, completion: CR });
    expect(cr(l, 'dsa', CR)).toMatchObject({ status: 0x83, bytesCompleted: 0x100, faultAddr: DST + 0x1000 });
  });

  it('a completion record that cannot be written: the job fails with no record (SWERR CRA_XLAT); misaligned: CRA_ALIGN', () => {
    const l = lab();
    mapTouched(l, 'p', SRC, 0x1000);
    mapTouched(l, 'p', DST, 0x1000);
    mapOnly(l, 'p', CR, 0x1000);
    openWq(l, 'p', 'dsa0', 'wq1');
    const r = submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'fill', value: '42', dst: DST, length: 4, completion: CR });
    expect(r).toMatchObject({ ok: false, errno: 'EFAULT', events: ['F_TRANSLATION'] });
    expect(r.data).toBeUndefined();
    expect(r.why).toMatch(/^success: .*completion record write faulted.*CRA_XLAT/);
    expect(read(l, 'p', DST, 4)).toBe('42424242'); // the operation itself completed
    mapTouched(l, 'p', CR + 0x10000, 0x1000);
    const m = submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'fill', value: '42', dst: DST, length: 4, completion: CR + 0x10010 });
    expect(m).toMatchObject({ ok: false, errno: 'EFAULT' });
    expect(m.why).toMatch(/not 32-byte aligned.*CRA_ALIGN/);
    expect(ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'fill', value: '43', dst: DST, length: 4 })).data).toBeUndefined();
  });

  it('exit with the file kept: WQCFG still holds the PASID, the fault-everything CD aborts data and record alike, no event', () => {
    const l = lab();
    buffers(l);
    openWq(l, 'p', 'dsa0', 'wq1');
    ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'fill', value: '11', dst: DST, length: 4, completion: CR }));
    exit(l, 'p', true);
    expect(view(l).devices.dsa0.wqs.wq1).toEqual({ mode: 'dedicated', open: true, wqcfg_pasid: 3 });
    expect(view(l).devices.dsa0.cds[3]).toMatchObject({ kind: 'fault', r: false, s: false });
    const r = submit(l, { device: 'dsa0', process: 'p', wq: 'wq1', op: 'fill', value: '22', dst: DST, length: 4, completion: CR });
    expect(r).toMatchObject({ ok: false, errno: 'EFAULT', pasid: 3, events: [], event: null });
    expect(r.why).toMatch(/page fault.*F_TRANSLATION.*CRA_XLAT/);
    expect(l.kernel.smmuEvents).toEqual([]);
  });
});

describe('kernel WQs (idxd kernel PASID, DMA-API buffers)', () => {
  it('dedicated (MOVDIR64B, WQCFG = idxd->pasid) and shared (ENQCMDS) kernel descriptors go through the DMA domain', () => {
    const l = lab();
    step(l, { op: 'dma_map', args: { device: 'dsa0', iova: 0x10000, length: 0x2000, data: '5a' } });
    const d = ok(submit(l, { device: 'dsa0', wq: 'wq1', op: 'memmove', src: 0x10000, dst: 0x11000, length: 64, completion: 0x11f00 }));
    expect(d).toMatchObject({ pasid: 1, events: [] });
    expect(d.detail).toMatch(/^MOVDIR64B, PASID from WQCFG = idxd->pasid \(1\)/);
    expect(d.reached!.every((c) => c.owner.startsWith('dma-buf:dsa0@'))).toBe(true);
    const s = ok(submit(l, { device: 'dsa0', wq: 'wq0', op: 'compare', src: 0x10000, dst: 0x11000, length: 64, completion: 0x11f20 }));
    expect(s.detail).toMatch(/^ENQCMDS, descriptor PASID = idxd->pasid \(1\).*result 0/);
    expect(decodeCompletion('dsa', Buffer.from(s.data!, 'hex'))).toMatchObject({ status: 1, result: 0, bytesCompleted: 64 });
    // A user VA means nothing in the DMA domain.
    expect(submit(l, { device: 'dsa0', wq: 'wq1', op: 'fill', value: '00', dst: DST, length: 4 })).toMatchObject({ ok: false, event: 'F_TRANSLATION' });
    expect(l.findings()).toEqual([]);
  });

  it('without a kernel PASID: a dedicated kernel WQ issues RID traffic, a shared one cannot be used', () => {
    const l = lab();
    step(l, { op: 'free_global_pasid', args: { name: 'dsa0-kernel' } });
    step(l, { op: 'dma_map', args: { device: 'dsa0', iova: 0x10000, length: 0x1000, data: '01' } });
    const d = ok(submit(l, { device: 'dsa0', wq: 'wq1', op: 'fill', value: '77', dst: 0x10800, length: 8, completion: 0x10f00 }));
    expect(d.pasid).toBeUndefined();
    expect(d.detail).toMatch(/no PASID/);
    expect(submit(l, { device: 'dsa0', wq: 'wq0', op: 'fill', value: '77', dst: 0x10800, length: 8 })).toMatchObject({ ok: false, errno: 'ENXIO' });
  });
});

describe('isolation', () => {
  it('rfc-v1 on x86: a stale IA32_PASID names the next opener, and the job writes into its memory', () => {
    const l = lab({ policy: 'rfc-v1' });
    buffers(l);
    openWq(l, 'p', 'dsa0', 'wq0');
    ok(submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '11', dst: DST, length: 4, completion: CR }));
    unbind(l, 'p', 'dsa0');
    mapTouched(l, 's', DST, 0x1000, 'aa');
    mapTouched(l, 's', CR, 0x1000);
    expect(openWq(l, 's', 'dsa0', 'wq0').pasid).toBe(view(l).processes.p.threads.main.ia32_pasid);
    const r = submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '66', dst: DST, length: 4, completion: CR });
    expect(r.ok).toBe(true);
    expect(r.isolation).toMatch(/job on dsa0 for p\/mm0 \(SSID 2\) reached PA 0x[0-9a-f]+, which is page:s\/mm0@0x500000/);
    expect(read(l, 's', DST, 4)).toBe('66666666');
    expect(read(l, 'p', DST, 4)).toBe('11111111');
    expect(l.findings().map((f) => f.invariant)).toContain('isolation');
    // A descriptor that names someone else's address space is a finding even when its DMA faults there.
    const f = submit(l, { device: 'dsa0', process: 'p', wq: 'wq0', op: 'fill', value: '66', dst: 0x900000, length: 4 });
    expect(f).toMatchObject({ ok: false, event: 'F_TRANSLATION' });
    expect(f.isolation).toMatch(/descriptor from p\/mm0 carried PASID 2, which names s\/mm0 on dsa0/);
  });
});
