// @vitest-environment jsdom
// The bench's session features against a real LabService behind the fake transport: time travel with the slider,
// redo (button, Ctrl+Y, the menu's ui.action), the notes editor and the unsaved mark, New (asking first), upload
// and download of session files with clear errors and the open's divergences, and the exports.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../../src-renderer/App.svelte';
import type { Connection } from '../../src-renderer/lib/api.js';
import { fakeApi, type FakeApi } from './fake-api.js';
import { fakeConnection, installCanvas } from './helpers.js';

/** Downloads the page offered: file name and contents. */
let downloads: { name: string; blob: Blob }[] = [];

beforeEach(() => {
  installCanvas();
  localStorage.clear();
  downloads = [];
  const blobs = new Map<string, Blob>();
  let n = 0;
  URL.createObjectURL = ((b: Blob) => {
    const url = `blob:test/${n++}`;
    blobs.set(url, b);
    return url;
  }) as typeof URL.createObjectURL;
  URL.revokeObjectURL = (() => undefined) as typeof URL.revokeObjectURL;
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
    downloads.push({ name: this.download, blob: blobs.get(this.href)! });
  });
});
afterEach(() => vi.restoreAllMocks());

const byTest = (id: string): HTMLElement => screen.getByTestId(id);
const ok = <T,>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

async function bench(fake: FakeApi = fakeApi(), kind: Connection['kind'] = 'web'): Promise<FakeApi> {
  render(App, { props: { connection: { ...fakeConnection(fake), kind } } });
  await screen.findByTestId('step');
  return fake;
}

/** Three binds on the default SoC: PASIDs 4, 5, 6 from the global IDA (1..3 are the kernel's). */
async function threeSteps(fake: FakeApi): Promise<void> {
  for (const p of ['p1', 'p2', 'p3']) {
    const input = byTest('command-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: `bind ${p} gpu` } });
    await fireEvent.keyDown(input, { key: 'Escape' });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(fake.service.current.records.map((r) => (r.op.args as { process?: string }).process)).toContain(p));
  }
  await waitFor(() => expect(byTest('ida-count').textContent).toBe('6 allocated'));
}

const slider = (): HTMLInputElement => byTest('time-slider') as HTMLInputElement;

