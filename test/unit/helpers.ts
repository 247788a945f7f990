/** Small helpers shared by the unit tests: build a lab from a few devices and drive it with terse calls. */
import { Lab } from '../../src-main/lab/lab.js';
import { SocConfig, type SocConfigInput } from '../../shared/soc-config.js';
import type { Op, PolicyName } from '../../shared/steps.js';
import type { StepResult } from '../../shared/results.js';
import type { Device, Process } from '../../src-main/sim/kernel/structs.js';

export type DevIn = NonNullable<SocConfigInput['devices']>[number];
export type SmmuIn = SocConfigInput['smmus'][number];

export function mkLab(
  devices: DevIn[],
  opts: { smmus?: SmmuIn[]; groups?: string[][]; arch?: 'arm64' | 'x86'; policy?: PolicyName; check?: boolean } = {},
): Lab {
  const cfg = SocConfig.parse({
    arch: opts.arch ?? 'arm64',
    smmus: opts.smmus ?? [{ name: 'smmu0', ssidsize: 20 }],
    devices,
    groups: opts.groups ?? [],
  });
  return new Lab(cfg, opts.policy ?? 'mainline', { check: opts.check ?? true });
}

/** Applies a step and returns its result; fails the test if the lab rejected the step. */
export function step(l: Lab, op: Op): StepResult {
  const r = l.apply(op).result;
  if (r.rejected !== undefined) throw new Error(`step rejected: ${r.rejected}`);
  return r;
}

export const bind = (l: Lab, process: string, device: string): StepResult => step(l, { op: 'bind', args: { process, device } });
export const unbind = (l: Lab, process: string, device: string): StepResult => step(l, { op: 'unbind', args: { process, device } });
export const exit = (l: Lab, process: string, files_kept = false): StepResult => step(l, { op: 'exit', args: { process, files_kept } });
export const exec = (l: Lab, process: string): StepResult => step(l, { op: 'exec', args: { process } });
export const kpasid = (l: Lab, device: string, as?: string): StepResult =>
  step(l, { op: 'alloc_global_pasid', args: as === undefined ? { device } : { device, as } });
export const attachRid = (l: Lab, device: string, domain: 'dma' | 'identity' | 'blocked' | 's2'): StepResult =>
  step(l, { op: 'attach_rid', args: { device, domain } });

export function dev(l: Lab, name: string): Device {
  const d = l.kernel.devices.get(name);
  if (!d) throw new Error(`no device ${name}`);
  return d;
}

export function proc(l: Lab, name: string): Process {
  const p = l.kernel.processes.get(name);
  if (!p) throw new Error(`no process ${name}`);
  return p;
}

/** The lab's JSON state view, loosely typed for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function view(l: Lab): any {
  return l.view();
}

export function idaIds(l: Lab): number[] {
  return [...l.kernel.globalPasidIda.ids()];
}
