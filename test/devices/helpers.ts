/** Terse drivers for the device tests: memory, jobs and reading back what the devices wrote. */
import { expect } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.js';
import type { StepResult } from '../../shared/results.js';
import type { OpArgs } from '../../shared/steps.js';
import { step } from '../unit/helpers.js';

export { bind, dev, exit, mkLab, proc, step, unbind, view } from '../unit/helpers.js';

/** mmap + populate every page (the CPU writes `fill`, repeated). */
export function mapTouched(l: Lab, process: string, va: number, length: number, fill = '00'): void {
  expect(step(l, { op: 'map', args: { process, va, length, write: true } }).ok).toBe(true);
  expect(step(l, { op: 'touch', args: { process, va, length, write: true, data: fill } }).ok).toBe(true);
}

export function mapOnly(l: Lab, process: string, va: number, length: number): void {
  expect(step(l, { op: 'map', args: { process, va, length, write: true } }).ok).toBe(true);
}

export function write(l: Lab, process: string, va: number, hex: string): void {
  expect(step(l, { op: 'touch', args: { process, va, length: hex.length / 2, write: true, data: hex } }).ok).toBe(true);
}

export function writeBytes(l: Lab, process: string, va: number, bytes: Uint8Array): void {
  write(l, process, va, Buffer.from(bytes).toString('hex'));
}

/** What the CPU reads at `va` in `process` (hex). */
export function read(l: Lab, process: string, va: number, length: number): string {
  const r = step(l, { op: 'touch', args: { process, va, length, write: false } });
  expect(r.ok, r.why).toBe(true);
  return r.data!;
}

export function readBytes(l: Lab, process: string, va: number, length: number): Buffer {
  return Buffer.from(read(l, process, va, length), 'hex');
}

export function submit(l: Lab, args: OpArgs<'submit'>): StepResult {
  return step(l, { op: 'submit', args });
}

/** The step is refused by the lab (rejected), with a message matching `why`. */
export function rejected(l: Lab, args: OpArgs<'submit'>, why: RegExp): void {
  const r = l.apply({ op: 'submit', args }).result;
  expect(r.rejected).toMatch(why);
}

export function openWq(l: Lab, process: string, device: string, wq: string): StepResult {
  return step(l, { op: 'open_wq', args: { process, device, wq } });
}

export const hex = (s: string): string => Buffer.from(s).toString('hex');
