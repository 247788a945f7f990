// @vitest-environment jsdom
// The lab store against a real LabService behind the fake transport: snapshot, patches applied once and in order,
// fine-grained updates (a step re-runs only what reads what it touched), the PASID owner index, undo, gaps.
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUESTS, bitmapIds, liveStateFrom } from '../../shared/contract.js';
import { LabStore } from '../../src-renderer/lib/lab.svelte.js';
import { fakeApi, type FakeApi } from './fake-api.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function started(opts = {}): Promise<{ fake: FakeApi; lab: LabStore }> {
  const fake = fakeApi(opts);
  const lab = new LabStore(fake.api);
  await lab.start();
  cleanups.push(() => lab.stop());
  return { fake, lab };
}

/** Counts how often an effect reading `read` runs. */
function watch(read: () => unknown): { runs: number } {
  const c = { runs: 0 };
  cleanups.push(
    $effect.root(() => {
      $effect(() => {
        read();
        c.runs++;
      });
    }),
  );
  flushSync();
  return c;
}

/** The store's copy of the state must equal what a fresh snapshot says. */
function expectInSync(fake: FakeApi, lab: LabStore): void {
  const r = fake.service.request('lab.snapshot', {});
  if (!r.ok) throw new Error('snapshot failed');
  const fresh = liveStateFrom(r.value);
  const mine = (lab as unknown as { live: { view: unknown; ida: Uint8Array } }).live;
  expect(mine.view).toEqual(fresh.view);
  expect(bitmapIds(mine.ida)).toEqual(bitmapIds(fresh.ida));
  expect(lab.steps.map((s) => s.text)).toEqual(r.value.steps.map((s) => s.text));
  for (const p of bitmapIds(fresh.ida)) expect(lab.pasids.owner(p), `owner of PASID ${p}`).toBeDefined();
  expect(lab.pasids.bitmap.held()).toEqual(bitmapIds(fresh.ida));
}

