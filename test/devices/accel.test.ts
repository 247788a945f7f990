/**
 * The seed's accelerator (devices/accel.ts): hardware contexts with an SSID register written by the driver at open,
 * copy and fill jobs executed as DMA tagged with that register, context sharing and exhaustion, stale registers.
 */
import { describe, expect, it } from 'vitest';
import { accelOpen, accelState, AccelState } from '../../src-main/sim/devices/accel.js';
import { svaCdevOpen } from '../../src-main/sim/kernel/drivers.js';
import { bind, dev, exit, mapOnly, mapTouched, mkLab, proc, read, rejected, step, submit, unbind, view, write } from './helpers.js';
import type { PolicyName } from '../../shared/steps.js';

const A = 0x400000;
const accel = (stall = true, pasid_bits = 2) => ({ name: 'accel', smmu: 'smmu0', sid: 0x10, pasid_bits, stall });

describe('accelerator jobs', () => {
  it('copy and fill move the right bytes in the bound process, tagged with the context register', () => {
    const l = mkLab([accel()]);
    mapTouched(l, 'p', A, 0x3000);
    write(l, 'p', A, '00112233445566778899aabbccddeeff');
    expect(bind(l, 'p', 'accel')).toMatchObject({ ok: true, pasid: 1, detail: 'context 0' });
    const c = submit(l, { device: 'accel', process: 'p', op: 'copy', src: A, dst: A + 0x1000, length: 16 });
    expect(c).toMatchObject({ ok: true, pasid: 1, events: [], event: null });
    expect(c.detail).toBe('context 0, SSID register 1');
    expect(c.reached!.map((r) => r.owner)).toEqual([`page:p/mm0@0x400000`, `page:p/mm0@0x401000`]);
    expect(read(l, 'p', A + 0x1000, 16)).toBe('00112233445566778899aabbccddeeff');
    const f = submit(l, { device: 'accel', process: 'p', op: 'fill', value: 'a5c3', dst: A + 0x2ffe, length: 6 });
    expect(f.ok).toBe(false); // runs past the mapping: the last 4 bytes are outside any VMA
    expect(f).toMatchObject({ errno: 'EFAULT', pasid: 1 });
    expect(read(l, 'p', A + 0x2ffe, 2)).toBe('a5c3');
    expect(submit(l, { device: 'accel', process: 'p', op: 'fill', value: 'a5c3', dst: A + 0x2000, length: 6 }).ok).toBe(true);
    expect(read(l, 'p', A + 0x2000, 6)).toBe('a5c3a5c3a5c3');
    expect(l.findings()).toEqual([]);
  });

  it('a stall-capable accelerator faults untouched pages in through IOPF; one without stall fails the job', () => {
    const l = mkLab([accel(true), { ...accel(false), name: 'nostall', sid: 0x11 }]);
    mapTouched(l, 'p', A, 0x1000);
    mapOnly(l, 'p', A + 0x10000, 0x2000);
    write(l, 'p', A, 'feedface');
    bind(l, 'p', 'accel');
    const r = submit(l, { device: 'accel', process: 'p', op: 'copy', src: A, dst: A + 0x10ffc, length: 8 });
    expect(r).toMatchObject({ ok: true, events: ['F_TRANSLATION', 'F_TRANSLATION'] }); // one stall per new page
    expect(read(l, 'p', A + 0x10ffc, 8)).toBe('feedface00000000');
    bind(l, 'p', 'nostall');
    mapOnly(l, 'p', A + 0x20000, 0x1000);
    const n = submit(l, { device: 'nostall', process: 'p', op: 'fill', value: '01', dst: A + 0x20000, length: 4 });
    expect(n).toMatchObject({ ok: false, errno: 'EFAULT', event: 'F_TRANSLATION', events: ['F_TRANSLATION'] });
    expect(n.why).toMatch(/write of dst faulted at 0x420000 after 0 byte/);
  });

  it('a job needs a context: an unknown process, one without a file, a non-accelerator device are rejected', () => {
    const l = mkLab([accel(), { name: 'nopasid', smmu: 'smmu0', sid: 0x20 }, { name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 0x100, pasid_bits: 20 }]);
    rejected(l, { device: 'accel', process: 'ghost', op: 'fill', value: '00', dst: A, length: 4 }, /no process named 'ghost'/);
    step(l, { op: 'spawn', args: { process: 'p' } });
    rejected(l, { device: 'accel', process: 'p', op: 'fill', value: '00', dst: A, length: 4 }, /no open file on 'accel'/);
    rejected(l, { device: 'nopasid', process: 'p', op: 'fill', value: '00', dst: A, length: 4 }, /no PASID support/);
    bind(l, 'p', 'accel');
    rejected(l, { device: 'accel', process: 'p', op: 'memmove', src: A, dst: A, length: 4 }, /runs copy and fill jobs, not memmove/);
    rejected(l, { device: 'accel', process: 'p', op: 'fill', value: '00', dst: A, length: 4, completion: A }, /belong to dsa\/iaa/);
    rejected(l, { device: 'dsa0', process: 'p', op: 'copy', src: A, dst: A, length: 4, wq: 'wq0' }, /does memmove, fill, compare, not copy/);
  });
});

