/** The UI's compact diffs stay exact across device steps: contexts in the device header, threads loaded by ENQCMD. */
import { describe, expect, it } from 'vitest';
import { applyPatch, bitmapIds, liveStateFrom, REQUESTS } from '../../shared/contract.js';
import { DEFAULT_SOC } from '../../shared/default-soc.js';
import { LabService, type LabServiceOptions } from '../../src-main/host/service.js';

/**
 * Applies `steps` ('undo' undoes) through a LabService, a client state following its patches, and checks after each
 * step that the patched state equals a fresh state view. Returns the service for further checks.
 */
function expectPatchesExact(opts: LabServiceOptions, steps: unknown[], label: string): LabService {
  const svc = new LabService(opts);
  const snap = svc.request('lab.snapshot', {});
  if (!snap.ok) throw new Error(snap.error.message);
  const state = liveStateFrom(snap.value);
  svc.subscribe((e) => {
    if (e.name === 'lab.patch') applyPatch(state, e.payload.patch, e.payload.seq);
  });
  for (const raw of steps) {
    const r = raw === 'undo' ? svc.request('lab.undo', {}) : svc.request('lab.step', { step: raw });
    if (!r.ok) throw new Error(`${JSON.stringify(raw)}: ${r.error.message}`);
    if (raw !== 'undo') REQUESTS['lab.step'].output.parse(r.value);
    expect({ ...state.view, ida: bitmapIds(state.ida) }, `${label}after ${JSON.stringify(raw)}`).toEqual(svc.current.view());
  }
  return svc;
}

describe('patches with device steps', () => {
  it('applied to the first snapshot, reproduce stateView after binds, jobs, forks, exits and undos', () => {
    for (const policy of ['driver-pasid', 'rfc-v1'] as const) {
      const steps: unknown[] = [
        { map: { process: 'p', va: 0x400000, length: 0x4000 } },
        { touch: { process: 'p', va: 0x400000, length: 0x4000, data: '00' } },
        { bind: { process: 'p', device: 'accel' } },
        { bind: { process: 'p', device: 'accel' } },
        { submit: { device: 'accel', process: 'p', op: 'fill', value: '01', dst: 0x400000, length: 8 } },
        { open_wq: { process: 'p', device: 'dsa1', wq: 'wq0' } },
        { submit: { device: 'dsa1', process: 'p', thread: 't2', wq: 'wq0', op: 'memmove', src: 0x400000, dst: 0x401000, length: 8, completion: 0x402000 } },
        { fork: { process: 'p', child: 'c' } },
        { submit: { device: 'dsa1', process: 'c', wq: 'wq0', op: 'fill', value: '02', dst: 0x401000, length: 8 } },
        { unbind: { process: 'p', device: 'accel' } },
        'undo',
        { exit: { process: 'p', files_kept: true } },
        { submit: { device: 'accel', process: 'p', op: 'fill', value: '03', dst: 0x400000, length: 8 } },
        { unbind: { process: 'p', device: 'accel' } },
        { exit: { process: 'c' } },
        'undo',
        { bind: { process: 'q', device: 'accel' } },
      ];
      expectPatchesExact({ soc: { ...DEFAULT_SOC, enqcmd: true }, policy }, steps, `${policy} `);
    }
  });

  it('stay exact with ATS and PRI: the ATC in the device header, the PRI queue in the SMMU summary', () => {
    const soc = {
      arch: 'arm64' as const,
      smmus: [{ name: 'smmu0', ssidsize: 20, ats: true, pri: true }],
      devices: [
        { name: 'gpu', kind: 'pci' as const, smmu: 'smmu0', sid: 0x200, pasid_bits: 8, ats: true, pri: true },
        { name: 'nic', kind: 'pci' as const, smmu: 'smmu0', sid: 0x100, pasid_bits: 8, ats: true },
      ],
    };
    const steps: unknown[] = [
      { map: { process: 'p', va: 0x400000, length: 0x3000 } },
      { touch: { process: 'p', va: 0x400000, length: 0x2000, data: '00' } },
      { bind: { process: 'p', device: 'gpu' } },
      { bind: { process: 'p', device: 'nic' } },
      { dma: { device: 'gpu', process: 'p', va: 0x400000, length: 8 } },
      { dma: { device: 'nic', process: 'p', va: 0x401000, length: 8 } },
      { dma: { device: 'gpu', process: 'p', va: 0x402000, length: 8 } },
      { unmap: { process: 'p', va: 0x401000, length: 0x1000 } },
      { unmap: { process: 'p', va: 0x400000, length: 0x1000, notify: false } },
      { dma: { device: 'gpu', process: 'p', va: 0x400000, length: 8 } },
      'undo',
      { attach_rid: { device: 'nic', domain: 'identity' } },
      { unbind: { process: 'p', device: 'nic' } },
      { exit: { process: 'p' } },
    ];
    const svc = expectPatchesExact({ soc, policy: 'mainline' }, steps, '');
    expect(svc.current.view().smmus.smmu0.priq.produced).toBe(1);
  });
});
