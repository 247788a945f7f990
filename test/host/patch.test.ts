/**
 * Compact diffs: applying the patches of a random step sequence (undos included) to the first snapshot gives
 * exactly the final stateView. Also the wire helpers (base64, bitmaps) and a timing print at full PASID space.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyPatch,
  base64Decode,
  base64Encode,
  bitmapIds,
  decodeIdBitmap,
  encodeIdBitmap,
  EVENTS,
  liveStateFrom,
  Patch,
  REQUESTS,
  type LabEvent,
  type LiveState,
} from '../../shared/contract.js';
import { DEFAULT_SOC } from '../../shared/default-soc.js';
import type { SocConfigInput } from '../../shared/soc-config.js';
import { POLICY_NAMES, type PolicyName } from '../../shared/steps.js';
import { LabService } from '../../src-main/host/service.js';

/** The client's state as a stateView: the bitmap back to the ascending `ida` list. */
function materialise(s: LiveState): Record<string, unknown> {
  return { ...s.view, ida: bitmapIds(s.ida) };
}

const X86_SOC: SocConfigInput = {
  arch: 'x86',
  smmus: [{ name: 'smmu0', ssidsize: 20 }, { name: 'smmu1', ssidsize: 4, cd2l: false }],
  devices: [
    { name: 'accel', kind: 'platform', smmu: 'smmu0', sid: 1, pasid_bits: 1, stall: true, driver_pasid: true },
    { name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 2, pasid_bits: 20, kernel_pasid: true },
    { name: 'pci0', kind: 'pci', smmu: 'smmu1', sid: 3, pasid_bits: 3 },
    { name: 'pci1', kind: 'pci', smmu: 'smmu1', sid: 4, pasid_bits: 8, driver_pasid: true },
    { name: 'nopasid', kind: 'pci', smmu: 'smmu1', sid: 5 },
  ],
  groups: [['pci0', 'pci1']],
};

const SOCS: { soc: SocConfigInput; devices: string[] }[] = [
  { soc: DEFAULT_SOC, devices: ['accel', 'gpu', 'dsa0', 'dsa1', 'iax0'] },
  { soc: X86_SOC, devices: ['accel', 'dsa0', 'pci0', 'pci1', 'nopasid'] },
];

const proc = fc.constantFrom('p0', 'p1', 'p2', 'p3');
const kname = fc.constantFrom('k0', 'k1');

function stepArb(devices: string[]): fc.Arbitrary<unknown> {
  const device = fc.constantFrom(...devices, 'dsa0');
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ bind: fc.record({ process: proc, device }) }) },
    { weight: 3, arbitrary: fc.record({ unbind: fc.record({ process: proc, device }) }) },
    { weight: 1, arbitrary: fc.record({ spawn: fc.record({ process: proc }) }) },
    { weight: 2, arbitrary: fc.record({ fork: fc.record({ process: proc, child: fc.constantFrom('c0', 'c1', 'c2') }) }) },
    { weight: 2, arbitrary: fc.record({ exec: fc.record({ process: proc }) }) },
    { weight: 2, arbitrary: fc.record({ exit: fc.record({ process: proc, files_kept: fc.boolean() }) }) },
    { weight: 2, arbitrary: fc.record({ alloc_global_pasid: fc.record({ device, as: kname }) }) },
    { weight: 1, arbitrary: fc.record({ free_global_pasid: fc.record({ name: kname }) }) },
    { weight: 1, arbitrary: fc.record({ attach_kernel_pasid: fc.record({ device, pasid: fc.integer({ min: 0, max: 9 }), as: fc.constantFrom('c7', 'c8') }) }) },
    { weight: 1, arbitrary: fc.record({ attach_rid: fc.record({ device, domain: fc.constantFrom('dma', 'identity', 'blocked', 's2') }) }) },
    { weight: 2, arbitrary: fc.record({ open_wq: fc.record({ process: proc, device: fc.constant('dsa0'), wq: fc.constantFrom('wq0', 'wq1') }) }) },
    { weight: 2, arbitrary: fc.record({ enqcmd: fc.record({ process: proc, device: fc.constant('dsa0'), wq: fc.constant('wq0') }) }) },
    { weight: 2, arbitrary: fc.constant('undo') },
  );
}