describe('accelerator contexts', () => {
  it('the driver writes the bound PASID into the lowest free context; release clears it', () => {
    const l = mkLab([accel()], { policy: 'rfc-v1' });
    expect(view(l).devices.accel.contexts).toEqual({ total: 3, in_use: 0, regs: {} });
    bind(l, 'p', 'accel');
    bind(l, 'q', 'accel');
    bind(l, 'r', 'accel');
    expect(view(l).devices.accel.contexts).toEqual({
      total: 3,
      in_use: 3,
      regs: { 0: { ssid: 1, files: ['file1:accel'] }, 1: { ssid: 2, files: ['file2:accel'] }, 2: { ssid: 3, files: ['file3:accel'] } },
    });
    unbind(l, 'q', 'accel');
    expect(view(l).devices.accel.contexts.regs).toEqual({ 0: { ssid: 1, files: ['file1:accel'] }, 2: { ssid: 3, files: ['file3:accel'] } });
    // rfc-v1 (R2): slot 2 was freed at q's unbind; s gets 2 and the freed context 1
    expect(bind(l, 's', 'accel')).toMatchObject({ ok: true, pasid: 2, detail: 'context 1' });
    expect(view(l).devices.accel.contexts.regs[1]).toEqual({ ssid: 2, files: ['file4:accel'] });
    expect(l.findings()).toEqual([]);
  });

  it('opens carrying the same PASID share one context (one context per SSID); the last close clears it', () => {
    const l = mkLab([accel()]);
    bind(l, 'p', 'accel');
    expect(bind(l, 'p', 'accel')).toMatchObject({ ok: true, pasid: 1, detail: 'context 0' });
    expect(view(l).devices.accel.contexts).toEqual({ total: 3, in_use: 1, regs: { 0: { ssid: 1, files: ['file1:accel', 'file2:accel'] } } });
    unbind(l, 'p', 'accel');
    expect(view(l).devices.accel.contexts.regs).toEqual({ 0: { ssid: 1, files: ['file1:accel'] } });
    unbind(l, 'p', 'accel');
    expect(view(l).devices.accel.contexts).toEqual({ total: 3, in_use: 0, regs: {} });
  });

  it('contexts = 2^pasid_bits - 1, at least 1; a device with many shows counts only', () => {
    expect(view(mkLab([accel(true, 0)])).devices.accel.contexts).toEqual({ total: 1, in_use: 0, regs: {} });
    expect(view(mkLab([accel(true, 1)])).devices.accel.contexts.total).toBe(1);
    const l = mkLab([accel(true, 20)]);
    bind(l, 'p', 'accel');
    expect(view(l).devices.accel.contexts).toEqual({ total: 2 ** 20 - 1, in_use: 1, regs: null });
    expect(accelState(dev(l, 'accel'))!.regs[0]!.ssid).toBe(1);
  });

  it('exhaustion: a consistent kernel refuses a 4th PASID before the driver needs a 4th context', () => {
    for (const policy of ['mainline', 'rfc-v1', 'arch-gated', 'driver-pasid'] as PolicyName[]) {
      const l = mkLab([{ ...accel(), driver_pasid: true }], { policy });
      for (const p of ['p1', 'p2', 'p3']) expect(bind(l, p, 'accel').ok, `${policy} ${p}`).toBe(true);
      const r = bind(l, 'p4', 'accel');
      expect(r.ok).toBe(false);
      expect(r.why, policy).not.toMatch(/hardware context/); // the kernel's refusal (ENOSPC, or the RFC's xa_alloc -EBUSY), not the driver's
      expect(view(l).devices.accel.contexts.in_use).toBe(3);
    }
  });

  it('exhaustion: a 4th distinct PASID handed to the driver gets -EBUSY and the driver undoes its bind (uacce order)', () => {
    const l = mkLab([accel(), { name: 'donor', kind: 'pci', smmu: 'smmu0', sid: 0x30, pasid_bits: 20 }]);
    for (const p of ['p1', 'p2', 'p3']) bind(l, p, 'accel');
    const k = l.kernel;
    step(l, { op: 'spawn', args: { process: 'q' } });
    const q = proc(l, 'q');
    const open = svaCdevOpen(k, q, dev(l, 'donor'), null);
    expect(open).toMatchObject({ ok: true, pasid: 4 });
    if (!open.ok) return;
    const r = accelOpen(k, q, dev(l, 'accel'), open.file);
    expect(r).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(q.fds).toEqual([]);
    expect(open.file.refs).toBe(0);
    expect(k.handles.size).toBe(3);
    expect([...k.globalPasidIda.ids()]).toEqual([1, 2, 3, 4]); // mainline: the mm keeps its PASID after a failed open
    expect(view(l).devices.accel.contexts.in_use).toBe(3);
    expect(step(l, { op: 'spawn', args: { process: 'z' } }).ok).toBe(true);
    expect(l.findings()).toEqual([]);
  });

  it('the context allocator hands out the lowest free index', () => {
    const s = new AccelState(3);
    expect([s.take(), s.take(), s.take(), s.take()]).toEqual([0, 1, 2, -1]);
    s.put(2);
    s.put(0);
    expect([s.take(), s.take(), s.take()]).toEqual([0, 2, -1]);
  });
});

