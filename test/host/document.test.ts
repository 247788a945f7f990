/**
 * The session document behind the bench's File actions on LabService: session.info and the session.state event
 * (the unsaved mark), session.new, notes and layout through session.update, a browser's save (session.export with
 * `saved`), the exports (trace as JSON Lines, steps as a scenario), host.document, and the steps to redo carried by
 * patches (`steps.future`, futureAfter) so that a renderer keeps its timeline without refetching.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { applyPatch, EVENTS, futureAfter, liveStateFrom, REQUESTS, type LabEvent, type Response, type StepSummary } from '../../shared/contract.js';
import { DEFAULT_SOC } from '../../shared/default-soc.js';
import { LabService } from '../../src-main/host/service.js';
import { parseScenarioText, runScenario } from '../../src-main/lab/scenario.js';
import { traceJsonLines } from '../../src-main/lab/export.js';

const ok = <T>(r: Response<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};

function withEvents(svc = new LabService()): { svc: LabService; events: LabEvent[] } {
  const events: LabEvent[] = [];
  svc.subscribe((e) => events.push(e));
  return { svc, events };
}

const states = (events: LabEvent[]): unknown[] => events.filter((e) => e.name === 'session.state').map((e) => e.payload);

const SEED_STEPS = [
  { bind: { process: 'p1', device: 'gpu' } },
  { bind: { process: 'app', device: 'accel' }, note: 'the seed' },
  { alloc_global_pasid: { device: 'dsa1' } },
  { fork: { process: 'p1', child: 'c1' } },
];

function busy(svc = new LabService()): LabService {
  for (const step of SEED_STEPS) ok(svc.request('lab.step', { step }));
  return svc;
}

describe('the unsaved mark: session.info and session.state', () => {
  it('session.state is pushed when the unsaved state flips or the name changes, not on every step', () => {
    const { svc, events } = withEvents();
    expect(ok(svc.request('session.info', {}))).toEqual({ name: null, suggestedName: 'lab.svalab', dirty: false, notes: '', layout: {}, opened: null });
    busy(svc);
    // four steps: one flip to dirty
    expect(states(events)).toEqual([{ dirty: true, name: null }]);
    const text = ok(svc.request('session.export', {})).text;
    expect(svc.dirty).toBe(true); // exporting alone is not saving
    svc.markSaved('seed.svalab'); // Electron's Save As
    expect(states(events).at(-1)).toEqual({ dirty: false, name: 'seed.svalab' });
    expect(ok(svc.request('session.info', {}))).toMatchObject({ name: 'seed.svalab', dirty: false });
    ok(svc.request('lab.undo', {}));
    ok(svc.request('lab.redo', {}));
    expect(states(events)).toEqual([
      { dirty: true, name: null },
      { dirty: false, name: 'seed.svalab' },
      { dirty: true, name: 'seed.svalab' },
    ]);
    for (const e of events) EVENTS[e.name].parse(e.payload);
    // an import replaces the document: no session.state, session.info says it (with the open's report)
    events.length = 0;
    ok(svc.request('session.import', { name: 'other.svalab', text }));
    expect(events.map((e) => e.name)).toEqual(['lab.replaced']);
    const info = ok(svc.request('session.info', {}));
    REQUESTS['session.info'].output.parse(info);
    expect(info).toMatchObject({ name: 'other.svalab', dirty: false, opened: { id: 1, name: 'other.svalab', steps: 4, position: 4, divergences: 0 } });
  });

  it('notes mark the session unsaved, the same notes again do not, a layout alone does not', () => {
    const { svc, events } = withEvents();
    expect(ok(svc.request('session.update', { layout: { tab: 'smmu' } }))).toEqual({ dirty: false });
    expect(states(events)).toEqual([]);
    expect(ok(svc.request('session.update', { notes: 'starved accelerator' }))).toEqual({ dirty: true });
    expect(states(events)).toEqual([{ dirty: true, name: null }]);
    svc.markSaved();
    expect(ok(svc.request('session.update', { notes: 'starved accelerator' }))).toEqual({ dirty: false });
    const info = ok(svc.request('session.info', {}));
    expect(info).toMatchObject({ notes: 'starved accelerator', layout: { tab: 'smmu' }, dirty: false });
    const saved = JSON.parse(ok(svc.request('session.export', {})).text);
    expect(saved).toMatchObject({ notes: 'starved accelerator', layout: { tab: 'smmu' } });
  });

  it("a browser's download (session.export with saved) marks the session saved under the file's name", () => {
    const { svc, events } = withEvents(busy());
    const r = ok(svc.request('session.export', { notes: 'n', saved: true }));
    expect(r.name).toBe('lab.svalab');
    expect(svc.dirty).toBe(false);
    expect(states(events).at(-1)).toEqual({ dirty: false, name: 'lab.svalab' });
    expect(JSON.parse(r.text).notes).toBe('n');
  });
});

describe('session.new', () => {
  it('a fresh lab on the default SoC under mainline and a fresh document, not dirty; lab.replaced reason new', () => {
    const svc = busy(new LabService({ policy: 'driver-pasid' }));
    ok(svc.request('session.update', { notes: 'old notes', layout: { tab: 'smmu' } }));
    const text = ok(svc.request('session.export', {})).text;
    ok(svc.request('session.import', { name: 'old.svalab', text }));
    ok(svc.request('lab.undo', {}));
    const { events } = withEvents(svc);
    const r = ok(svc.request('session.new', {}));
    expect(events.map((e) => e.name)).toEqual(['lab.replaced']);
    expect(events[0]!.payload).toEqual({ seq: r.seq, reason: 'new' });
    const snap = svc.snapshot();
    expect(snap.policy).toBe('mainline');
    expect(snap.steps).toEqual([]);
    expect(snap.future).toEqual([]);
    expect(snap.view.kernel_pasids).toMatchObject({ 'dsa0-kernel': { pasid: 1 } });
    expect(ok(svc.request('session.info', {}))).toEqual({ name: null, suggestedName: 'lab.svalab', dirty: false, notes: '', layout: {}, opened: null });
    expect(JSON.parse(ok(svc.request('session.export', {})).text)).toMatchObject({ notes: '', layout: {}, steps: [] });
  });

  it('takes a SoC and policy; a bad SoC names the field and changes nothing', () => {
    const svc = busy();
    const before = JSON.stringify(svc.snapshot());
    const bad = svc.request('session.new', { soc: { smmus: [{ name: 's0' }], devices: [{ name: 'd', smmu: 'nope', sid: 1 }] } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad-soc', path: 'soc.devices[0].smmu' } });
    expect(JSON.stringify(svc.snapshot())).toBe(before);
    expect(svc.dirty).toBe(true);
    ok(svc.request('session.new', { soc: DEFAULT_SOC, policy: 'rfc-v1' }));
    expect(svc.snapshot().policy).toBe('rfc-v1');
    expect(svc.dirty).toBe(false);
  });
});

describe('exports', () => {
  it('the trace as JSON Lines: a boot line, one step line per applied step, then its records, every line JSON', () => {
    const svc = busy();
    ok(svc.request('lab.undo', {})); // the trace is of the lab as it stands: 3 applied steps
    const r = ok(svc.request('export.trace', {}));
    REQUESTS['export.trace'].output.parse(r);
    expect(r.name).toBe('lab-trace.jsonl');
    expect(r.text.endsWith('\n')).toBe(true);
    const lines = r.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ t: 'boot', step: -1, policy: 'mainline' });
    const heads = lines.filter((l) => l.t === 'step');
    expect(heads.map((l) => l.text)).toEqual(['bind process=p1 device=gpu', 'bind process=app device=accel', 'alloc_global_pasid device=dsa1']);
    expect(heads[1]).toMatchObject({ step: 1, step_op: { bind: { process: 'app', device: 'accel' } }, result: { ok: false, errno: 'ENOSPC' } });
    expect(r.steps).toBe(3);
    expect(r.records).toBe(lines.length - 1 - 3);
    // each record sits after its step's line and carries that step
    let at = -1;
    for (const l of lines) {
      if (l.t === 'step') at = l.step as number;
      else if (l.t !== 'boot') expect(l.step).toBe(at);
    }
    // the records are the lab's own trace, in order
    const lab = svc.current;
    const own = lines.filter((l) => l.step === 0 && l.t !== 'step').map(({ step: _s, ...rest }) => rest);
    expect(own).toEqual(lab.traceOf(lab.records.at(0)!));
    expect(own.some((x) => x.t === 'call' && x.fn === 'iommu_sva_bind_device')).toBe(true);
  });

  it('a range of steps; a trace past the size limit is refused with a message (not truncated)', () => {
    const svc = busy();
    const r = ok(svc.request('export.trace', { from: 1, to: 2 }));
    const lines = r.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.t === 'step' || l.t === 'boot').map((l) => l.step)).toEqual([1]);
    expect(svc.request('export.trace', { from: 9 })).toMatchObject({ ok: false, error: { code: 'no-such-step' } });
    expect(() => traceJsonLines(svc.current, -1, 4, 1000)).toThrow(/larger than 1000 characters/);
  });

  it('the steps as a scenario YAML that passes `svalab run` under its policy, kernel PASID names made explicit', () => {
    const svc = busy();
    ok(svc.request('session.update', { notes: 'starved accelerator\n\nThe kernel PASIDs took 1..3.' }));
    ok(svc.request('lab.undo', {})); // the whole timeline is exported, as svalab convert does
    const r = ok(svc.request('export.scenario', {}));
    REQUESTS['export.scenario'].output.parse(r);
    expect(r.name).toBe('lab.yaml');
    expect(r.steps).toBe(4);
    const doc = parseYaml(r.text) as { name: string; description: string; policy: string; steps: Record<string, unknown>[] };
    expect(doc).toMatchObject({ name: 'starved accelerator', description: 'The kernel PASIDs took 1..3.', policy: 'mainline' });
    expect(doc.steps[1]).toMatchObject({ bind: { process: 'app', device: 'accel' }, expect: { ok: false, error: 'ENOSPC' }, note: 'the seed' });
    expect(doc.steps[2]).toMatchObject({ alloc_global_pasid: { device: 'dsa1', as: 'k1' } });
    const run = runScenario(parseScenarioText(r.text, r.name), 'mainline');
    expect(run.steps).toHaveLength(4);
    expect(run.passed).toBe(true);
    // and as JSON
    const j = ok(svc.request('export.scenario', { json: true }));
    expect(j.name).toBe('lab.json');
    expect(JSON.parse(j.text).steps).toHaveLength(4);
  });
});

describe('host.document', () => {
  it('is not handled without a document host (the web host: the renderer does it); a host gets the action', () => {
    const svc = new LabService();
    for (const action of ['new', 'open', 'save', 'saveAs'] as const) expect(ok(svc.request('host.document', { action }))).toEqual({ handled: false });
    const got: string[] = [];
    svc.setDocumentHost({ action: (a) => void got.push(a) });
    expect(ok(svc.request('host.document', { action: 'saveAs' }))).toEqual({ handled: true });
    expect(got).toEqual(['saveAs']);
    expect(svc.request('host.document', { action: 'format' })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    expect(svc.dirty).toBe(false);
  });
});

describe('the steps to redo, carried by patches', () => {
  it('a client keeps the snapshot future from patches alone: undo, redo, a new step (random sequences)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      let x = seed;
      const rand = (n: number): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % n);
      const svc = new LabService();
      const live = liveStateFrom(svc.snapshot());
      let future: StepSummary[] = [];
      svc.subscribe((e) => {
        if (e.name !== 'lab.patch') return;
        const p = e.payload.patch;
        const removed = live.steps.slice(p.steps.length);
        applyPatch(live, p, e.payload.seq);
        const next = futureAfter(future, removed, p.steps.append.length, p.steps.future!);
        expect(next).not.toBeNull();
        future = next!;
      });
      let n = 0;
      for (let i = 0; i < 40; i++) {
        const r = rand(10);
        if (r < 4) ok(svc.request('lab.step', { step: { bind: { process: `p${n++}`, device: rand(2) ? 'gpu' : 'dsa0' } } }));
        else if (r < 7) ok(svc.request('lab.undo', {}));
        else ok(svc.request('lab.redo', {}));
        const snap = svc.snapshot();
        expect(live.steps).toEqual(snap.steps);
        expect(future).toEqual(snap.future);
      }
    }
  });

  it('futureAfter refuses a count it cannot reach (a client then refetches)', () => {
    const s = (i: number): StepSummary => ({ index: i, op: { op: 'spawn', args: { process: `p${i}` } }, text: `spawn ${i}`, note: null, result: { ok: true }, findings: [] });
    expect(futureAfter([s(2), s(3)], [], 1, 1)).toEqual([s(3)]);
    expect(futureAfter([s(2), s(3)], [s(1)], 0, 3)).toEqual([s(1), s(2), s(3)]);
    expect(futureAfter([s(2), s(3)], [], 1, 0)).toEqual([]);
    expect(futureAfter([s(2)], [], 0, 2)).toBeNull();
  });
});