describe('LabStore', () => {
  it('starts from meta.info and the snapshot: the seed SoC under mainline, kernel PASIDs 1..3', async () => {
    const { fake, lab } = await started();
    expect(lab.loaded).toBe(true);
    expect(lab.policy).toBe('mainline');
    expect(lab.names('devices')).toEqual(['accel', 'gpu', 'dsa0', 'dsa1', 'iax0']);
    expect(lab.device('accel')?.max_pasids).toBe(4);
    expect(lab.idaCount).toBe(3);
    expect(lab.pasids.owner(1)).toEqual({ kind: 'kernel', name: 'dsa0-kernel', detail: 'dsa0' });
    expect(lab.pasids.owner(4)).toBeUndefined();
    expect(fake.invalid).toEqual([]);
  });

  it('a step applies its patch once (event and answer carry the same seq) and the store stays equal to a snapshot', async () => {
    const { fake, lab } = await started();
    const r = await lab.step({ bind: { process: 'p1', device: 'dsa0' } });
    expect(r.ok).toBe(true);
    expect(fake.delivered.filter((e) => e.name === 'lab.patch')).toHaveLength(1);
    expect(lab.seq).toBe(1);
    expect(lab.steps).toHaveLength(1);
    expect(lab.process('p1')?.pasid).toBe(4);
    expect(lab.pasids.owner(4)).toMatchObject({ kind: 'mm', name: 'p1/mm0', detail: 'p1' });
    expect(lab.lastChange.pasids.has(4)).toBe(true);
    expect(lab.lastChange.slots.has('dsa0:4')).toBe(true);
    expect(lab.lastChange.processes.has('p1')).toBe(true);
    expectInSync(fake, lab);
    expect(lab.outcome).toMatchObject({ kind: 'step', ok: true });
    expect(lab.outcome!.text).toContain('PASID 4');
  });

  it("shows the seed's failure: bind app accel fails with ENOSPC under mainline", async () => {
    const { lab } = await started();
    await lab.step({ bind: { process: 'app', device: 'accel' } });
    expect(lab.steps[0]!.result).toMatchObject({ ok: false, errno: 'ENOSPC' });
    expect(lab.outcome).toMatchObject({ ok: false });
    expect(lab.outcome!.text).toContain('ENOSPC');
    expect(lab.process('app')?.pasid).toBeNull();
  });

  it('re-runs only the readers of what a step touched', async () => {
    const { lab } = await started();
    const gpu = watch(() => lab.device('gpu'));
    const dsa0 = watch(() => lab.device('dsa0'));
    const dsa0Slots = watch(() => lab.slots('dsa0').size);
    const procs = watch(() => lab.processNames());
    const policy = watch(() => lab.top('policy'));
    expect([gpu.runs, dsa0.runs, procs.runs]).toEqual([1, 1, 1]);
    await lab.step({ bind: { process: 'p1', device: 'dsa0' } });
    flushSync();
    expect(gpu.runs).toBe(1);
    expect(policy.runs).toBe(1);
    expect(dsa0.runs).toBe(2);
    expect(dsa0Slots.runs).toBe(2);
    expect(procs.runs).toBe(2); // p1 appeared
    await lab.step({ bind: { process: 'p1', device: 'gpu' } });
    flushSync();
    expect(gpu.runs).toBe(2);
    expect(procs.runs).toBe(2); // p1 changed, but no process appeared or went
  });

  it('keeps the device rows index in step with patches (added and removed SSIDs)', async () => {
    const { lab } = await started();
    expect(lab.slots('dsa0').rows).toEqual([0, 1]);
    await lab.step({ bind: { process: 'p1', device: 'dsa0' } });
    expect(lab.slots('dsa0').rows).toEqual([0, 1, 4]);
    await lab.step({ unbind: { process: 'p1', device: 'dsa0' } });
    expect(lab.slots('dsa0').rows).toEqual([0, 1]);
  });

  it('undo applies the reverse patch: the PASID is free again, the step is gone, its trace is forgotten', async () => {
    const { fake, lab } = await started();
    await lab.step({ bind: { process: 'p1', device: 'dsa0' } });
    const t = await lab.trace(0);
    expect(Array.isArray(t) && t.length > 0).toBe(true);
    await lab.undo();
    expect(lab.steps).toHaveLength(0);
    expect(lab.pasids.owner(4)).toBeUndefined();
    expect(lab.idaCount).toBe(3);
    expectInSync(fake, lab);
    const again = await lab.trace(0);
    expect(Array.isArray(again)).toBe(false); // no step 0 any more: the host says so, not a stale cache
  });

  it('ignores a patch event it already applied from the answer, and applies held events in order', async () => {
    const { fake, lab } = await started();
    fake.filter = () => 'hold';
    await lab.step({ bind: { process: 'p1', device: 'dsa0' } }); // applied from the answer
    expect(lab.seq).toBe(1);
    fake.filter = null;
    fake.release(); // the event with seq 1 arrives late
    expect(lab.seq).toBe(1);
    expect(lab.steps).toHaveLength(1);
    expectInSync(fake, lab);
  });

  it('a gap in the patch sequence (a lost event) refetches the snapshot', async () => {
    const { fake, lab } = await started();
    // Another client steps; this store loses the first event.
    let n = 0;
    fake.filter = () => (n++ === 0 ? 'drop' : 'deliver');
    fake.service.request('lab.step', { step: { bind: { process: 'p1', device: 'dsa0' } } });
    fake.service.request('lab.step', { step: { bind: { process: 'p2', device: 'gpu' } } });
    await vi_waitFor(() => lab.seq === 2);
    expect(fake.calls.filter((c) => c.name === 'lab.snapshot')).toHaveLength(2);
    expectInSync(fake, lab);
  });

  it('lab.replaced (a rebuild elsewhere) refetches the snapshot', async () => {
    const { fake, lab } = await started();
    fake.service.request('lab.configure', { soc: { smmus: [{ name: 's' }], devices: [{ name: 'only', smmu: 's', sid: 1, pasid_bits: 1 }] }, policy: 'rfc-v1' });
    await vi_waitFor(() => lab.policy === 'rfc-v1');
    expect(lab.names('devices')).toEqual(['only']);
    expect(lab.config?.devices[0]?.name).toBe('only');
  });

  it('configure returns the error naming the field and changes nothing', async () => {
    const { fake, lab } = await started();
    const r = await lab.configure({ smmus: [{ name: 'smmu0' }], devices: [{ name: 'a', smmu: 'nope', sid: 1 }] }, 'mainline');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('bad-soc');
      expect(r.error.path).toBe('soc.devices[0].smmu');
    }
    expect(lab.names('devices')).toHaveLength(5);
    expect(fake.invalid).toEqual([]);
  });

  it('loads a scenario file and selects its last step', async () => {
    const { lab } = await started();
    const text = ['name: two binds', 'soc:', '  smmus: [{ name: s }]', '  devices: [{ name: d, smmu: s, sid: 1, pasid_bits: 4 }]', 'steps:', '  - bind: { process: a, device: d }', '  - bind: { process: b, device: d }'].join('\n');
    await lab.loadScenario('two.yaml', text);
    expect(lab.scenario).toBe('two binds');
    expect(lab.steps.map((s) => s.result.pasid)).toEqual([1, 2]);
    expect(lab.selectedStep).toBe(1);
    expect(lab.outcome?.text).toContain('2 steps');
  });

  it('a malformed scenario leaves the lab as it was and says why', async () => {
    const { lab } = await started();
    await lab.loadScenario('bad.yaml', 'name: x\nsoc: {}\nsteps: []');
    expect(lab.outcome).toMatchObject({ kind: 'load', ok: false });
    expect(lab.names('devices')).toHaveLength(5);
  });

  it('sends only requests that match the contract', async () => {
    const { fake, lab } = await started();
    await lab.step({ bind: { process: 'p1', device: 'dsa0' } });
    await lab.trace(-1);
    await lab.undo();
    await lab.reset();
    for (const c of fake.calls) expect(REQUESTS[c.name].input.safeParse(c.input).success, c.name).toBe(true);
    expect(fake.invalid).toEqual([]);
  });

  it('stays equal to a snapshot over a long mixed sequence, including failures, forks and exits', async () => {
    const { fake, lab } = await started({ policy: 'rfc-v1' });
    const steps: unknown[] = [
      { bind: { process: 'p1', device: 'dsa0' } },
      { bind: { process: 'app', device: 'accel' } },
      { fork: { process: 'p1', child: 'c1' } },
      { bind: { process: 'c1', device: 'accel' } },
      { open_wq: { process: 'p1', device: 'dsa0', wq: 'wq1' } },
      { alloc_global_pasid: { device: 'dsa1', as: 'k9' } },
      { exit: { process: 'p1' } },
      { free_global_pasid: { name: 'k9' } },
      { attach_rid: { device: 'gpu', domain: 'identity' } },
      { bind: { process: 'app', device: 'gpu' } },
    ];
    expect(lab.idaFreeIn(1, 3)).toBe(0); // builds the IDA's block counts, kept from patches from here on
    for (const s of steps) {
      await lab.step(s);
      expectInSync(fake, lab);
      expectIndexesInSync(fake, lab);
    }
    for (let i = 0; i < 4; i++) {
      await lab.undo();
      expectInSync(fake, lab);
      expectIndexesInSync(fake, lab);
    }
  });
});