describe('time travel', () => {
  it('the slider jumps to an earlier step: the views show that state, "viewing step k of N", the later steps kept', async () => {
    const fake = await bench();
    expect(slider().disabled).toBe(true);
    expect(byTest('time-position').textContent).toBe('no steps yet');
    await threeSteps(fake);
    expect(slider().max).toBe('3');
    expect(slider().value).toBe('3');
    expect(byTest('time-position').textContent).toBe('viewing step 3 of 3');
    expect(screen.queryByTestId('time-past')).toBeNull();

    await fireEvent.change(slider(), { target: { value: '1' } });
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 1 of 3'));
    expect(fake.calls.filter((c) => c.name === 'lab.jumpTo').map((c) => c.input)).toEqual([{ step: 1 }]);
    // the views show the state after step 1: one user PASID in the IDA, p2 and p3 not there
    await waitFor(() => expect(byTest('ida-count').textContent).toBe('4 allocated'));
    expect(slider().value).toBe('1');
    expect(byTest('time-past').textContent).toBe('2 later steps to redo; a new step drops them');
    expect(byTest('status-steps').textContent).toBe('step 1 of 3');
    // the timeline shows the two later steps greyed, to redo
    expect(document.querySelector('[data-step="0"]')!.hasAttribute('data-future')).toBe(false);
    expect(document.querySelector('[data-step="1"]')!.hasAttribute('data-future')).toBe(true);
    expect(document.querySelector('[data-step="2"]')!.hasAttribute('data-future')).toBe(true);
    await fireEvent.click(byTest('tab-processes'));
    expect(document.querySelector('[data-process="p2"]')).toBeNull();
    expect(document.querySelector('[data-process="p1"]')).not.toBeNull();

    // back to the boot, then to the latest
    await fireEvent.change(slider(), { target: { value: '0' } });
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing the boot: step 0 of 3'));
    await waitFor(() => expect(byTest('ida-count').textContent).toBe('3 allocated'));
    await fireEvent.click(byTest('jump-latest'));
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 3 of 3'));
    await waitFor(() => expect(byTest('ida-count').textContent).toBe('6 allocated'));
    expect(fake.invalid).toEqual([]);
  });

  it('redo (button, Ctrl+Y, the menu) applies the next step again, as a patch; a new step in the past drops the rest', async () => {
    const fake = await bench();
    await threeSteps(fake);
    await fireEvent.change(slider(), { target: { value: '0' } });
    await waitFor(() => expect(byTest('ida-count').textContent).toBe('3 allocated'));
    const snapshots = fake.calls.filter((c) => c.name === 'lab.snapshot').length;

    expect((byTest('redo') as HTMLButtonElement).disabled).toBe(false);
    await fireEvent.click(byTest('redo'));
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 1 of 3'));
    expect(byTest('ida-count').textContent).toBe('4 allocated');
    expect(byTest('outcome').textContent).toBe('redo: #0 bind process=p1 device=gpu -> ok, PASID 4 (context 0)');

    // Ctrl+Y on the page redoes; in a text field it stays the field's own
    const input = byTest('command-input');
    input.focus();
    await fireEvent.keyDown(input, { key: 'y', ctrlKey: true });
    expect(fake.calls.filter((c) => c.name === 'lab.redo')).toHaveLength(1);
    await fireEvent.keyDown(document.body, { key: 'y', ctrlKey: true });
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 2 of 3'));
    // the Electron menu's Redo arrives as ui.action
    fake.service.publish('ui.action', { action: 'redo' });
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 3 of 3'));
    expect(byTest('ida-count').textContent).toBe('6 allocated');
    expect((byTest('redo') as HTMLButtonElement).disabled).toBe(true);
    // redo is a patch: no snapshot refetched
    expect(fake.calls.filter((c) => c.name === 'lab.snapshot').length).toBe(snapshots);

    // in the past again, a new step ends the timeline there
    await fireEvent.change(slider(), { target: { value: '1' } });
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 1 of 3'));
    expect(byTest('step').getAttribute('title')).toBe('Applies a new step here; the 2 later steps are dropped');
    const cmd = byTest('command-input') as HTMLInputElement;
    await fireEvent.input(cmd, { target: { value: 'bind q dsa0' } });
    await fireEvent.keyDown(cmd, { key: 'Escape' });
    await fireEvent.keyDown(cmd, { key: 'Enter' });
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 2 of 2'));
    expect(document.querySelector('[data-future]')).toBeNull();
    expect(document.querySelector('[data-step="1"]')!.textContent).toContain('bind process=q device=dsa0');
    expect(fake.service.snapshot().future).toEqual([]);
  });

  it('a slider moved several times while a jump is under way jumps to the last position only', async () => {
    const fake = await bench();
    await threeSteps(fake);
    await fireEvent.change(slider(), { target: { value: '2' } });
    await fireEvent.change(slider(), { target: { value: '1' } });
    await fireEvent.change(slider(), { target: { value: '0' } });
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing the boot: step 0 of 3'));
    expect(fake.calls.filter((c) => c.name === 'lab.jumpTo').map((c) => c.input)).toEqual([{ step: 2 }, { step: 0 }]);
    expect(fake.service.current.records).toHaveLength(0);
  });

  it('a refused jump says why and puts the slider back where the lab is', async () => {
    const fake = await bench();
    await threeSteps(fake);
    fake.override['lab.jumpTo'] = () => ({ ok: false, error: { code: 'internal', message: 'internal error in lab.jumpTo: out of memory' } });
    await fireEvent.change(slider(), { target: { value: '1' } });
    await waitFor(() => expect(byTest('outcome').textContent).toBe('internal error in lab.jumpTo: out of memory'));
    await waitFor(() => expect(slider().value).toBe('3'));
    expect(byTest('time-position').textContent).toBe('viewing step 3 of 3');
    expect(byTest('ida-count').textContent).toBe('6 allocated');
  });

  it('a future step selected in the timeline offers to jump there', async () => {
    const fake = await bench();
    await threeSteps(fake);
    await fireEvent.change(slider(), { target: { value: '0' } });
    await waitFor(() => expect(document.querySelector('[data-step="2"]')!.hasAttribute('data-future')).toBe(true));
    await fireEvent.click(document.querySelector('[data-step="1"]')!);
    expect(byTest('future-step').textContent).toContain('Step 1 (bind process=p2 device=gpu) comes after the position');
    await fireEvent.click(byTest('jump-here'));
    await waitFor(() => expect(byTest('time-position').textContent).toBe('viewing step 2 of 3'));
    expect(fake.service.current.records).toHaveLength(2);
  });
});

