/** Lab-level step semantics that are not a kernel function of their own: RID domain changes and rejections. */
import { describe, expect, it } from 'vitest';
import { mkLab, step } from './helpers.js';
import { Lab } from '../../src-main/lab/lab.js';
import { SocConfig } from '../../shared/soc-config.js';
import type { Op } from '../../shared/steps.js';

describe('attach_rid', () => {
  it('frees a paging domain it allocated once it is replaced, so ASIDs do not leak (§5.7 domain free)', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4, rid_domain: 'identity' }], { smmus: [{ name: 'smmu0', asid16: false }] });
    expect(l.view().asids).toEqual([]);
    for (let i = 0; i < 300; i++) {
      expect(step(l, { op: 'attach_rid', args: { device: 'd', domain: 'dma' } }).ok).toBe(true);
      expect(step(l, { op: 'attach_rid', args: { device: 'd', domain: 'identity' } }).ok).toBe(true);
    }
    // 300 rounds on an 8-bit-ASID SMMU would have exhausted [1, 255] had the replaced domains kept their ASIDs.
    expect(l.view().asids).toEqual([]);
    expect(l.findings()).toEqual([]);
  });

  it('keeps the default DMA domain (and its ASID) when the RID moves away and back', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    const before = l.view().asids;
    step(l, { op: 'attach_rid', args: { device: 'd', domain: 'identity' } });
    expect(l.view().asids).toEqual(before);
    step(l, { op: 'attach_rid', args: { device: 'd', domain: 'dma' } });
    expect(l.view().devices).toMatchObject({ d: { ste: 'cdtable/ssid0', cds: { 0: { asid: (before as number[])[0] } } } });
  });

  it('refuses a move to S2 while the group has any PASID attachment, even one that programs no CD (§3.13)', () => {
    const l = mkLab([{ name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 0x100, pasid_bits: 20, kernel_pasid: true, rid_domain: 'blocked' }]);
    expect(l.view().devices).toMatchObject({ dsa0: { pasid_array: { 1: 'kernel:dsa0-kernel' }, cd_table: null, ste: 'abort' } });
    const r = step(l, { op: 'attach_rid', args: { device: 'dsa0', domain: 's2' } });
    expect(r).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(r.why).toMatch(/__iommu_take_dma_ownership/);
    step(l, { op: 'free_global_pasid', args: { name: 'dsa0-kernel' } });
    expect(step(l, { op: 'attach_rid', args: { device: 'dsa0', domain: 's2' } }).ok).toBe(true);
    expect(l.view().devices).toMatchObject({ dsa0: { ste: 's2' } });
  });
});

