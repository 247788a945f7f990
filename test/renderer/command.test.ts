// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { complete, parseCommand, usage, type Names } from '../../src-renderer/lib/command.js';
import { LabService } from '../../src-main/host/service.js';
import type { MetaInfo } from '../../shared/contract.js';

const meta = new LabService().request('meta.info', {});
if (!meta.ok) throw new Error('meta.info failed');
const ops: MetaInfo['ops'] = meta.value.ops;

const PROCS = ['app', 'p1', 'p2'];
const KERNEL = ['dsa0-kernel', 'iax0-kernel'];
const names: Names = {
  processes: (prefix, limit) => PROCS.filter((n) => n.startsWith(prefix)).slice(0, limit),
  hasProcess: (n) => PROCS.includes(n),
  devices: () => ['accel', 'gpu', 'dsa0', 'iax0'],
  kernelPasids: (prefix, limit) => KERNEL.filter((n) => n.startsWith(prefix)).slice(0, limit),
  wqs: (d) => (d === 'dsa0' ? ['wq0', 'wq1'] : d === 'iax0' ? ['wq0'] : []),
  threads: (p) => (p === 'p1' ? ['main', 't1'] : ['main']),
};

describe('parseCommand', () => {
  it('takes arguments by position in the order meta.info lists the fields', () => {
    expect(parseCommand('bind app accel', ops)).toEqual({ ok: true, op: 'bind', step: { bind: { process: 'app', device: 'accel' } } });
  });

  it('takes arguments by name, mixed with positions, and the scenario flow form', () => {
    expect(parseCommand('bind device=accel app', ops)).toMatchObject({ ok: true, step: { bind: { process: 'app', device: 'accel' } } });
    expect(parseCommand('bind: { process: app, device: accel }', ops)).toMatchObject({ ok: true, step: { bind: { process: 'app', device: 'accel' } } });
  });

  it('converts ints (decimal or hex) and booleans by the field kind', () => {
    expect(parseCommand('attach_kernel_pasid gpu 0x10 k1', ops)).toMatchObject({ ok: true, step: { attach_kernel_pasid: { device: 'gpu', pasid: 16, as: 'k1' } } });
    expect(parseCommand('exit p1 true', ops)).toMatchObject({ ok: true, step: { exit: { process: 'p1', files_kept: true } } });
  });

  it("converts fields meta.info only calls names by their schema: addresses and flags typed, hex data kept as text", () => {
    expect(parseCommand('map p1 0x1000 4096 false', ops)).toMatchObject({ ok: true, step: { map: { process: 'p1', va: 4096, length: 4096, write: false } } });
    expect(parseCommand('touch p1 0x1000 2 true 12', ops)).toMatchObject({ ok: true, step: { touch: { process: 'p1', va: 4096, length: 2, write: true, data: '12' } } });
    expect(parseCommand('dma accel ssid=7 va=0x1000 length=8', ops)).toMatchObject({ ok: true, step: { dma: { device: 'accel', ssid: 7, va: 4096, length: 8 } } });
  });

  it('leaves optional fields out and names a missing required one', () => {
    expect(parseCommand('alloc_global_pasid dsa0', ops)).toEqual({ ok: true, op: 'alloc_global_pasid', step: { alloc_global_pasid: { device: 'dsa0' } } });
    const r = parseCommand('bind app', ops);
    expect(r).toMatchObject({ ok: false, field: 'device' });
    if (!r.ok) expect(r.message).toContain('bind <process> <device>');
  });

  it('refuses unknown operations, unknown fields and extra arguments', () => {
    expect(parseCommand('frobnicate x', ops)).toMatchObject({ ok: false });
    expect(parseCommand('bind app accel extra', ops)).toMatchObject({ ok: false, message: expect.stringContaining('too many') });
    expect(parseCommand('bind app colour=red', ops)).toMatchObject({ ok: false, field: 'colour' });
    expect(parseCommand('   ', ops)).toMatchObject({ ok: false });
  });

  it('usage shows optional fields in brackets', () => {
    expect(usage(ops.find((o) => o.name === 'enqcmd')!)).toBe('enqcmd <process> [thread] <device> [wq]');
  });
});

describe('complete', () => {
  const labels = (line: string): string[] => complete(line, ops, names).map((c) => c.label);

  it('proposes operations first, filtered by the prefix', () => {
    expect(complete('', ops, names).map((c) => c.line.trim())).toEqual(ops.map((o) => o.name));
    expect(complete('fr', ops, names).map((c) => c.line)).toEqual(['free_global_pasid ']);
  });

  it('proposes the names of the kind of the field being typed', () => {
    expect(labels('bind ')).toEqual(['app', 'p1', 'p2']);
    expect(labels('bind p1 ')).toEqual(['accel', 'gpu', 'dsa0', 'iax0']);
    expect(labels('bind p1 d')).toEqual(['dsa0']);
    expect(labels('free_global_pasid ')).toEqual(['dsa0-kernel', 'iax0-kernel']);
    expect(labels('attach_rid gpu ')).toEqual(['dma', 'identity', 'blocked', 's2']);
    expect(labels('exit p1 ')).toEqual(['true', 'false']);
    expect(complete('bind p1 gp', ops, names)[0]!.line).toBe('bind p1 gpu ');
  });

  it('offers only devices with work queues for WQ steps, and the WQs of the chosen device', () => {
    expect(labels('open_wq p1 ')).toEqual(['dsa0', 'iax0']);
    expect(labels('open_wq p1 dsa0 ')).toEqual(['wq0', 'wq1']);
    expect(labels('open_wq p1 iax0 ')).toEqual(['wq0']);
    expect(labels('enqcmd p1 ')).toEqual(['main', 't1']);
  });

  it('completes the value of a named argument', () => {
    expect(complete('bind device=a', ops, names).map((c) => c.line)).toEqual(['bind device=accel ']);
  });

  it('proposes nothing past the last field or for free-form names', () => {
    expect(labels('bind p1 gpu ')).toEqual([]);
    expect(labels('fork p1 ')).toEqual(['p1-child']); // a child must be a new process name
    expect(labels('fork p1-child ')).toEqual(['p1-child-child']);
    expect(labels('alloc_global_pasid dsa0 ')).toEqual([]);
  });
});
