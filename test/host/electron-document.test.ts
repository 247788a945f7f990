/**
 * The Electron document behind the bench's buttons, with 'electron' mocked (no Electron binary here): File > New
 * (asking about unsaved changes: Save, Don't Save, Cancel), the bench's host.document requests reaching the native
 * dialogs, Save As telling the renderer the new name (session.state), and crash recovery restoring everything the
 * bench shows: the steps, the time-travel position with the steps to redo, the notes and the layout.
 *
 * Recovery is Electron's: the web host keeps the lab in its own process, so a reloaded or crashed tab finds it there
 * (test/browser/sessions.spec.ts), and a crash of `svalab serve` itself is not recovered.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LabEvent, Response } from '../../shared/contract.js';
import { LabService } from '../../src-main/host/service.js';

const h = vi.hoisted(() => ({
  save: [] as { canceled: boolean; filePath?: string }[],
  box: [] as number[],
  boxes: [] as { message: string; buttons: string[] }[],
}));

vi.mock('electron', () => {
  const dialog = {
    showOpenDialog: vi.fn(async () => ({ canceled: true, filePaths: [] })),
    showSaveDialog: vi.fn(async () => h.save.shift() ?? { canceled: true }),
    showMessageBox: vi.fn(async (...args: unknown[]) => {
      const o = args.at(-1) as { message: string; buttons: string[] };
      h.boxes.push({ message: o.message, buttons: o.buttons });
      return { response: h.box.shift() ?? 2, checkboxChecked: false };
    }),
  };
  const electron = { dialog, app: { quit: vi.fn(), on: vi.fn() }, BrowserWindow: class {}, Menu: {}, ipcMain: {}, protocol: {}, screen: {}, session: {} };
  return { ...electron, default: electron };
});

const { SessionDocument } = await import('../../src-main/host/electron/document.js');
const { menuTemplate } = await import('../../src-main/host/electron/menu.js');
const main = await import('../../src-main/host/electron/main.js');

const root = mkdtempSync(join(tmpdir(), 'svalab-electron-document-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let userData = '';
beforeEach(() => {
  userData = join(root, `profile-${n++}`);
  mkdirSync(userData);
  h.save.length = 0;
  h.box.length = 0;
  h.boxes.length = 0;
});

const ok = <T>(r: Response<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};

class FakeWindow {
  title = '';
  setTitle(t: string): void {
    this.title = t;
  }
  isDestroyed(): boolean {
    return false;
  }
  on(): this {
    return this;
  }
}

function setup(service = new LabService()) {
  const win = new FakeWindow();
  const events: LabEvent[] = [];
  service.subscribe((e) => events.push(e));
  const doc = new SessionDocument(service, { userData, window: () => win as never, autosaveMs: 60_000 });
  service.setDocumentHost(doc);
  return { service, doc, win, events };
}

const step = (svc: LabService, process: string, device = 'gpu'): void => void ok(svc.request('lab.step', { step: { bind: { process, device } } }));

describe('New', () => {
  it('with unsaved changes asks Save / Don\'t Save / Cancel: Cancel keeps the lab, Don\'t Save starts a fresh one', async () => {
    const { service, doc, win } = setup();
    step(service, 'p1');
    ok(service.request('session.update', { notes: 'mine' }));
    expect(doc.autosaveNow()).toBe(true);
    h.box.push(2); // Cancel
    expect(await doc.newLab()).toBe(false);
    expect(h.boxes[0]).toEqual({ message: 'Save the changes to Untitled before you start a new lab?', buttons: ['Save', "Don't Save", 'Cancel'] });
    expect(service.current.records).toHaveLength(1);
    expect(service.dirty).toBe(true);
    h.box.push(1); // Don't Save
    expect(await doc.newLab()).toBe(true);
    expect(service.current.records).toHaveLength(0);
    expect(ok(service.request('session.info', {}))).toMatchObject({ name: null, dirty: false, notes: '' });
    expect(existsSync(doc.recoveryFile)).toBe(false); // a discard removes the recovery file
    expect(win.title).toBe('Untitled \u2014 SVA Lab');
  });

  it('Save first writes the file, then starts fresh; a clean lab is not asked about', async () => {
    const { service, doc } = setup();
    step(service, 'p1');
    const file = join(userData, 'kept.svalab');
    h.box.push(0); // Save
    h.save.push({ canceled: false, filePath: file });
    expect(await doc.newLab()).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8')).steps).toHaveLength(1);
    expect(service.current.records).toHaveLength(0);
    expect(doc.path).toBeNull();
    expect(await doc.newLab()).toBe(true);
    expect(h.boxes).toHaveLength(1);
  });

  it('File > New (CmdOrCtrl+N) calls the document', () => {
    const { service, doc } = setup();
    const spy = vi.spyOn(doc, 'newLab').mockResolvedValue(true);
    const file = menuTemplate(main.menuActions(service, () => null, doc), false)[0]!.submenu as { id?: string; accelerator?: string; click?: () => void }[];
    const item = file.find((i) => i.id === 'new')!;
    expect(item.accelerator).toBe('CmdOrCtrl+N');
    item.click!();
    expect(spy).toHaveBeenCalledTimes(1);
  });
});

describe("the bench's buttons under Electron: host.document", () => {
  it('New, Save and Save As from the renderer go through the native dialogs; Save As names the file in session.state', async () => {
    const { service, doc, events } = setup();
    step(service, 'p1');
    const saveAs = vi.spyOn(doc, 'saveAs');
    const file = join(userData, 'named.svalab');
    h.save.push({ canceled: false, filePath: file });
    expect(ok(service.request('host.document', { action: 'save' }))).toEqual({ handled: true });
    expect(await saveAs.mock.results[0]!.value).toBe(true); // the action the request started, answered
    expect(existsSync(file)).toBe(true);
    expect(events.filter((e) => e.name === 'session.state').at(-1)!.payload).toEqual({ dirty: false, name: 'named.svalab' });
    expect(ok(service.request('session.info', {}))).toMatchObject({ name: 'named.svalab', dirty: false });

    step(service, 'p2');
    const newLab = vi.spyOn(doc, 'newLab');
    h.box.push(2); // Cancel
    expect(ok(service.request('host.document', { action: 'new' }))).toEqual({ handled: true });
    expect(await newLab.mock.results[0]!.value).toBe(false);
    expect(h.boxes.at(-1)!.message).toBe('Save the changes to named.svalab before you start a new lab?');
    expect(service.current.records).toHaveLength(2);
  });
});

describe('recovery restores what the bench shows', () => {
  it('the steps, the time-travel position with the steps to redo, the notes and the layout, unsaved', async () => {
    const a = setup();
    for (const p of ['p1', 'p2', 'p3']) step(a.service, p);
    step(a.service, 'app', 'accel');
    ok(a.service.request('lab.jumpTo', { step: 2 })); // viewing step 2 of 4
    ok(a.service.request('session.update', { notes: 'half way', layout: { tab: 'processes', device: 'gpu' } }));
    expect(a.doc.autosaveNow()).toBe(true);
    const crashed = { snap: a.service.snapshot(), info: ok(a.service.request('session.info', {})) };
    a.doc.dispose(); // no clean close

    const b = setup();
    h.box.push(0); // Restore
    expect(await b.doc.offerRecovery()).toBe('restored');
    const snap = b.service.snapshot();
    expect(snap.steps).toEqual(crashed.snap.steps);
    expect(snap.future).toEqual(crashed.snap.future);
    expect(snap.future!.map((s) => s.text)).toEqual(['bind process=p3 device=gpu', 'bind process=app device=accel']);
    expect(snap.view).toEqual(crashed.snap.view);
    const info = ok(b.service.request('session.info', {}));
    expect(info).toMatchObject({ dirty: true, notes: 'half way', layout: { tab: 'processes', device: 'gpu' }, opened: { steps: 4, position: 2, divergences: 0 } });
    // the renderer learns it is unsaved from the event, after the lab.replaced that makes it refetch
    const names = b.events.map((e) => e.name);
    expect(names.indexOf('lab.replaced')).toBeLessThan(names.lastIndexOf('session.state'));
    expect(b.events.filter((e) => e.name === 'session.state').at(-1)!.payload).toEqual({ dirty: true, name: 'recovered.svalab' });
    // redo continues the recovered timeline
    expect(ok(b.service.request('lab.redo', {})).redone).toBe(2);
    b.doc.dispose();
  });
});
