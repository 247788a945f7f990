/**
 * Isolation findings name the earlier step that made them possible (hw/attribution.ts, devices/isolation.ts): the
 * munmap that skipped the mmu notifier and left an SMMU TLB or endpoint ATC entry naming a freed page; of the CD
 * write and the PASID hand-out that made a PASID name another address space, the later one. The step index is the
 * lab's (rejected steps take none), and it survives undo, redo and checkpoints.
 */
import { describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.js';
import { SocConfig, type SocConfigInput } from '../../shared/soc-config.js';
import { parseStep, type PolicyName } from '../../shared/steps.js';
import type { StepResult } from '../../shared/results.js';
import { checkDirty, markAll } from '../../src-main/lab/invariants.js';

function mk(soc: SocConfigInput, policy: PolicyName = 'mainline', checkpoints?: { every: number }): Lab {
  return new Lab(SocConfig.parse(soc), policy, checkpoints ? { checkpoints } : {});
}

/** Applies a step given in the scenario file's shape ({ op: args }, validated with its defaults), returning its record. */
function apply(l: Lab, step: Record<string, unknown>) {
  const r = parseStep(step, 0);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  return l.apply(r.step.op);
}

function ok(l: Lab, step: Record<string, unknown>): StepResult {
  const r = apply(l, step).result;
  expect(r.rejected, JSON.stringify(step)).toBeUndefined();
  return r;
}

const ACC_SOC: SocConfigInput = { smmus: [{ name: 'smmu0', ssidsize: 20 }], devices: [{ name: 'acc', smmu: 'smmu0', sid: 0x40, pasid_bits: 4 }] };

/** A stale SMMU TLB entry: P's page cached, unmapped without the notifier (step index returned), reused by Q. */
function staleTlb(l: Lab): number {
  ok(l, { spawn: { process: 'q' } });
  ok(l, { map: { process: 'p', va: 0x400000, length: 0x2000 } });
  ok(l, { touch: { process: 'p', va: 0x400000, length: 0x2000, data: '9a' } });
  ok(l, { bind: { process: 'p', device: 'acc' } });
  ok(l, { dma: { device: 'acc', process: 'p', va: 0x400000, length: 4 } });
  // A rejected step in between takes no index.
  expect(apply(l, { unbind: { process: 'nobody', device: 'acc' } }).result.rejected).toBeDefined();
  const unmap = l.records.length;
  ok(l, { unmap: { process: 'p', va: 0x400000, length: 0x1000, notify: false } });
  ok(l, { map: { process: 'q', va: 0x800000, length: 0x1000 } });
  ok(l, { touch: { process: 'q', va: 0x800000, length: 8, data: '5ec7e75e' } });
  return unmap;
}

describe('a stale translation names the munmap that skipped the invalidation', () => {
  it('SMMU TLB: the DMA reaching Q names step N (unmap ... notify: false), in the result and in the finding', () => {
    const l = mk(ACC_SOC);
    const unmap = staleTlb(l);
    const rec = apply(l, { dma: { device: 'acc', process: 'p', va: 0x400000, length: 8 } });
    expect(rec.result.cause).toEqual({
      step: unmap,
      op: 'unmap',
      text: 'unmap { process: p, va: 0x400000, length: 0x1000, notify: false }',
      what: expect.stringMatching(/^munmap without the mmu notifier cleared the PTE of 0x400000 in p\/mm0 and freed PA 0x[0-9a-f]+; no TLBI reached the SMMU, whose TLB still translates it there$/),
    });
    expect(rec.result.isolation).toMatch(new RegExp(`which is page:q/mm0@0x800000; made possible by step ${unmap} \\(unmap \\{ process: p, va: 0x400000, length: 0x1000, notify: false \\}\\)`));
    expect(rec.findings).toHaveLength(1);
    expect(rec.findings[0]!.message).toContain(`made possible by step ${unmap} (unmap`);
    expect(l.records.at(unmap)!.op.op).toBe('unmap');
  });

  it('with the notifier there is nothing to name: the entry is gone and the DMA faults', () => {
    const l = mk(ACC_SOC);
    ok(l, { map: { process: 'p', va: 0x400000, length: 0x1000 } });
    ok(l, { touch: { process: 'p', va: 0x400000, length: 4, data: '01' } });
    ok(l, { bind: { process: 'p', device: 'acc' } });
    ok(l, { dma: { device: 'acc', process: 'p', va: 0x400000, length: 4 } });
    ok(l, { unmap: { process: 'p', va: 0x400000, length: 0x1000, notify: true } });
    const r = ok(l, { dma: { device: 'acc', process: 'p', va: 0x400000, length: 4 } });
    expect(r).toMatchObject({ ok: false, event: 'F_TRANSLATION' });
    expect(r.isolation).toBeUndefined();
    expect(r.cause).toBeUndefined();
  });

  it("endpoint ATC: the cause says no ATC_INV reached the device", () => {
    const l = mk({ smmus: [{ name: 'smmu0', ssidsize: 20, ats: true }], devices: [{ name: 'nic', kind: 'pci', smmu: 'smmu0', sid: 0x100, pasid_bits: 8, ats: true }] });
    ok(l, { map: { process: 'p', va: 0x400000, length: 0x1000 } });
    ok(l, { touch: { process: 'p', va: 0x400000, length: 4, data: '01' } });
    ok(l, { bind: { process: 'p', device: 'nic' } });
    ok(l, { dma: { device: 'nic', process: 'p', va: 0x400000, length: 4 } });
    const unmap = l.records.length;
    ok(l, { unmap: { process: 'p', va: 0x400000, length: 0x1000, notify: false } });
    const r = ok(l, { dma: { device: 'nic', process: 'p', va: 0x400000, length: 4 } });
    expect(r.cause).toMatchObject({ step: unmap, op: 'unmap' });
    expect(r.cause!.what).toMatch(/no ATC_INV reached nic, whose ATC still translates it there/);
  });

  it('a job through the stale entry (the accelerator) names the same step', () => {
    const l = mk(ACC_SOC);
    const unmap = staleTlb(l);
    const r = ok(l, { submit: { device: 'acc', process: 'p', op: 'fill', value: 'ee', dst: 0x400000, length: 8 } });
    expect(r.isolation).toMatch(/job on acc for p\/mm0 \(SSID 1\) reached PA 0x[0-9a-f]+, which is page:q\/mm0@0x800000; made possible by step/);
    expect(r.cause).toMatchObject({ step: unmap, op: 'unmap' });
  });

  it('survives undo, redo and checkpoints: the same steps attribute the same way', () => {
    for (const every of [1, 3, 1000]) {
      const l = mk(ACC_SOC, 'mainline', { every });
      const unmap = staleTlb(l);
      const dma = { dma: { device: 'acc', process: 'p', va: 0x400000, length: 8 } };
      const first = ok(l, dma).cause;
      expect(first?.step).toBe(unmap);
      l.undo();
      l.undo();
      l.redo();
      l.redo();
      l.jumpTo(unmap + 1);
      l.jumpTo(l.timelineLength);
      expect(l.records.at(-1)!.result.cause).toEqual(first);
      expect(ok(l, dma).cause).toEqual(first);
    }
  });
});

describe('a PASID that names another address space names the step that made them meet', () => {
  // R6 under the RFC (x86, ENQCMD): P's per-device PASID on x and Q's global PASID on dsa0 are both 1.
  const R6: SocConfigInput = {
    arch: 'x86',
    smmus: [{ name: 'smmu0', ssidsize: 20 }, { name: 'smmu1', ssidsize: 20, rfc_cap: false }],
    devices: [
      { name: 'x', smmu: 'smmu0', sid: 0x10, pasid_bits: 2 },
      { name: 'dsa0', kind: 'dsa', smmu: 'smmu1', sid: 0x100, pasid_bits: 20 },
    ],
  };

  function buffers(l: Lab, p: string): void {
    ok(l, { map: { process: p, va: 0x400000, length: 0x2000 } });
    ok(l, { touch: { process: p, va: 0x400000, length: 0x2000, data: p === 'p' ? '11' : '22' } });
  }

  it("P's PASID first, Q's CD later: Q's open_wq is the cause, and the text names P's bind", () => {
    const l = mk(R6, 'rfc-v1');
    buffers(l, 'p');
    buffers(l, 'q');
    const bindP = l.records.length;
    expect(ok(l, { bind: { process: 'p', device: 'x' } }).pasid).toBe(1);
    const openQ = l.records.length;
    expect(ok(l, { open_wq: { process: 'q', device: 'dsa0', wq: 'wq0' } }).pasid).toBe(1);
    const e = ok(l, { enqcmd: { process: 'p', device: 'dsa0', wq: 'wq0' } });
    expect(e).toMatchObject({ crossed: true, reaches: 'q/mm0' });
    expect(e.cause).toMatchObject({ step: openQ, op: 'open_wq' });
    expect(e.cause!.what).toBe(`it wrote CD 1 of dsa0 for q/mm0, at the PASID p/mm0 was handed by step ${bindP} (bind { process: p, device: x })`);
    // A memmove on the shared WQ lands in Q's memory: the same cause, in the isolation text too.
    const m = ok(l, { submit: { device: 'dsa0', process: 'p', wq: 'wq0', op: 'memmove', src: 0x400000, dst: 0x401000, length: 8 } });
    expect(m.isolation).toMatch(new RegExp(`made possible by step ${openQ} \\(open_wq \\{ process: q, device: dsa0, wq: wq0 \\}\\)`));
  });

  it("Q's CD first, P's PASID later: P's bind is the cause (it handed out a PASID naming Q's CD)", () => {
    const l = mk(R6, 'rfc-v1');
    buffers(l, 'p');
    buffers(l, 'q');
    const openQ = l.records.length;
    expect(ok(l, { open_wq: { process: 'q', device: 'dsa0', wq: 'wq0' } }).pasid).toBe(1);
    const bindP = l.records.length;
    const b = ok(l, { bind: { process: 'p', device: 'x' } });
    expect(b.pasid).toBe(1);
    const e = ok(l, { enqcmd: { process: 'p', device: 'dsa0', wq: 'wq0' } });
    expect(e.crossed).toBe(true);
    expect(e.cause).toMatchObject({ step: bindP, op: 'bind', text: 'bind { process: p, device: x }' });
    expect(e.cause!.what).toBe(`it handed p/mm0 PASID 1, which on dsa0 names q/mm0's CD (written by step ${openQ} (open_wq { process: q, device: dsa0, wq: wq0 }))`);
  });

  it('mainline: no crossing, no cause', () => {
    const l = mk(R6, 'mainline');
    ok(l, { bind: { process: 'p', device: 'x' } });
    ok(l, { open_wq: { process: 'q', device: 'dsa0', wq: 'wq0' } });
    const e = ok(l, { enqcmd: { process: 'p', device: 'dsa0', wq: 'wq0' } });
    expect(e.crossed).toBe(false);
    expect(e.cause).toBeUndefined();
  });
});

describe('invariant findings name the step that wrote the CD', () => {
  it('cd-in-table (R4 under the RFC) names the bind that wrote CD 4 past the table', () => {
    const l = mk(
      {
        smmus: [{ name: 'smmu0', ssidsize: 20 }],
        devices: [
          { name: 'a', kind: 'pci', smmu: 'smmu0', sid: 0x200, pasid_bits: 4 },
          { name: 'b', kind: 'pci', smmu: 'smmu0', sid: 0x201, pasid_bits: 2 },
        ],
        groups: [['a', 'b']],
      },
      'rfc-v1',
    );
    for (const p of ['p1', 'p2', 'p3']) ok(l, { bind: { process: p, device: 'a' } });
    const at = l.records.length;
    const rec = apply(l, { bind: { process: 'p', device: 'a' } });
    const f = rec.findings.find((x) => x.invariant === 'cd-in-table')!;
    expect(f.message).toContain(`by step ${at} (bind { process: p, device: a })`);
  });

  it('a CD left valid after its pasid_array entry went names the step that wrote it', () => {
    const l = mk(ACC_SOC);
    const bindAt = l.records.length;
    ok(l, { bind: { process: 'p', device: 'acc' } });
    // A buggy detach: the pasid_array entry goes, the CD stays (as an unbind that forgot arm_smmu_clear_cd would).
    const g = l.kernel.devices.get('acc')!.group;
    g.pasidArray.erase(1);
    markAll(l.kernel);
    const v = checkDirty(l.kernel).violations.find((x) => x.invariant === 'pasid-array-cd' && x.subject.endsWith('/cd[1]'))!;
    expect(v.message).toContain(`written by step ${bindAt} (bind { process: p, device: acc }), still valid`);
  });
});
