/** The UI's compact diffs stay exact across device steps: contexts in the device header, threads loaded by ENQCMD. */
import { describe, expect, it } from 'vitest';
import { applyPatch, bitmapIds, liveStateFrom, REQUESTS } from '../../shared/contract.js';
import { DEFAULT_SOC } from '../../shared/default-soc.js';
import { LabService } from '../../src-main/host/service.js';

describe('patches with device steps', () => {
  it('applied to the first snapshot, reproduce stateView after binds, jobs, forks, exits and undos', () => {
    for (const policy of ['driver-pasid', 'rfc-v1'] as const) {
      const svc = new LabService({ soc: { ...DEFAULT_SOC, enqcmd: true }, policy });
      const snap = svc.request('lab.snapshot', {});
      if (!snap.ok) throw new Error(snap.error.message);
      const state = liveStateFrom(snap.value);
      svc.subscribe((e) => {
        if (e.name === 'lab.patch') applyPatch(state, e.payload.patch, e.payload.seq);
      });
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
      for (const raw of steps) {
        const r = raw === 'undo' ? svc.request('lab.undo', {}) : svc.request('lab.step', { step: raw });
        if (!r.ok) throw new Error(`${JSON.stringify(raw)}: ${r.error.message}`);
        if (raw !== 'undo') REQUESTS['lab.step'].output.parse(r.value);
        expect({ ...state.view, ida: bitmapIds(state.ida) }, `${policy} after ${JSON.stringify(raw)}`).toEqual(svc.current.view());
      }
    }
  });
});
