/**
 * The host side of sessions: the contract's session.export / session.import / session.update and lab.jumpTo /
 * lab.redo on LabService (a session exported and imported reopens identically; a bad one changes nothing), the
 * document's unsaved-changes state, and upload/download through the web host's WebSocket.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { applyPatch, bitmapIds, liveStateFrom, REQUESTS, type LabEvent, type LiveState, type Response, type WsServerFrame } from '../../shared/contract.js';
import { SESSION_VERSION } from '../../shared/session.js';
import { LabService } from '../../src-main/host/service.js';
import { startWebHost, type WebHost } from '../../src-main/host/web/server.js';
import { ROOT } from './helpers.js';

const ok = <T>(r: Response<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};

/** A snapshot without its seq (which counts events, not state). */
const state = (svc: LabService): string => {
  const { seq: _seq, ...rest } = svc.snapshot();
  void _seq;
  return JSON.stringify(rest);
};

function busyService(): LabService {
  const svc = new LabService();
  const steps = [
    { bind: { process: 'p1', device: 'gpu' } },
    { bind: { process: 'p1', device: 'accel' }, note: 'the seed' },
    { fork: { process: 'p1', child: 'c1' } },
    { bind: { process: 'c1', device: 'dsa0' } },
    { exit: { process: 'p1', files_kept: true } },
    { alloc_global_pasid: { device: 'dsa1' } },
  ];
  for (const step of steps) ok(svc.request('lab.step', { step }));
  return svc;
}