describe('notes and the unsaved mark', () => {
  it('typing notes marks the session unsaved at once; they reach the host on blur and are saved in the file', async () => {
    const fake = await bench();
    expect(byTest('doc-name').textContent).toBe('Untitled');
    expect(screen.queryByTestId('unsaved')).toBeNull();
    await fireEvent.click(byTest('tab-notes'));
    const notes = byTest('notes') as HTMLTextAreaElement;
    await fireEvent.input(notes, { target: { value: 'starved accelerator\n\nkernel PASIDs took 1..3' } });
    expect(byTest('unsaved')).toBeTruthy();
    expect(byTest('notes-count').textContent).toContain('not yet sent');
    const noteUpdates = (): unknown[] => fake.calls.filter((c) => c.name === 'session.update' && 'notes' in (c.input as object)).map((c) => c.input);
    expect(noteUpdates()).toEqual([]);
    // the notes tab itself is layout: sent at once, and it does not make the session unsaved
    expect(fake.calls.filter((c) => c.name === 'session.update').map((c) => c.input)).toEqual([{ layout: { tab: 'notes', device: 'accel' } }]);
    await fireEvent.blur(notes);
    await waitFor(() => expect(noteUpdates()).toEqual([{ notes: 'starved accelerator\n\nkernel PASIDs took 1..3' }]));
    expect(fake.service.dirty).toBe(true);
    await waitFor(() => expect(byTest('notes-count').textContent).not.toContain('not yet sent'));
    expect(byTest('unsaved')).toBeTruthy();
    const saved = JSON.parse(ok(fake.service.request('session.export', {})).text);
    expect(saved.notes).toBe('starved accelerator\n\nkernel PASIDs took 1..3');
  });

  it('a step marks it unsaved (session.state); Download saves it, with the notes still being typed and the layout', async () => {
    const fake = await bench();
    await threeSteps(fake);
    await waitFor(() => expect(byTest('unsaved')).toBeTruthy());
    await fireEvent.click(byTest('tab-notes'));
    await fireEvent.input(byTest('notes'), { target: { value: 'typed, not sent' } });
    await fireEvent.click(byTest('save'));
    await waitFor(() => expect(downloads).toHaveLength(1));
    expect(downloads[0]!.name).toBe('lab.svalab');
    const doc = JSON.parse(await downloads[0]!.blob.text());
    expect(doc).toMatchObject({ format: 'svalab-session', notes: 'typed, not sent', layout: { tab: 'notes' } });
    expect(doc.steps).toHaveLength(3);
    await waitFor(() => expect(screen.queryByTestId('unsaved')).toBeNull());
    expect(byTest('doc-name').textContent).toBe('lab.svalab');
    expect(fake.service.dirty).toBe(false);
  });
});

