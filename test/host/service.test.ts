/**
 * LabService behind the contract, without a transport: every request validated, typed errors that change nothing,
 * the events each request pushes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENTS, REQUESTS, REQUEST_NAMES, liveStateFrom, applyPatch, bitmapIds, type LabEvent } from '../../shared/contract.js';
import { DEFAULT_SOC } from '../../shared/default-soc.js';
import { INVARIANTS } from '../../shared/results.js';
import { OP_NAMES } from '../../shared/steps.js';
import { LabService } from '../../src-main/host/service.js';

/** The lab's events (session.state, the document's unsaved mark, has its own tests). */
function withEvents(svc = new LabService()): { svc: LabService; events: LabEvent[] } {
  const events: LabEvent[] = [];
  svc.subscribe((e) => e.name !== 'session.state' && events.push(e));
  return { svc, events };
}

const snap = (svc: LabService): string => JSON.stringify(svc.snapshot());

describe('LabService', () => {
  it('meta.info lists the policies with summaries, every operation with its fields, the invariants and the default SoC', () => {
    const r = new LabService({ version: '9.9.9' }).request('meta.info', {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    REQUESTS['meta.info'].output.parse(r.value);
    expect(r.value.version).toBe('9.9.9');
    expect(r.value.policies).toHaveLength(4);
    for (const p of r.value.policies) expect(p.summary.length).toBeGreaterThan(20);
    expect(r.value.ops.map((o) => o.name)).toEqual(OP_NAMES);
    const bind = r.value.ops.find((o) => o.name === 'bind')!;
    expect(bind.fields).toEqual([
      { name: 'process', optional: false, kind: 'process' },
      { name: 'device', optional: false, kind: 'device' },
    ]);
    const rid = r.value.ops.find((o) => o.name === 'attach_rid')!;
    expect(rid.fields[1]).toEqual({ name: 'domain', optional: false, kind: 'enum', values: ['dma', 'identity', 'blocked', 's2'] });
    const exit = r.value.ops.find((o) => o.name === 'exit')!;
    expect(exit.fields.find((f) => f.name === 'files_kept')).toMatchObject({ optional: true, kind: 'boolean' });
    expect(r.value.invariants.map((i) => i.name)).toEqual(Object.keys(INVARIANTS));
    expect(r.value.defaultSoc).toEqual(DEFAULT_SOC);
  });

  it('the first snapshot is the default SoC at boot under mainline, with the IDA as a bitmap', () => {
    const svc = new LabService();
    const r = svc.request('lab.snapshot', {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    REQUESTS['lab.snapshot'].output.parse(r.value);
    expect(r.value.seq).toBe(0);
    expect(r.value.policy).toBe('mainline');
    expect(r.value.config.devices.map((d) => d.name)).toEqual(['accel', 'gpu', 'dsa0', 'dsa1', 'iax0']);
    expect(r.value.steps).toEqual([]);
    expect(r.value.view).not.toHaveProperty('ida');
    // the idxd kernel PASIDs took 1..3 at boot
    expect(bitmapIds(liveStateFrom(r.value).ida)).toEqual([1, 2, 3]);
    expect(r.value.ida.count).toBe(3);
  });

  it('every request name is in the contract and nothing else is accepted', () => {
    const svc = new LabService();
    for (const name of ['', 'lab', 'lab.snapshot ', '__proto__', 'constructor', 'toString']) {
      expect(svc.handle(name, {})).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    }
    expect(svc.handle(42 as unknown as string, {})).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    for (const name of REQUEST_NAMES) expect(svc.handle(name, 'not an object')).toMatchObject({ ok: false, error: { code: 'bad-input' } });
  });

  it('a step pushes lab.patch with the same seq and patch it returns; a rejected step pushes nothing', () => {
    const { svc, events } = withEvents();
    const r = svc.request('lab.step', { step: { bind: { process: 'p1', device: 'gpu' }, note: 'first' } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ seq: 1, index: 0, result: { ok: true, pasid: 4 } });
    expect(events).toEqual([{ name: 'lab.patch', payload: { seq: 1, patch: r.value.patch } }]);
    expect(r.value.patch.steps.append[0]).toMatchObject({ index: 0, text: 'bind process=p1 device=gpu', note: 'first' });
    expect(r.value.patch.ida).toEqual({ set: [4], clear: [] });

    const before = snap(svc);
    const rej = svc.request('lab.step', { step: { bind: { process: 'p1', device: 'nosuch' } } });
    expect(rej).toMatchObject({ ok: false, error: { code: 'rejected' } });
    expect(rej.ok || rej.error.message).toContain("unknown device 'nosuch'");
    expect(events).toHaveLength(1);
    expect(snap(svc)).toBe(before);
  });

  it('a step that does not parse gets bad-step naming the field; nothing changes', () => {
    const { svc, events } = withEvents();
    const before = snap(svc);
    expect(svc.request('lab.step', { step: { bind: { process: 'p1', device: 'gpu', extra: 1 } } })).toMatchObject({ ok: false, error: { code: 'bad-step' } });
    expect(svc.request('lab.step', { step: { fly: {} } })).toMatchObject({ ok: false, error: { code: 'bad-step', path: 'step.fly' } });
    expect(svc.request('lab.step', { step: { bind: { process: 'bad.name', device: 'gpu' } } })).toMatchObject({ ok: false, error: { code: 'bad-step', path: 'step.bind.process' } });
    expect(svc.request('lab.step', { step: null })).toMatchObject({ ok: false, error: { code: 'bad-step', path: 'step' } });
    expect(snap(svc)).toBe(before);
    expect(events).toEqual([]);
  });

  it('undo pushes a patch that brings a client back; undo with no step changes nothing', () => {
    const { svc, events } = withEvents();
    expect(svc.request('lab.undo', {})).toEqual({ ok: true, value: { seq: 0, undone: null, patch: null } });
    expect(events).toEqual([]);
    const s0 = svc.request('lab.snapshot', {});
    if (!s0.ok) throw new Error();
    const client = liveStateFrom(s0.value);
    svc.subscribe((e) => e.name === 'lab.patch' && applyPatch(client, e.payload.patch, e.payload.seq));
    svc.request('lab.step', { step: { bind: { process: 'p1', device: 'gpu' } } });
    svc.request('lab.step', { step: { fork: { process: 'p1', child: 'c1' } } });
    const u = svc.request('lab.undo', {});
    expect(u).toMatchObject({ ok: true, value: { seq: 3, undone: 1 } });
    expect(svc.current.records).toHaveLength(1);
    expect({ ...client.view, ida: bitmapIds(client.ida) }).toEqual(svc.current.view());
    expect(client.steps).toHaveLength(1);
    expect(events.map((e) => e.name)).toEqual(['lab.patch', 'lab.patch', 'lab.patch']);
  });

  it('configure rebuilds with the new SoC and policy and pushes lab.replaced; a bad SoC names the field and changes nothing', () => {
    const { svc, events } = withEvents();
    svc.request('lab.step', { step: { bind: { process: 'p1', device: 'gpu' } } });
    const before = snap(svc);
    const bad = svc.request('lab.configure', { policy: 'rfc-v1', soc: { smmus: [{ name: 's0' }], devices: [{ name: 'd0', smmu: 's9', sid: 1 }] } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad-soc', path: 'soc.devices[0].smmu' } });
    const schema = svc.request('lab.configure', { policy: 'rfc-v1', soc: { smmus: [{ name: 's0', ssidsize: 21 }] } });
    expect(schema).toMatchObject({ ok: false, error: { code: 'bad-soc', path: 'soc.smmus[0].ssidsize' } });
    expect(svc.request('lab.configure', { policy: 'nope', soc: DEFAULT_SOC })).toMatchObject({ ok: false, error: { code: 'bad-input', path: 'policy' } });
    expect(snap(svc)).toBe(before);
    expect(events).toHaveLength(1);

    const ok = svc.request('lab.configure', { policy: 'rfc-v1', soc: { smmus: [{ name: 's0' }], devices: [{ name: 'd0', smmu: 's0', sid: 1, pasid_bits: 4 }] } });
    expect(ok).toEqual({ ok: true, value: { seq: 2 } });
    expect(events.at(-1)).toEqual({ name: 'lab.replaced', payload: { seq: 2, reason: 'configure' } });
    const s = svc.snapshot();
    expect(s.policy).toBe('rfc-v1');
    expect(s.steps).toEqual([]);
    expect(Object.keys(s.view.devices as object)).toEqual(['d0']);
  });

  it('loadScenario replaces the lab with the file; bad text is a typed error and leaves the lab untouched', () => {
    const { svc, events } = withEvents();
    svc.request('lab.step', { step: { bind: { process: 'p1', device: 'gpu' } } });
    const before = snap(svc);
    const yamlErr = svc.request('lab.loadScenario', { name: 'x.yaml', text: 'name: [unclosed' });
    expect(yamlErr).toMatchObject({ ok: false, error: { code: 'bad-scenario' } });
    const jsonErr = svc.request('lab.loadScenario', { name: 'x.json', text: '{"name": "x", "soc": ' });
    expect(jsonErr).toMatchObject({ ok: false, error: { code: 'bad-scenario' } });
    const refErr = svc.request('lab.loadScenario', { name: 'x.yaml', text: 'name: x\nsoc: { smmus: [{ name: s0 }], devices: [] }\nsteps:\n  - bind: { process: p, device: ghost }\n' });
    expect(refErr).toMatchObject({ ok: false, error: { code: 'bad-scenario', path: 'steps[0].bind.device' } });
    expect(snap(svc)).toBe(before);
    expect(events).toHaveLength(1);

    const text = readFileSync('scenarios/s01-global-exhaustion.yaml', 'utf8');
    const r = svc.request('lab.loadScenario', { name: 's01-global-exhaustion.yaml', text, policy: 'rfc-v1' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.stoppedAt).toBeNull();
    expect(r.value.steps).toBeGreaterThan(3);
    expect(events.at(-1)).toEqual({ name: 'lab.replaced', payload: { seq: r.value.seq, reason: 'loadScenario' } });
    const s = svc.snapshot();
    expect(s.scenario).toMatch(/^S1 global exhaustion/);
    expect(s.policy).toBe('rfc-v1');
    expect(s.steps).toHaveLength(r.value.steps);
    expect(s.steps[0]!.result).toMatchObject({ ok: true, pasid: 1 });
  });

  it('reset and stepTo rebuild and push lab.replaced; stepTo past the end is no-such-step', () => {
    const { svc, events } = withEvents();
    for (const p of ['a', 'b', 'c']) svc.request('lab.step', { step: { bind: { process: p, device: 'gpu' }, note: p } });
    expect(svc.request('lab.stepTo', { length: 4 })).toMatchObject({ ok: false, error: { code: 'no-such-step' } });
    expect(svc.request('lab.stepTo', { length: -1 })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    expect(svc.current.records).toHaveLength(3);
    expect(svc.request('lab.stepTo', { length: 1 })).toEqual({ ok: true, value: { seq: 4 } });
    expect(svc.snapshot().steps.map((s) => s.note)).toEqual(['a']);
    expect(svc.request('lab.reset', {})).toEqual({ ok: true, value: { seq: 5 } });
    expect(svc.current.records).toHaveLength(0);
    expect(events.slice(3)).toEqual([
      { name: 'lab.replaced', payload: { seq: 4, reason: 'stepTo' } },
      { name: 'lab.replaced', payload: { seq: 5, reason: 'reset' } },
    ]);
  });

  it("trace returns a step's records on demand, the boot trace at -1, and no-such-step beyond", () => {
    const svc = new LabService();
    svc.request('lab.step', { step: { bind: { process: 'p1', device: 'gpu' } } });
    const t = svc.request('lab.trace', { step: 0 });
    expect(t.ok).toBe(true);
    if (t.ok) {
      REQUESTS['lab.trace'].output.parse(t.value);
      expect(t.value.records.some((r) => r.t === 'call' && r.fn === 'iommu_sva_bind_device')).toBe(true);
    }
    const boot = svc.request('lab.trace', { step: -1 });
    expect(boot.ok && boot.value.records.length).toBeGreaterThan(0);
    expect(svc.request('lab.trace', { step: 1 })).toMatchObject({ ok: false, error: { code: 'no-such-step' } });
  });

  it('a subscriber that throws does not stop the others or fail the request', () => {
    const svc = new LabService();
    svc.subscribe(() => {
      throw new Error('closed socket');
    });
    const got: LabEvent[] = [];
    const off = svc.subscribe((e) => e.name !== 'session.state' && got.push(e));
    expect(svc.request('lab.reset', {}).ok).toBe(true);
    expect(got).toHaveLength(1);
    EVENTS['lab.replaced'].parse(got[0]!.payload);
    off();
    svc.request('lab.reset', {});
    expect(got).toHaveLength(1);
  });
});