describe('session.export and session.import', () => {
  it('export gives valid session text and a file name; import into another service reopens it identically', () => {
    const a = busyService();
    ok(a.request('lab.undo', {}));
    ok(a.request('lab.undo', {})); // two steps left to redo: the position is saved too
    ok(a.request('session.update', { notes: 'seed failure', layout: { split: 0.4 } }));
    const out = ok(a.request('session.export', {}));
    REQUESTS['session.export'].output.parse(out);
    expect(out.name).toBe('lab.svalab');
    expect(out.steps).toBe(6);
    expect(JSON.parse(out.text)).toMatchObject({ format: 'svalab-session', version: SESSION_VERSION, notes: 'seed failure', layout: { split: 0.4 }, position: 4 });

    const b = new LabService();
    const events: LabEvent[] = [];
    b.subscribe((e) => events.push(e));
    const imp = ok(b.request('session.import', { name: 'seed.svalab', text: out.text }));
    REQUESTS['session.import'].output.parse(imp);
    expect(imp).toMatchObject({ steps: 6, position: 4, migratedFrom: null, notes: 'seed failure', layout: { split: 0.4 }, divergences: 0, firstDivergences: [] });
    expect(events).toEqual([{ name: 'lab.replaced', payload: { seq: 1, reason: 'session' } }]);
    expect(state(b)).toBe(state(a));
    expect(b.snapshot().future!.map((s) => s.text)).toEqual(['exit process=p1 files_kept=true', 'alloc_global_pasid device=dsa1']);
    expect(b.snapshot().steps[1]!.note).toBe('the seed');
    // and it exports back to the same text (same created date, notes and layout kept by the service)
    expect(ok(b.request('session.export', {})).text).toBe(out.text);
    expect(ok(b.request('session.export', {})).name).toBe('seed.svalab');
  });

  it('a bad session gets bad-session naming the problem and where, and changes nothing', () => {
    const svc = busyService();
    const text = ok(svc.request('session.export', {})).text;
    const before = state(svc);
    const seq = svc.currentSeq;
    const events: LabEvent[] = [];
    svc.subscribe((e) => events.push(e));
    const cases: [string, RegExp][] = [
      [text.slice(0, 200), /truncated/],
      ['not json', /not valid JSON/],
      [text.replace('"device":"gpu"', '"device":"nosuch"'), /steps\[0\]\.step\.bind\.device/],
      [text.replace('"version": 1', '"version": 7'), /newer SVA Lab/],
      [text.replace('{"step":{"bind":{"process":"p1","device":"gpu"}}', '{"step":{"unbind":{"process":"zz","device":"gpu"}}'), /could not apply a step/],
    ];
    for (const [bad, why] of cases) {
      const r = svc.request('session.import', { name: 'x.svalab', text: bad });
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.error.code).toBe('bad-session');
      expect(r.error.message).toMatch(why);
    }
    const withPath = svc.request('session.import', { name: 'x.svalab', text: text.replace('"device":"gpu"', '"device":"nosuch"') });
    expect(!withPath.ok && withPath.error.path).toBe('steps[0].step.bind.device');
    expect(svc.request('session.import', { name: '', text })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    expect(svc.request('session.import', { name: 'x', text, extra: 1 })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    expect(state(svc)).toBe(before);
    expect(svc.currentSeq).toBe(seq);
    expect(events).toEqual([]);
  });

  it('an import counts the steps whose results differ from the recording (a newer build) without refusing them', () => {
    const svc = busyService();
    const text = ok(svc.request('session.export', {})).text.replace('"result":{"ok":true,"pasid":4}', '"result":{"ok":true,"pasid":9}');
    const imp = ok(new LabService().request('session.import', { name: 'y.svalab', text }));
    expect(imp.divergences).toBe(1);
    expect(imp.firstDivergences[0]).toMatchObject({ index: 0, differences: ['pasid: recorded 9, got 4'] });
  });
});

describe('lab.jumpTo and lab.redo', () => {
  function follow(svc: LabService): LiveState {
    const live = liveStateFrom(svc.snapshot());
    svc.subscribe((e) => {
      if (e.name === 'lab.patch') applyPatch(live, e.payload.patch, e.payload.seq);
      else if (e.name === 'lab.replaced') Object.assign(live, liveStateFrom(svc.snapshot()));
    });
    return live;
  }

  it('jumps anywhere in the timeline; redo is a patch that brings a client to the state', () => {
    const svc = busyService();
    const live = follow(svc);
    const full = svc.current.view();
    expect(ok(svc.request('lab.jumpTo', { step: 2 }))).toMatchObject({ length: 2, total: 6 });
    expect(svc.snapshot().steps).toHaveLength(2);
    expect(svc.snapshot().future).toHaveLength(4);
    for (let i = 0; i < 4; i++) {
      const r = ok(svc.request('lab.redo', {}));
      REQUESTS['lab.redo'].output.parse(r);
      expect(r.redone).toBe(2 + i);
      expect({ ...live.view, ida: bitmapIds(live.ida) }).toEqual(svc.current.view());
    }
    expect(svc.current.view()).toEqual(full);
    expect(live.steps).toEqual(svc.snapshot().steps);
    expect(svc.request('lab.redo', {})).toEqual({ ok: true, value: { seq: svc.currentSeq, redone: null, patch: null } });
    expect(svc.request('lab.jumpTo', { step: 7 })).toMatchObject({ ok: false, error: { code: 'no-such-step' } });
    ok(svc.request('lab.jumpTo', { step: 6 }));
    expect(svc.request('lab.jumpTo', { step: -1 })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
  });

  it('random steps, undos, redos and jumps: a fresh service given the same applied steps has the same snapshot', () => {
    const act = fc.oneof(
      fc.record({ bind: fc.record({ process: fc.constantFrom('a', 'b', 'c'), device: fc.constantFrom('gpu', 'accel', 'dsa0') }) }),
      fc.record({ unbind: fc.record({ process: fc.constantFrom('a', 'b', 'c'), device: fc.constantFrom('gpu', 'accel', 'dsa0') }) }),
      fc.constant('undo' as const),
      fc.constant('redo' as const),
      fc.integer({ min: 0, max: 30 }).map((step) => ({ jump: step })),
    );
    fc.assert(
      fc.property(fc.array(act, { maxLength: 30 }), (acts) => {
        const svc = new LabService();
        for (const a of acts) {
          if (a === 'undo') svc.request('lab.undo', {});
          else if (a === 'redo') svc.request('lab.redo', {});
          else if ('jump' in a) svc.request('lab.jumpTo', { step: Math.min(a.jump, svc.current.timelineLength) });
          else svc.request('lab.step', { step: a });
        }
        const fresh = new LabService();
        for (const s of svc.snapshot().steps) ok(fresh.request('lab.step', { step: { [s.op.op]: s.op.args } }));
        const strip = (x: LabService): unknown => {
          const { seq: _s, future: _f, ...rest } = x.snapshot();
          void _s;
          void _f;
          return rest;
        };
        expect(strip(svc)).toEqual(strip(fresh));
      }),
      { seed: 11, numRuns: 60 },
    );
  });

  it('lab.stepTo still ends the timeline there', () => {
    const svc = busyService();
    ok(svc.request('lab.stepTo', { length: 3 }));
    expect(svc.snapshot().future).toEqual([]);
    expect(svc.current.timelineLength).toBe(3);
  });
});

describe('unsaved changes', () => {
  it('every change marks the document unsaved; a save or an open marks it saved; a no-op does not count', () => {
    const svc = new LabService();
    const changes: boolean[] = [];
    svc.onChange(() => changes.push(svc.dirty));
    expect(svc.dirty).toBe(false);
    ok(svc.request('lab.undo', {}));
    ok(svc.request('lab.redo', {}));
    ok(svc.request('lab.snapshot', {}));
    expect(svc.dirty).toBe(false);
    ok(svc.request('lab.step', { step: { bind: { process: 'p', device: 'gpu' } } }));
    expect(svc.dirty).toBe(true);
    const text = ok(svc.request('session.export', {})).text;
    expect(svc.dirty).toBe(true); // exporting is not saving: the host says when it saved
    svc.markSaved();
    expect(svc.dirty).toBe(false);
    ok(svc.request('lab.jumpTo', { step: 0 }));
    expect(svc.dirty).toBe(true);
    ok(svc.request('session.import', { name: 'a.svalab', text }));
    expect(svc.dirty).toBe(false);
    ok(svc.request('session.update', { notes: 'n' }));
    expect(svc.dirty).toBe(true);
    expect(svc.request('lab.step', { step: { unbind: { process: 'zz', device: 'gpu' } } }).ok).toBe(false);
    expect(changes).toEqual([true, false, true, false, true]);
  });
});

describe('web host: download and upload', () => {
  const hosts: WebHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });

  async function connect(service: LabService): Promise<{ call: <T>(name: string, input?: unknown) => Promise<Response<T>>; close: () => void }> {
    const host = await startWebHost({ service, rendererDir: ROOT, port: 0 });
    hosts.push(host);
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`, { origin: host.origin });
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    let id = 1;
    const waiting = new Map<number, (r: Response<unknown>) => void>();
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as WsServerFrame;
      if ('id' in f && f.id !== null) waiting.get(f.id)?.(f.response);
    });
    return {
      call: <T>(name: string, input: unknown = {}) =>
        new Promise<Response<T>>((res) => {
          const n = id++;
          waiting.set(n, res as (r: Response<unknown>) => void);
          ws.send(JSON.stringify({ id: n, name, input }));
        }),
      close: () => ws.terminate(),
    };
  }

  it('a browser downloads the session with session.export and uploads it into another lab with session.import', async () => {
    const a = busyService();
    const ca = await connect(a);
    const down = await ca.call<{ name: string; text: string }>('session.export', { notes: 'from the browser' });
    expect(down.ok).toBe(true);
    if (!down.ok) return;
    const b = new LabService();
    const cb = await connect(b);
    const up = await cb.call<{ steps: number }>('session.import', { name: down.value.name, text: down.value.text });
    expect(up).toMatchObject({ ok: true, value: { steps: 6, notes: 'from the browser' } });
    expect(state(b)).toBe(state(a));
    const bad = await cb.call('session.import', { name: 'x.svalab', text: '{"format":' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad-session' } });
    expect(state(b)).toBe(state(a));
    ca.close();
    cb.close();
  });
});