function follow(svc: LabService): { state: LiveState; events: LabEvent[] } {
  const snap = svc.request('lab.snapshot', {});
  if (!snap.ok) throw new Error(snap.error.message);
  const state = liveStateFrom(snap.value);
  const events: LabEvent[] = [];
  svc.subscribe((e) => {
    events.push(e);
    if (e.name === 'lab.patch') {
      expect(e.payload.seq).toBe(state.seq + 1);
      applyPatch(state, e.payload.patch, e.payload.seq);
    }
  });
  return { state, events };
}

describe('patches', () => {
  it('applied to the first snapshot, reproduce stateView after every step and undo (random sequences, every policy)', () => {
    let stepsApplied = 0;
    let undos = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SOCS.length - 1 }).chain((i) => fc.tuple(fc.constant(i), fc.constantFrom(...POLICY_NAMES), fc.array(stepArb(SOCS[i]!.devices), { maxLength: 40 }))),
        ([socIndex, policy, steps]) => {
          const svc = new LabService({ soc: SOCS[socIndex]!.soc, policy: policy as PolicyName });
          const { state } = follow(svc);
          for (const raw of steps) {
            const r = raw === 'undo' ? svc.request('lab.undo', {}) : svc.request('lab.step', { step: raw });
            if (!r.ok) {
              expect(r.error.code).toBe('rejected');
              continue;
            }
            if (raw === 'undo') undos++;
            else stepsApplied++;
            expect(materialise(state)).toEqual(svc.current.view());
            expect(state.seq).toBe(svc.currentSeq);
          }
          const snap = svc.request('lab.snapshot', {});
          expect(snap.ok).toBe(true);
          if (snap.ok) expect(state.steps).toEqual(snap.value.steps);
        },
      ),
      { numRuns: Number(process.env.PATCH_RUNS ?? 200), seed: Number(process.env.PATCH_SEED ?? 20260) },
    );
    // the generator must actually exercise steps and undos, or the property says nothing
    expect(stepsApplied).toBeGreaterThan(500);
    expect(undos).toBeGreaterThan(20);
  });

  it('every patch and snapshot the service produces matches the contract schemas', () => {
    const svc = new LabService();
    const seen: LabEvent[] = [];
    svc.subscribe((e) => e.name !== 'session.state' && seen.push(e));
    for (const step of [{ bind: { process: 'a', device: 'gpu' } }, { bind: { process: 'app', device: 'accel' } }, { exit: { process: 'a' } }]) {
      const r = svc.request('lab.step', { step });
      expect(r.ok).toBe(true);
      if (r.ok) REQUESTS['lab.step'].output.parse(r.value);
    }
    const u = svc.request('lab.undo', {});
    expect(u.ok && u.value.undone).toBe(2);
    if (u.ok) REQUESTS['lab.undo'].output.parse(u.value);
    const snap = svc.request('lab.snapshot', {});
    expect(snap.ok).toBe(true);
    if (snap.ok) REQUESTS['lab.snapshot'].output.parse(snap.value);
    expect(seen.map((e) => e.name)).toEqual(['lab.patch', 'lab.patch', 'lab.patch', 'lab.patch']);
    for (const e of seen) EVENTS[e.name].parse(e.payload);
  });

  it('a step patch names only what the step touched, not the whole state', () => {
    const svc = new LabService();
    for (let i = 0; i < 50; i++) expect(svc.request('lab.step', { step: { bind: { process: `q${i}`, device: 'gpu' } } }).ok).toBe(true);
    const r = svc.request('lab.step', { step: { bind: { process: 'last', device: 'gpu' } } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const p = r.value.patch;
    const procs = p.ops.filter((o) => o.path[0] === 'processes').map((o) => o.path[1]);
    expect(procs).toEqual(['last']);
    // one new PASID in the IDA, and no other q* process, mm or bond refreshed
    expect(p.ida.set).toHaveLength(1);
    expect(p.ida.clear).toEqual([]);
    expect(p.ops.some((o) => o.path.join('.').includes('q1'))).toBe(false);
    expect(JSON.stringify(p).length).toBeLessThan(4000);
  });
});

