/** The `submit` step in scenario files: schema errors name the field; jobs run under every policy with expectations. */
import { describe, expect, it } from 'vitest';
import { parseScenarioText, runScenario, ScenarioInputError } from '../../src-main/lab/scenario.js';
import { POLICY_NAMES } from '../../shared/steps.js';

const SEED = `
name: the seed's accelerator runs jobs in its contexts
policy: [mainline, rfc-v1, arch-gated, driver-pasid]
soc:
  smmus: [{ name: smmu0, ssidsize: 20 }]
  devices:
    - { name: accel, smmu: smmu0, sid: 0x10, pasid_bits: 2, stall: true, driver_pasid: true }
steps:
  - map: { process: p, va: 0x400000, length: 0x2000 }
  - touch: { process: p, va: 0x400000, length: 4, data: "c0ffee42" }
  - bind: { process: p, device: accel }
    expect: { pasid: 1, state: { devices.accel.contexts: { total: 3, in_use: 1, regs: { "0": { ssid: 1, files: ["file1:accel"] } } } } }
  - submit: { device: accel, process: p, op: copy, src: 0x400000, dst: 0x401000, length: 4 }
    expect: { ok: true, pasid: 1, events: [F_TRANSLATION] }
  - touch: { process: p, va: 0x401000, length: 4, write: false }
    expect: { data: "c0ffee42" }
  - exit: { process: p, files_kept: true }
    expect: { state: { devices.accel.contexts.regs.0.ssid: 1, devices.accel.cds.1.kind: fault } }
  - submit: { device: accel, process: p, op: fill, value: "00", dst: 0x401000, length: 4 }
    expect: { ok: false, error: EFAULT, events: [] }
  - unbind: { process: p, device: accel }
    expect: { state: { devices.accel.contexts: { total: 3, in_use: 0, regs: {} } } }
`;

const S9_HW = `
name: S9 through the hardware
policy: [mainline, rfc-v1]
soc:
  arch: x86
  smmus: [{ name: smmu0, ssidsize: 20 }]
  devices:
    - { name: dsa0, kind: dsa, smmu: smmu0, sid: 0x100, pasid_bits: 20, kernel_pasid: true }
steps:
  - map: { process: p, va: 0x400000, length: 0x1000 }
  - touch: { process: p, va: 0x400000, length: 0x1000, data: "00" }
  - submit: { device: dsa0, process: p, wq: wq0, op: fill, value: "11", dst: 0x400000, length: 4, completion: 0x400100 }
    expect: { error: SIGSEGV }
  - open_wq: { process: p, device: dsa0, wq: wq0 }
    expect: { pasid: 2 }
  - submit: { device: dsa0, process: p, wq: wq0, op: fill, value: "11", dst: 0x400000, length: 4, completion: 0x400100 }
    expect: { ok: true, pasid: 2, data: "0100000004000000000000000000000000000000000000000000000000000000" }
  - unbind: { process: p, device: dsa0 }
  - map: { process: s, va: 0x400000, length: 0x1000 }
  - touch: { process: s, va: 0x400000, length: 0x1000, data: "aa" }
  - open_wq: { process: s, device: dsa0, wq: wq0 }
    expect: { pasid: 3, rfc-v1: { pasid: 2, violations: [enqcmd-pasid-unique] } }
  - submit: { device: dsa0, process: p, wq: wq0, op: fill, value: "66", dst: 0x400000, length: 4, completion: 0x400100 }
    expect:
      mainline: { error: EFAULT, events: [C_BAD_CD, C_BAD_CD] }
      rfc-v1: { ok: true, violations: [isolation] }
  - touch: { process: s, va: 0x400000, length: 4, write: false }
    expect: { mainline: { data: "aaaaaaaa" }, rfc-v1: { data: "66666666" } }
`;

describe('submit in scenario files', () => {
  it('runs the accelerator scenario under every policy', () => {
    const s = parseScenarioText(SEED, 'seed.yaml');
    for (const policy of POLICY_NAMES) {
      const r = runScenario(s, policy, true);
      expect(r.rejected, policy).toBeNull();
      expect(
        r.steps.filter((x) => x.mismatches.length).map((x) => `${x.index}: ${x.mismatches.join('; ')}`),
        policy,
      ).toEqual([]);
      expect(r.passed).toBe(true);
    }
  });

  it('shows S9 step 3 as hardware: mainline faults (C_BAD_CD), rfc-v1 writes into the next opener', () => {
    const s = parseScenarioText(S9_HW, 's9hw.yaml');
    for (const policy of ['mainline', 'rfc-v1'] as const) {
      const r = runScenario(s, policy, true);
      expect(r.steps.filter((x) => x.mismatches.length).map((x) => `${x.index}: ${x.mismatches.join('; ')}`), policy).toEqual([]);
      expect(r.passed, policy).toBe(true);
    }
  });

  it('names the field of a malformed submit', () => {
    const bad = (step: string): string => {
      try {
        parseScenarioText(`name: x\nsoc: { smmus: [{ name: smmu0 }], devices: [{ name: a, smmu: smmu0, sid: 1, pasid_bits: 2 }] }\nsteps:\n  - ${step}\n`, 'x.yaml');
      } catch (e) {
        if (e instanceof ScenarioInputError) return e.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
        throw e;
      }
      return '';
    };
    expect(bad('submit: { device: a, process: p, op: fill, dst: 0, length: 4 }')).toMatch(/steps\[0\]\.submit\.value: fill needs a `value`/);
    expect(bad('submit: { device: a, process: p, op: copy, dst: 0, length: 4 }')).toMatch(/steps\[0\]\.submit\.src: this operation reads `src`/);
    expect(bad('submit: { device: a, process: p, op: copy, src: 0, dst: 0, length: 4, value: "00" }')).toMatch(/submit\.value: `value` is the pattern of a fill/);
    expect(bad('submit: { device: a, process: p, op: fill, value: "001122334455667788", dst: 0, length: 4 }')).toMatch(/submit\.value: 1 to 8 bytes as hex/);
    expect(bad('submit: { device: a, process: p, op: xor, dst: 0, length: 4 }')).toMatch(/submit\.op/);
    expect(bad('submit: { device: nope, process: p, op: fill, value: "00", dst: 0, length: 4 }')).toMatch(/unknown device 'nope'/);
  });
});