describe('rejected steps change nothing', () => {
  it('a fork onto its own name is rejected and creates no process', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    const rec = l.apply({ op: 'fork', args: { process: 'p', child: 'p' } });
    expect(rec.result.rejected).toMatch(/own name/);
    expect(l.view().processes).toEqual({});
    expect(l.records).toHaveLength(0);
  });

  it('a bind to an unknown device is rejected before its process is created', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    const rec = l.apply({ op: 'bind', args: { process: 'p', device: 'nope' } });
    expect(rec.result).toEqual({ ok: false, rejected: "unknown device 'nope'" });
    expect(l.view().processes).toEqual({});
    expect(l.records).toHaveLength(0);
  });

  it('a bind by an exited process is rejected, and leaves the PASIDs and bonds as they were', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    step(l, { op: 'bind', args: { process: 'q', device: 'd' } });
    step(l, { op: 'exit', args: { process: 'p' } }); // p is created on first mention, then exits
    const before = JSON.stringify(l.view());
    const rec = l.apply({ op: 'bind', args: { process: 'p', device: 'd' } });
    expect(rec.result).toEqual({ ok: false, rejected: "process 'p' has exited" });
    expect(JSON.stringify(l.view())).toBe(before);
    expect(l.records).toHaveLength(2);
  });

  it('an unbind is rejected for an unknown device, then an unknown process, then a process with no file there', () => {
    const l = mkLab([
      { name: 'a', smmu: 'smmu0', sid: 1, pasid_bits: 4 },
      { name: 'b', smmu: 'smmu0', sid: 2, pasid_bits: 4 },
    ]);
    step(l, { op: 'bind', args: { process: 'p', device: 'a' } });
    const before = JSON.stringify(l.view());
    const unbind = (process: string, device: string) => l.apply({ op: 'unbind', args: { process, device } }).result.rejected;
    expect(unbind('nobody', 'nope')).toBe("unknown device 'nope'");
    expect(unbind('nobody', 'a')).toBe("no process named 'nobody'");
    expect(unbind('p', 'b')).toBe("process 'p' has no open file on 'b'");
    step(l, { op: 'exit', args: { process: 'p' } });
    expect(unbind('p', 'a')).toBe("process 'p' has no open file on 'a' (it has exited and no file of it was kept)");
    expect(l.records).toHaveLength(2);
    expect(JSON.parse(before)).toMatchObject({ processes: { p: { files: [{ device: 'a' }] } } });
  });

  it('an unbind closes the last file opened on the device and frees the accelerator context with its last close', () => {
    const l = mkLab([{ name: 'a', smmu: 'smmu0', sid: 1, pasid_bits: 2 }]);
    step(l, { op: 'bind', args: { process: 'p', device: 'a' } });
    step(l, { op: 'bind', args: { process: 'p', device: 'a' } }); // the same bond, the same context (shared)
    const ctx = () => (l.kernel.devices.get('a')!.accel as { inUse: number }).inUse;
    expect(ctx()).toBe(1);
    step(l, { op: 'unbind', args: { process: 'p', device: 'a' } });
    expect(ctx()).toBe(1);
    expect(l.view().processes).toMatchObject({ p: { files: [{ device: 'a' }] } });
    step(l, { op: 'unbind', args: { process: 'p', device: 'a' } });
    expect(ctx()).toBe(0);
    expect(l.view().processes).toMatchObject({ p: { files: [] } });
  });
});

describe('a lab that keeps neither traces nor touched sets (the benchmarks\' raw labs)', () => {
  it('travels through its timeline to the same states as a lab with the defaults', () => {
    const cfg = SocConfig.parse({ arch: 'arm64', smmus: [{ name: 'smmu0', ssidsize: 20 }], devices: [{ name: 'a', smmu: 'smmu0', sid: 1, pasid_bits: 4 }, { name: 'b', smmu: 'smmu0', sid: 2, pasid_bits: 20 }], groups: [] });
    const raw = new Lab(cfg, 'mainline', { trace: false, touched: false, traceWindow: 2, checkpoints: { interval: 3 } });
    const full = new Lab(cfg, 'mainline');
    const ops: Op[] = [];
    for (const p of ['p1', 'p2', 'p3']) for (const d of ['a', 'b']) ops.push({ op: 'bind', args: { process: p, device: d } });
    ops.push({ op: 'unbind', args: { process: 'p2', device: 'a' } }, { op: 'exit', args: { process: 'p1' } }, { op: 'bind', args: { process: 'p4', device: 'a' } });
    for (const op of ops) expect(raw.apply(op).result).toEqual(full.apply(op).result);
    const states: string[] = [];
    for (let n = 0; n <= ops.length; n++) {
      full.jumpTo(n);
      states.push(JSON.stringify(full.view()));
    }
    for (const n of [2, ops.length, 0, 5, 1, ops.length - 1, ops.length]) {
      raw.jumpTo(n);
      expect(JSON.stringify(raw.view())).toBe(states[n]);
      expect(raw.records.every((r) => raw.traceOf(r).length === 0)).toBe(true);
    }
  });
});