describe('stale registers', () => {
  it('after unbind the register is clear and the process has no context to submit to', () => {
    const l = mkLab([accel()]);
    mapTouched(l, 'p', A, 0x1000);
    bind(l, 'p', 'accel');
    unbind(l, 'p', 'accel');
    expect(view(l).devices.accel.contexts.regs).toEqual({});
    rejected(l, { device: 'accel', process: 'p', op: 'fill', value: '00', dst: A, length: 4 }, /no open file on 'accel'/);
  });

  it("a fork child's copy of the file keeps the register after the parent's unbind; after the parent's exit the jobs hit the fault-everything CD", () => {
    const l = mkLab([accel()]);
    mapTouched(l, 'p', A, 0x2000);
    write(l, 'p', A, 'c0ffee');
    bind(l, 'p', 'accel');
    step(l, { op: 'fork', args: { process: 'p', child: 'c' } });
    unbind(l, 'p', 'accel'); // the parent's close: the child's reference keeps the file, so no release
    expect(view(l).devices.accel.contexts.regs).toEqual({ 0: { ssid: 1, files: ['file1:accel'] } });
    // The register still says 1: the child's job runs in the parent's address space (the bond's, by design of fd sharing).
    const r = submit(l, { device: 'accel', process: 'c', op: 'copy', src: A, dst: A + 0x1000, length: 3 });
    expect(r).toMatchObject({ ok: true, pasid: 1 });
    expect(r.reached!.every((c) => c.owner.startsWith('page:p/mm0@'))).toBe(true);
    expect(read(l, 'p', A + 0x1000, 3)).toBe('c0ffee');
    exit(l, 'p');
    expect(view(l).devices.accel.cds[1]).toMatchObject({ kind: 'fault', r: false, s: false });
    const f = submit(l, { device: 'accel', process: 'c', op: 'copy', src: A, dst: A + 0x1000, length: 3 });
    expect(f).toMatchObject({ ok: false, errno: 'EFAULT', pasid: 1, events: [], event: null });
    expect(f.why).toMatch(/F_TRANSLATION/);
    unbind(l, 'c', 'accel');
    expect(view(l).devices.accel.contexts.regs).toEqual({});
    expect(l.findings()).toEqual([]);
  });

  it('exit with the file kept: the register still holds the PASID, the job meets the fault-everything CD (R=0: no event) and fails', () => {
    for (const policy of ['mainline', 'rfc-v1', 'arch-gated', 'driver-pasid'] as PolicyName[]) {
      const l = mkLab([{ ...accel(), driver_pasid: true }], { policy });
      mapTouched(l, 'p', A, 0x2000);
      bind(l, 'p', 'accel');
      expect(submit(l, { device: 'accel', process: 'p', op: 'fill', value: '77', dst: A, length: 8 }).ok).toBe(true);
      exit(l, 'p', true);
      expect(view(l).devices.accel.contexts.regs).toEqual({ 0: { ssid: 1, files: ['file1:accel'] } });
      expect(view(l).devices.accel.cds[1]).toMatchObject({ kind: 'fault', r: false, s: false });
      const r = submit(l, { device: 'accel', process: 'p', op: 'fill', value: '77', dst: A, length: 8 });
      expect(r, policy).toMatchObject({ ok: false, errno: 'EFAULT', events: [], event: null, pasid: 1 });
      expect(l.kernel.smmuEvents).toEqual([]);
      unbind(l, 'p', 'accel');
      expect(view(l).devices.accel.contexts.regs).toEqual({});
    }
  });
});

describe('accelerator isolation', () => {
  it('a job through a TLB entry left stale by a munmap without the notifier lands in another process: isolation', () => {
    const l = mkLab([accel()]);
    mapTouched(l, 'p', A, 0x1000);
    bind(l, 'p', 'accel');
    expect(submit(l, { device: 'accel', process: 'p', op: 'fill', value: '11', dst: A, length: 4 }).ok).toBe(true); // fills the TLB
    step(l, { op: 'unmap', args: { process: 'p', va: A, length: 0x1000, notify: false } });
    mapTouched(l, 'q', 0x800000, 0x1000, '00'); // the freed page is reused for q (its page table, as it happens)
    const r = submit(l, { device: 'accel', process: 'p', op: 'fill', value: '66', dst: A, length: 4 });
    expect(r.ok).toBe(true);
    expect(r.isolation).toMatch(/job on accel for p\/mm0 \(SSID 1\) reached PA 0x[0-9a-f]+, which is (page|pgtable):q\/mm0/);
    expect(l.findings().map((f) => f.invariant)).toEqual(['isolation']);
  });
});