describe('wire helpers', () => {
  it('base64 round-trips every length and matches the platform encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const s = base64Encode(bytes);
        expect(s).toBe(Buffer.from(bytes).toString('base64'));
        expect([...base64Decode(s)]).toEqual([...bytes]);
      }),
    );
    expect(() => base64Decode('abc')).toThrow();
    expect(() => base64Decode('ab!d')).toThrow();
  });

  it('an id bitmap round-trips its ids and counts them', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 20 - 1 }), { maxLength: 300 }), (ids) => {
        const w = encodeIdBitmap(ids, 20);
        expect(w.count).toBe(ids.length);
        expect(w.base64.length).toBe(Math.ceil((2 ** 17) / 3) * 4);
        expect(bitmapIds(decodeIdBitmap(w))).toEqual([...ids].sort((a, b) => a - b));
      }),
      { numRuns: 30 },
    );
  });

  it('the Patch schema rejects a malformed patch', () => {
    expect(Patch.safeParse({ ops: [{ op: 'set', path: [] }], ida: { set: [], clear: [] }, asids: { set: [], clear: [] }, steps: { length: 0, append: [] }, changed: { devices: [], processes: [], pasids: [] } }).success).toBe(false);
  });
});

describe('measurement (printed, not asserted)', () => {
  it('a step plus its patch with the global PASID space full and 10,000 processes', () => {
    const svc = new LabService();
    const lab = svc.current;
    const t0 = performance.now();
    // 10,000 processes with an SVA bond and a global PASID each (mainline), through the lab like any step
    for (let i = 0; i < 10_000; i++) {
      const r = lab.apply({ op: 'bind', args: { process: `p${i}`, device: i % 2 ? 'gpu' : 'dsa0' } });
      if (!r.result.ok) throw new Error(`bind ${i}: ${r.result.why ?? r.result.rejected}`);
    }
    // the rest of the 2^20 space taken in the IDA directly (allocated, no owner), all but the last 64 ids
    const ida = lab.kernel.globalPasidIda;
    for (let id = 1; id < 2 ** 20 - 64; id++) ida.take(id);
    const setup = performance.now() - t0;

    const tSnap = performance.now();
    const snap = svc.request('lab.snapshot', {});
    if (!snap.ok) throw new Error(snap.error.message);
    const snapJson = JSON.stringify(snap.value);
    const snapMs = performance.now() - tSnap;
    const client = liveStateFrom(snap.value);
    expect(client.idaCount).toBe(ida.size);

    let wireMs = 0;
    let clientMs = 0;
    let bytes = 0;
    svc.subscribe((e) => {
      if (e.name !== 'lab.patch') return;
      const w0 = performance.now();
      const text = JSON.stringify({ event: e.name, payload: e.payload });
      wireMs += performance.now() - w0;
      bytes += text.length;
      const c0 = performance.now();
      applyPatch(client, JSON.parse(text).payload.patch, e.payload.seq);
      clientMs += performance.now() - c0;
    });
    const steps = [
      ...Array.from({ length: 20 }, (_, i) => ({ bind: { process: `n${i}`, device: 'gpu' } })),
      ...Array.from({ length: 20 }, (_, i) => ({ exit: { process: `p${i * 7}` } })),
    ];
    const times: number[] = [];
    for (const step of steps) {
      const s0 = performance.now();
      const r = svc.request('lab.step', { step });
      times.push(performance.now() - s0);
      expect(r.ok).toBe(true);
    }
    times.sort((a, b) => a - b);
    const med = times[times.length >> 1]!;
    const max = times.at(-1)!;
    // the client's IDA agrees with the lab's after the patches
    expect(client.idaCount).toBe(ida.size);
    console.log(
      `[measure] 2^20 IDA full (${ida.size} PASIDs), 10,000 processes: setup ${setup.toFixed(0)} ms; snapshot ${snapMs.toFixed(0)} ms, ${(snapJson.length / 1e6).toFixed(1)} MB JSON; ` +
        `step+patch in the service median ${med.toFixed(2)} ms, max ${max.toFixed(2)} ms over ${times.length} steps; ` +
        `patch serialise ${(wireMs / steps.length).toFixed(3)} ms/step, client applyPatch ${(clientMs / steps.length).toFixed(3)} ms/step, ${(bytes / steps.length).toFixed(0)} bytes/step`,
    );
  });
});