/** The store's incremental indexes (IDA block counts, process order and positions) against a fresh snapshot. */
function expectIndexesInSync(fake: FakeApi, lab: LabStore): void {
  const r = fake.service.request('lab.snapshot', {});
  if (!r.ok) throw new Error(r.error.message);
  const ida = bitmapIds(liveStateFrom(r.value).ida);
  for (const [lo, hi] of [[1, 3], [1, 64], [0, 1023], [1, 1024], [1, 2047], [5, 3000], [1, (1 << 20) - 1]] as const) {
    expect(lab.idaFreeIn(lo, hi), `free in ${lo}..${hi}`).toBe(hi - lo + 1 - ida.filter((i) => i >= lo && i <= hi).length);
  }
  const names = Object.keys(r.value.view.processes as Record<string, unknown>);
  expect([...lab.processNames()].sort()).toEqual([...names].sort());
  lab.processNames().forEach((n, i) => expect(lab.processIndex(n)).toBe(i));
  expect(lab.processIndex('no-such-process')).toBe(-1);
}

async function vi_waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 0));
  if (!cond()) throw new Error('condition not reached');
}

describe('LabStore: the timeline around the position', () => {
  it('keeps the steps to redo from patches alone (undo, redo, a new step), equal to the snapshot, without refetching', async () => {
    const { fake, lab } = await started();
    const snapshots = (): number => fake.calls.filter((c) => c.name === 'lab.snapshot').length;
    const before = snapshots();
    let x = 7;
    const rand = (n: number): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % n);
    let n = 0;
    for (let i = 0; i < 60; i++) {
      const r = rand(10);
      if (r < 4) await lab.step({ bind: { process: `p${n++}`, device: rand(2) ? 'gpu' : 'dsa0' } });
      else if (r < 7) await lab.undo();
      else await lab.redo();
      const snap = fake.service.snapshot();
      expect(lab.future.map((s) => s.text)).toEqual(snap.future!.map((s) => s.text));
      expect(lab.total).toBe(snap.steps.length + snap.future!.length);
      expectInSync(fake, lab);
    }
    expect(snapshots()).toBe(before);
    expect(fake.invalid).toEqual([]);
  });

  it('jumpTo lands on the position, refetches once per landing, and a burst of targets jumps to the last one', async () => {
    const { fake, lab } = await started();
    for (const p of ['a', 'b', 'c', 'd']) await lab.step({ bind: { process: p, device: 'gpu' } });
    await lab.jumpTo(1);
    expect(lab.position).toBe(1);
    expect(lab.future.map((s) => s.text)).toEqual(['bind process=b device=gpu', 'bind process=c device=gpu', 'bind process=d device=gpu']);
    expect(lab.selectedStep).toBe(0);
    expectInSync(fake, lab);
    const jumps = (): unknown[] => fake.calls.filter((c) => c.name === 'lab.jumpTo').map((c) => c.input);
    const p = [lab.jumpTo(2), lab.jumpTo(3), lab.jumpTo(0), lab.jumpTo(4)];
    await Promise.all(p);
    expect(jumps()).toEqual([{ step: 1 }, { step: 2 }, { step: 4 }]);
    expect(lab.position).toBe(4);
    expect(lab.future).toEqual([]);
    expectInSync(fake, lab);
    // out of range is clamped to the timeline
    await lab.jumpTo(99);
    expect(jumps()).toHaveLength(3);
  });

  it('the session document: session.state events keep the unsaved mark; notes typed count as unsaved until sent', async () => {
    const { fake, lab } = await started();
    expect(lab.session).toMatchObject({ name: null, dirty: false });
    expect(lab.dirty).toBe(false);
    await lab.step({ bind: { process: 'a', device: 'gpu' } });
    expect(lab.session!.dirty).toBe(true);
    fake.service.markSaved('a.svalab');
    expect(lab.session).toMatchObject({ name: 'a.svalab', dirty: false });
    lab.notesDelayMs = 60_000;
    lab.setNotes('hello');
    expect(lab.dirty).toBe(true);
    expect(lab.session!.dirty).toBe(false);
    await lab.flushNotes();
    expect(lab.notesDraft).toBeNull();
    expect(lab.session).toMatchObject({ notes: 'hello', dirty: true });
    // the same notes again: nothing sent
    const updates = fake.calls.filter((c) => c.name === 'session.update').length;
    lab.setNotes('hello');
    await lab.flushNotes();
    expect(fake.calls.filter((c) => c.name === 'session.update')).toHaveLength(updates);
  });
});