describe('New', () => {
  it('asks about unsaved changes: Cancel keeps the lab, Don\'t save starts a fresh one on the default SoC', async () => {
    const fake = await bench();
    await threeSteps(fake);
    await fireEvent.click(byTest('new'));
    const dialog = await screen.findByTestId('ask');
    expect(within(dialog).getByTestId('ask-message').textContent).toBe('Save the changes to Untitled before you start a new lab?');
    await fireEvent.click(byTest('ask-cancel'));
    expect(screen.queryByTestId('ask')).toBeNull();
    expect(fake.calls.some((c) => c.name === 'session.new')).toBe(false);
    expect(fake.service.current.records).toHaveLength(3);

    await fireEvent.click(byTest('new'));
    await fireEvent.click(await screen.findByTestId('ask-discard'));
    await waitFor(() => expect(byTest('ida-count').textContent).toBe('3 allocated'));
    expect(fake.service.current.records).toHaveLength(0);
    expect(byTest('time-position').textContent).toBe('no steps yet');
    expect(screen.queryByTestId('unsaved')).toBeNull();
    expect(byTest('policy').textContent).toBe('mainline');
  });

  it('"Download and continue" saves first; a clean lab is not asked about', async () => {
    const fake = await bench();
    await threeSteps(fake);
    await fireEvent.click(byTest('new'));
    await fireEvent.click(await screen.findByTestId('ask-save'));
    await waitFor(() => expect(fake.service.current.records).toHaveLength(0));
    expect(downloads.map((d) => d.name)).toEqual(['lab.svalab']);
    expect(JSON.parse(await downloads[0]!.blob.text()).steps).toHaveLength(3);
    await fireEvent.click(byTest('new'));
    await waitFor(() => expect(fake.calls.filter((c) => c.name === 'session.new')).toHaveLength(2));
    expect(screen.queryByTestId('ask')).toBeNull();
  });

  it('under Electron, New, Open and Save go to the host (its native dialogs)', async () => {
    const fake = fakeApi();
    const asked: string[] = [];
    fake.service.setDocumentHost({ action: (a) => void asked.push(a) });
    await bench(fake, 'electron');
    expect(byTest('open').textContent).toBe('Open…');
    expect(byTest('save').textContent).toBe('Save');
    await fireEvent.click(byTest('new'));
    await fireEvent.click(byTest('open'));
    await fireEvent.click(byTest('save'));
    await waitFor(() => expect(asked).toEqual(['new', 'open', 'save']));
    expect(fake.calls.some((c) => c.name === 'session.new' || c.name === 'session.export')).toBe(false);
    expect(downloads).toEqual([]);
  });
});