describe('step records', () => {
  const cfg = SocConfig.parse({ smmus: [{ name: 'smmu0' }], devices: [{ name: 'a', smmu: 'smmu0', sid: 1, pasid_bits: 8 }] });

  it('are plain data: the step, its result and findings, and nothing the lab derives', () => {
    const lab = new Lab(cfg, 'mainline');
    const rec = lab.apply({ op: 'bind', args: { process: 'p', device: 'a' } });
    // Plain data: what a host serialises and a session saves; a trace or touched sets hung on it would be kept with it.
    expect(Object.getPrototypeOf(rec)).toBe(Object.prototype);
    expect(Object.keys(rec)).toEqual(['index', 'op', 'result', 'findings']);
    expect(JSON.parse(JSON.stringify(rec))).toEqual({ index: 0, op: { op: 'bind', args: { process: 'p', device: 'a' } }, result: { ok: true, pasid: 1, detail: 'context 0' }, findings: [] });
    // What the lab derives comes from the lab.
    expect(lab.traceOf(rec).some((t) => t.t === 'call' && t.fn === 'iommu_sva_bind_device')).toBe(true);
    expect(lab.touchedOf(rec).bonds.map((h) => h.label)).toHaveLength(1);
    expect(lab.holds(rec)).toBe(true);
  });

  it('of binds and unbinds with plain results are held in the log\'s columns; other steps are kept whole', () => {
    const lab = new Lab(cfg, 'mainline', { trace: false, touched: false });
    for (let i = 0; i < 500; i++) {
      lab.apply({ op: 'bind', args: { process: `p${i % 50}`, device: 'a' } }); // an accelerator: { ok, pasid, detail }
      lab.apply({ op: 'unbind', args: { process: `p${i % 50}`, device: 'a' } });
    }
    expect(lab.logStats()).toMatchObject({ steps: 1000, kept: 0, names: 52 }); // 50 processes, the device, 'context 0'
    expect(lab.logStats().columnBytes).toBeLessThanOrEqual(1024 * 17);
    lab.apply({ op: 'spawn', args: { process: 'q' } });
    lab.apply({ op: 'bind', args: { process: 'q', device: 'nope' } }); // rejected: not in the log at all
    expect(lab.logStats()).toMatchObject({ steps: 1001, kept: 1 });
    expect(lab.records.at(-1)).toEqual({ index: 1000, op: { op: 'spawn', args: { process: 'q' } }, result: expect.objectContaining({ ok: true }), findings: [] });
    expect(lab.records.at(1)).toEqual({ index: 1, op: { op: 'unbind', args: { process: 'p0', device: 'a' } }, result: { ok: true }, findings: [] });
    expect(lab.records.at(1001)).toBeUndefined();
    expect(lab.records.slice(-2).map((r) => r.index)).toEqual([999, 1000]);
    // A new branch drops what it replaces, kept entries included.
    lab.jumpTo(999);
    lab.apply({ op: 'bind', args: { process: 'p1', device: 'a' } });
    expect(lab.logStats()).toMatchObject({ steps: 1000, kept: 0 });
  });

  it('of a rejected step have no trace and touched nothing, and are not kept', () => {
    const lab = new Lab(cfg, 'mainline');
    lab.apply({ op: 'bind', args: { process: 'p', device: 'a' } });
    const rec = lab.apply({ op: 'bind', args: { process: 'p', device: 'nope' } });
    expect(rec.result.rejected).toMatch(/nope/);
    expect(lab.traceOf(rec)).toEqual([]);
    expect(lab.touchedOf(rec)).toMatchObject({ devices: [], bonds: [], mms: [], cds: [] });
    expect(lab.holds(rec)).toBe(false);
    expect(lab.records).toHaveLength(1);
  });

  it('keep their trace and touched sets only while among the last traceWindow steps', () => {
    const lab = new Lab(cfg, 'mainline', { traceWindow: 2 });
    const recs = ['p1', 'p2', 'p3'].map((p) => lab.apply({ op: 'bind', args: { process: p, device: 'a' } }));
    expect(recs.map((r) => lab.holds(r))).toEqual([false, true, true]);
    // The oldest is regenerated, equal to what a lab keeping everything recorded.
    const all = new Lab(cfg, 'mainline');
    for (const p of ['p1', 'p2', 'p3']) all.apply({ op: 'bind', args: { process: p, device: 'a' } });
    expect(lab.traceOf(recs[0]!)).toEqual(all.traceOf(all.records.at(0)!));
    expect(lab.touchedOf(recs[0]!).bonds.map((h) => h.label)).toEqual(all.touchedOf(all.records.at(0)!).bonds.map((h) => h.label));
  });
});
