/**
 * The Electron side of sessions with 'electron' mocked: File > Open / Save / Save As through the dialogs (atomic
 * writes), the recent-files list (validated, missing files dropped), the title's unsaved mark, the question before
 * unsaved changes are dropped, autosave to a recovery file and the offer to restore it at the next start.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LabEvent } from '../../shared/contract.js';
import { LabService } from '../../src-main/host/service.js';

const h = vi.hoisted(() => ({
  open: [] as { canceled: boolean; filePaths: string[] }[],
  save: [] as { canceled: boolean; filePath?: string }[],
  box: [] as number[],
  boxes: [] as { message: string; buttons: string[] }[],
}));

vi.mock('electron', () => {
  const dialog = {
    showOpenDialog: vi.fn(async () => h.open.shift() ?? { canceled: true, filePaths: [] }),
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
const { loadRecent, saveRecent, withRecent, MAX_RECENT } = await import('../../src-main/host/electron/recent.js');
const { menuTemplate } = await import('../../src-main/host/electron/menu.js');
const main = await import('../../src-main/host/electron/main.js');

const root = mkdtempSync(join(tmpdir(), 'svalab-electron-sessions-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let userData = '';
beforeEach(() => {
  userData = join(root, `profile-${n++}`);
  mkdirSync(userData);
  h.open.length = 0;
  h.save.length = 0;
  h.box.length = 0;
  h.boxes.length = 0;
});

class FakeWindow {
  title = '';
  closed = 0;
  listeners = new Map<string, ((e?: { preventDefault(): void }) => void)[]>();
  setTitle(t: string): void {
    this.title = t;
  }
  isDestroyed(): boolean {
    return false;
  }
  on(ev: string, fn: (e?: { preventDefault(): void }) => void): this {
    (this.listeners.get(ev) ?? this.listeners.set(ev, []).get(ev)!).push(fn);
    return this;
  }
  close(): void {
    this.closed++;
  }
  emit(ev: string): { prevented: boolean } {
    const e = { prevented: false, preventDefault: () => void (e.prevented = true) };
    for (const fn of this.listeners.get(ev) ?? []) fn(e);
    return e;
  }
}

function setup(service = new LabService()): { service: LabService; doc: InstanceType<typeof SessionDocument>; win: FakeWindow; notices: LabEvent[]; recentCalls: string[][] } {
  const win = new FakeWindow();
  const notices: LabEvent[] = [];
  service.subscribe((e) => e.name === 'ui.notice' && notices.push(e));
  const recentCalls: string[][] = [];
  const doc = new SessionDocument(service, { userData, window: () => win as never, onRecentChanged: (f) => void recentCalls.push([...f]), autosaveMs: 50 });
  return { service, doc, win, notices, recentCalls };
}

const step = (svc: LabService, process: string, device = 'gpu'): void => {
  const r = svc.request('lab.step', { step: { bind: { process, device } } });
  if (!r.ok) throw new Error(r.error.message);
};

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('open and save', () => {
  it('Save on a new lab asks where (Save As), writes the file, and marks it saved in the title and the recent list', async () => {
    const { service, doc, win, recentCalls } = setup();
    step(service, 'p1');
    expect(win.title).toBe('Untitled \u2022 \u2014 SVA Lab');
    const file = join(userData, 'first'); // no extension: .svalab is added
    h.save.push({ canceled: false, filePath: file });
    expect(await doc.save()).toBe(true);
    expect(doc.path).toBe(`${file}.svalab`);
    expect(JSON.parse(readFileSync(`${file}.svalab`, 'utf8'))).toMatchObject({ format: 'svalab-session', steps: [{ step: { bind: { process: 'p1', device: 'gpu' } } }] });
    expect(service.dirty).toBe(false);
    expect(win.title).toBe('first.svalab \u2014 SVA Lab');
    expect(recentCalls.at(-1)).toEqual([`${file}.svalab`]);
    expect(loadRecent(doc.recentFile)).toEqual([`${file}.svalab`]);
    // the next Save goes to the same file without a dialog
    step(service, 'p2');
    expect(await doc.save()).toBe(true);
    expect(JSON.parse(readFileSync(`${file}.svalab`, 'utf8')).steps).toHaveLength(2);
    // a cancelled Save As changes nothing
    h.save.push({ canceled: true });
    expect(await doc.saveAs()).toBe(false);
  });

  it('Open loads a session into the lab; a bad file is a notice and changes nothing; a missing recent file leaves the list', async () => {
    const a = setup();
    step(a.service, 'p1');
    step(a.service, 'p1', 'accel');
    h.save.push({ canceled: false, filePath: join(userData, 's.svalab') });
    await a.doc.save();

    const b = setup();
    h.open.push({ canceled: false, filePaths: [join(userData, 's.svalab')] });
    expect(await b.doc.open()).toBe(true);
    expect(b.service.current.records).toHaveLength(2);
    expect(b.win.title).toBe('s.svalab \u2014 SVA Lab');
    expect(b.notices.at(-1)).toMatchObject({ payload: { level: 'info', message: 'opened s.svalab' } });

    const bad = join(userData, 'bad.svalab');
    writeFileSync(bad, '{"format": "svalab-session", "version": 1, "steps": [');
    const before = JSON.stringify(b.service.snapshot());
    expect(await b.doc.open(bad)).toBe(false);
    expect(b.notices.at(-1)).toMatchObject({ payload: { level: 'error' } });
    expect((b.notices.at(-1)!.payload as { message: string }).message).toMatch(/bad\.svalab: the file is truncated: line 1/);
    expect(JSON.stringify(b.service.snapshot())).toBe(before);
    expect(b.doc.path).toBe(join(userData, 's.svalab'));

    rmSync(join(userData, 's.svalab'));
    expect(await b.doc.open(join(userData, 's.svalab'))).toBe(false);
    expect(b.doc.recent).toEqual([]);
  });

  it('unsaved changes: Open asks first; Cancel keeps the lab, Don\u2019t Save goes on, Save saves first', async () => {
    const a = setup();
    step(a.service, 'p1');
    h.save.push({ canceled: false, filePath: join(userData, 'other.svalab') });
    await a.doc.save();
    step(a.service, 'p2');
    h.box.push(2); // Cancel
    expect(await a.doc.open(join(userData, 'other.svalab'))).toBe(false);
    expect(h.boxes[0]!.message).toBe('Save the changes to other.svalab before you open another session?');
    expect(a.service.current.records).toHaveLength(2);
    h.box.push(0); // Save, then open
    expect(await a.doc.open(join(userData, 'other.svalab'))).toBe(true);
    expect(a.service.current.records).toHaveLength(2); // it was saved with both steps, then reopened
    step(a.service, 'p3');
    h.box.push(1); // Don't Save
    expect(await a.doc.open(join(userData, 'other.svalab'))).toBe(true);
    expect(a.service.current.records).toHaveLength(2);
  });

  it('closing the window with unsaved changes asks; a clean close goes through', async () => {
    const a = setup();
    a.doc.guardClose(a.win as never);
    expect(a.win.emit('close').prevented).toBe(false);
    step(a.service, 'p1');
    h.box.push(2); // Cancel
    expect(a.win.emit('close').prevented).toBe(true);
    await settle();
    expect(a.win.closed).toBe(0);
    h.box.push(1); // Don't Save
    expect(a.win.emit('close').prevented).toBe(true);
    await settle();
    expect(a.win.closed).toBe(1);
    expect(a.win.emit('close').prevented).toBe(false); // the confirmed close
  });
});

describe('recent files', () => {
  it('newest first, at most ten, missing files and invalid lists dropped', () => {
    const files = Array.from({ length: 12 }, (_, i) => {
      const f = join(userData, `r${i}.svalab`);
      writeFileSync(f, '');
      return f;
    });
    let list: string[] = [];
    for (const f of files) list = withRecent(list, f);
    expect(list).toHaveLength(MAX_RECENT);
    expect(list[0]).toBe(files[11]);
    list = withRecent(list, files[5]!);
    expect(list[0]).toBe(files[5]);
    const file = join(userData, 'recent-files.json');
    saveRecent(file, list);
    rmSync(files[5]!);
    expect(loadRecent(file)).toEqual(list.slice(1));
    writeFileSync(file, '{"version": 1, "files": ["relative/path.svalab"]}');
    expect(loadRecent(file)).toEqual([]);
    writeFileSync(file, '{"version": 1, "files": [');
    expect(loadRecent(file)).toEqual([]);
    expect(loadRecent(join(userData, 'none.json'))).toEqual([]);
  });
});

describe('autosave and recovery', () => {
  it('a change is autosaved to the recovery file; a save removes it', async () => {
    const a = setup();
    step(a.service, 'p1');
    await new Promise((r) => setTimeout(r, 120));
    expect(existsSync(a.doc.recoveryFile)).toBe(true);
    expect(JSON.parse(readFileSync(a.doc.recoveryMetaFile, 'utf8'))).toMatchObject({ version: 1, file: null });
    h.save.push({ canceled: false, filePath: join(userData, 'saved.svalab') });
    await a.doc.save();
    expect(existsSync(a.doc.recoveryFile)).toBe(false);
    expect(a.doc.autosaveNow()).toBe(false); // nothing unsaved
    a.doc.dispose();
  });

  it('after a crash the next start offers to restore: Restore rebuilds the lab, unsaved, with its file name', async () => {
    const a = setup();
    step(a.service, 'p1');
    h.save.push({ canceled: false, filePath: join(userData, 'work.svalab') });
    await a.doc.save();
    step(a.service, 'p2');
    step(a.service, 'p2', 'accel');
    expect(a.doc.autosaveNow()).toBe(true);
    const crashed = JSON.stringify(a.service.snapshot().steps);
    a.doc.dispose(); // the process dies here: no clean close

    const b = setup();
    h.box.push(0); // Restore
    expect(await b.doc.offerRecovery()).toBe('restored');
    expect(h.boxes[0]!.message).toBe('SVA Lab did not close cleanly. Restore the unsaved lab of work.svalab?');
    expect(JSON.stringify(b.service.snapshot().steps)).toBe(crashed);
    expect(b.doc.path).toBe(join(userData, 'work.svalab'));
    expect(b.service.dirty).toBe(true);
    expect(b.win.title).toBe('work.svalab \u2022 \u2014 SVA Lab');
    b.doc.dispose();
  });

  it('Discard removes the recovery file; a damaged one is removed with a notice; none: nothing asked', async () => {
    const a = setup();
    step(a.service, 'p1');
    a.doc.autosaveNow();
    a.doc.dispose();
    const b = setup();
    h.box.push(1); // Discard
    expect(await b.doc.offerRecovery()).toBe('discarded');
    expect(existsSync(b.doc.recoveryFile)).toBe(false);
    expect(await b.doc.offerRecovery()).toBe('none');
    writeFileSync(b.doc.recoveryFile, '{"format": "svalab-session", "vers');
    const before = JSON.stringify(b.service.snapshot());
    expect(await b.doc.offerRecovery()).toBe('discarded');
    expect(b.notices.at(-1)).toMatchObject({ payload: { level: 'error' } });
    expect(existsSync(b.doc.recoveryFile)).toBe(false);
    expect(JSON.stringify(b.service.snapshot())).toBe(before);
    expect(h.boxes).toHaveLength(1);
  });
});

describe('menu', () => {
  it('File has Open (CmdOrCtrl+O), Open Recent, Save (CmdOrCtrl+S) and Save As (CmdOrCtrl+Shift+S) calling the document', async () => {
    const a = setup();
    const recent = join(userData, 'r.svalab');
    writeFileSync(recent, '');
    a.doc.recent = [recent];
    const spies = { open: vi.spyOn(a.doc, 'open').mockResolvedValue(true), save: vi.spyOn(a.doc, 'save').mockResolvedValue(true), saveAs: vi.spyOn(a.doc, 'saveAs').mockResolvedValue(true) };
    const template = menuTemplate(main.menuActions(a.service, () => null, a.doc), false);
    const file = template[0]!.submenu as { id?: string; accelerator?: string; click?: () => void; submenu?: { label: string; click?: () => void }[] }[];
    const byId = new Map(file.filter((i) => i.id).map((i) => [i.id!, i]));
    expect(byId.get('open')!.accelerator).toBe('CmdOrCtrl+O');
    expect(byId.get('save')!.accelerator).toBe('CmdOrCtrl+S');
    expect(byId.get('save-as')!.accelerator).toBe('CmdOrCtrl+Shift+S');
    byId.get('open')!.click!();
    byId.get('save')!.click!();
    byId.get('save-as')!.click!();
    const sub = byId.get('open-recent')!.submenu!;
    expect(sub[0]!.label).toContain('r.svalab');
    sub[0]!.click!();
    expect(spies.open.mock.calls).toEqual([[], [recent]]);
    expect(spies.save).toHaveBeenCalledTimes(1);
    expect(spies.saveAs).toHaveBeenCalledTimes(1);
    // without a document (tests, older callers) the File menu has no session items
    expect(JSON.stringify(menuTemplate(main.menuActions(a.service, () => null), false))).not.toContain('open-recent');
    const empty = menuTemplate({ ...main.menuActions(a.service, () => null), file: { open() {}, openRecent() {}, save() {}, saveAs() {}, recent: [] } }, false);
    expect(JSON.stringify(empty)).toContain('No recent sessions');
  });
});