describe('upload', () => {
  async function sessionText(steps: number, edit?: (t: string) => string): Promise<string> {
    const other = fakeApi();
    for (let i = 0; i < steps; i++) ok(other.service.request('lab.step', { step: { bind: { process: `u${i}`, device: 'gpu' } } }));
    ok(other.service.request('session.update', { notes: 'uploaded notes', layout: { tab: 'smmu' } }));
    const text = ok(other.service.request('session.export', {})).text;
    return edit ? edit(text) : text;
  }

  it('opens a session file: the lab, its notes and layout; the report says it replayed as recorded', async () => {
    const fake = await bench();
    const text = await sessionText(2);
    await fireEvent.change(byTest('session-file'), { target: { files: [new File([text], 'shared.svalab')] } });
    await waitFor(() => expect(byTest('doc-name').textContent).toBe('shared.svalab'));
    expect(fake.calls.find((c) => c.name === 'session.import')!.input).toEqual({ name: 'shared.svalab', text });
    await waitFor(() => expect(byTest('open-report').textContent).toContain('Opened shared.svalab: 2 steps, viewing step 2.'));
    expect(byTest('open-report').textContent).toContain('Every step replayed as recorded.');
    expect(screen.queryByTestId('unsaved')).toBeNull();
    expect(byTest('time-position').textContent).toBe('viewing step 2 of 2');
    // the saved layout is applied: the SMMU tab
    await waitFor(() => expect(byTest('tab-smmu').getAttribute('aria-selected')).toBe('true'));
    await fireEvent.click(byTest('tab-notes'));
    expect((byTest('notes') as HTMLTextAreaElement).value).toBe('uploaded notes');
  });

  it('shows the steps whose results differ from the recording, in the report and the timeline', async () => {
    await bench();
    const text = await sessionText(2, (t) => t.replace('"result":{"ok":true,"pasid":5}', '"result":{"ok":true,"pasid":9}'));
    await fireEvent.change(byTest('session-file'), { target: { files: [new File([text], 'old-build.svalab')] } });
    await waitFor(() => expect(byTest('divergence-count').textContent).toBe('1 of 2 steps give a different result than recorded'));
    expect(byTest('divergences').textContent!.trim()).toBe('#1 bind process=u1 device=gpu: pasid: recorded 9, got 5');
    const badge = document.querySelector('[data-diverged="1"]')!;
    expect(badge.getAttribute('title')).toBe('replayed differently than recorded: pasid: recorded 9, got 5');
    expect(document.querySelector('[data-diverged="0"]')).toBeNull();
  });

  it('a bad file shows what is wrong and where, and leaves the open lab as it was', async () => {
    const fake = await bench();
    await threeSteps(fake);
    const before = JSON.stringify(fake.service.snapshot());
    const good = await sessionText(1);
    const cases: [string, string, RegExp][] = [
      ['trunc.svalab', good.slice(0, 150), /the file is truncated: line \d+, column \d+/],
      ['ref.svalab', good.replace('"device":"gpu"', '"device":"gpu9"'), /steps\[0\]\.step\.bind\.device: unknown device 'gpu9'/],
      ['scenario.yaml', 'name: x\nsteps: []\n', /not valid JSON/],
    ];
    for (const [name, text, why] of cases) {
      await fireEvent.change(byTest('session-file'), { target: { files: [new File([text], name)] } });
      // unsaved changes: asked first
      await fireEvent.click(await screen.findByTestId('ask-discard'));
      await waitFor(() => expect(byTest('file-error').textContent).toMatch(why));
      expect(byTest('file-error').textContent).toContain('Could not open the session; the lab is unchanged.');
      expect(byTest('file-error').textContent).toContain(name);
      expect(JSON.stringify(fake.service.snapshot())).toBe(before);
      expect(byTest('time-position').textContent).toBe('viewing step 3 of 3');
      expect(byTest('ida-count').textContent).toBe('6 allocated');
      expect(byTest('unsaved')).toBeTruthy();
    }
    // the problem's location is listed
    await fireEvent.change(byTest('session-file'), { target: { files: [new File([good.replace('"device":"gpu"', '"device":"gpu9"')], 'ref.svalab')] } });
    await fireEvent.click(await screen.findByTestId('ask-discard'));
    await waitFor(() => expect(within(byTest('file-error')).getByRole('listitem').textContent).toBe("steps[0].step.bind.device: unknown device 'gpu9' (the SoC has accel, gpu, dsa0, dsa1, iax0)"));
  });

  it('a file too large for the transport is refused before it is sent', async () => {
    const fake = await bench();
    const max = fake.service.request('meta.info', {});
    const limit = max.ok ? max.value.maxMessageBytes : 0;
    const big = new File([new Uint8Array(limit + 1)], 'huge.svalab');
    await fireEvent.change(byTest('session-file'), { target: { files: [big] } });
    await waitFor(() => expect(byTest('file-error').textContent).toContain(`huge.svalab: ${limit + 1} bytes is more than the ${limit}-byte limit`));
    expect(fake.calls.some((c) => c.name === 'session.import')).toBe(false);
  });
});

describe('exports', () => {
  it('the trace as JSON Lines and the steps as scenario YAML, from the menu and from ui.action', async () => {
    const fake = await bench();
    await threeSteps(fake);
    await fireEvent.click(byTest('export'));
    await fireEvent.click(byTest('export-trace'));
    await waitFor(() => expect(downloads.map((d) => d.name)).toEqual(['lab-trace.jsonl']));
    const lines = (await downloads[0]!.blob.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as { t?: string; text?: string });
    expect(lines.filter((l) => l.t === 'step').map((l) => l.text)).toEqual(['bind process=p1 device=gpu', 'bind process=p2 device=gpu', 'bind process=p3 device=gpu']);
    expect(downloads[0]!.blob.type).toBe('application/x-ndjson');
    fake.service.publish('ui.action', { action: 'export-scenario' });
    await waitFor(() => expect(downloads.map((d) => d.name)).toEqual(['lab-trace.jsonl', 'lab.yaml']));
    const yaml = await downloads[1]!.blob.text();
    expect(yaml).toMatch(/^# Converted from a session recorded under mainline/);
    expect(yaml).toContain('- bind: { process: p2, device: gpu }');
    expect(yaml).toContain('expect: { ok: true, pasid: 5 }');
  });
});
