/**
 * The Electron main process (ESM): one window showing the built renderer from app://svalab/, the lab behind the
 * typed IPC of ipc.ts, the application menu, the session document (document.ts: open, save, recent files, autosave
 * and recovery), and the window's size and position remembered. Everything the lab does lives in LabService; this
 * file only wires Electron to it. Started by `npm start` (launch.ts) as
 * `electron dist/src-main/host/electron/main.js`.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, screen, session, type WebContents } from 'electron';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_SCENARIO_BYTES } from '../../lab/scenario.js';
import { packageVersion, rendererDir } from '../../lab/paths.js';
import { LabService } from '../service.js';
import { APP_SCHEME, APP_URL } from './channels.js';
import { forwardEvents, registerIpc } from './ipc.js';
import { SessionDocument } from './document.js';
import { menuTemplate, type MenuActions } from './menu.js';
import { appResponse } from './protocol.js';
import { hardenSession, hardenWebContents, webPreferences } from './security.js';
import { loadWindowState, saveWindowState, type WindowState } from './window-state.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Must run before the app is ready: app:// is a standard, secure scheme (fetch, relative URLs, no mixed content). */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** The main window with the security options of security.ts, at its remembered size and position. */
export function createMainWindow(state: WindowState, preload: string, dev: boolean): BrowserWindow {
  const win = new BrowserWindow({
    width: state.width,
    height: state.height,
    ...(state.x !== undefined && state.y !== undefined ? { x: state.x, y: state.y } : {}),
    minWidth: 800,
    minHeight: 500,
    show: false,
    title: 'SVA Lab',
    backgroundColor: '#1e1e1e',
    webPreferences: webPreferences(preload, dev),
  });
  if (state.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  return win;
}

/** Remembers the window's normal bounds when it closes. */
export function rememberWindowState(win: BrowserWindow, file: string): void {
  win.on('close', () => {
    const b = win.getNormalBounds();
    try {
      saveWindowState(file, { width: b.width, height: b.height, x: b.x, y: b.y, maximized: win.isMaximized() });
    } catch {
      // a read-only profile: forget the size rather than fail to close
    }
  });
}

/**
 * Menu actions: Step, Undo, Redo, Reset and Export go to the renderer (as its own buttons would); Run is done here;
 * with a session document, New, Open, Open Recent, Save and Save As are done here too.
 */
export function menuActions(service: LabService, win: () => BrowserWindow | null, doc?: SessionDocument): MenuActions {
  const actions: MenuActions = {
    step: () => service.publish('ui.action', { action: 'step' }),
    undo: () => service.publish('ui.action', { action: 'undo' }),
    redo: () => service.publish('ui.action', { action: 'redo' }),
    reset: () => service.publish('ui.action', { action: 'reset' }),
    run: () => void runScenarioFile(service, win()),
    export: (what) => service.publish('ui.action', { action: `export-${what}` }),
    quit: () => app.quit(),
  };
  if (doc) {
    actions.file = {
      newLab: () => void doc.newLab(),
      open: () => void doc.open(),
      openRecent: (path) => void doc.open(path),
      save: () => void doc.save(),
      saveAs: () => void doc.saveAs(),
      recent: doc.recent,
    };
  }
  return actions;
}

/** F5: pick a scenario file and load it into the lab; failures become a ui.notice. */
export async function runScenarioFile(service: LabService, win: BrowserWindow | null): Promise<void> {
  const opts = { title: 'Run scenario file', properties: ['openFile' as const], filters: [{ name: 'Scenarios', extensions: ['yaml', 'yml', 'json'] }] };
  const r = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
  const file = r.filePaths[0];
  if (r.canceled || !file) return;
  try {
    const st = await stat(file);
    if (!st.isFile() || st.size > MAX_SCENARIO_BYTES) throw new Error(st.isFile() ? `larger than ${MAX_SCENARIO_BYTES} bytes` : 'not a regular file');
    const res = service.handle('lab.loadScenario', { name: basename(file), text: await readFile(file, 'utf8') });
    if (!res.ok) service.publish('ui.notice', { level: 'error', message: res.error.message });
    else service.publish('ui.notice', { level: 'info', message: `loaded ${basename(file)}` });
  } catch (e) {
    service.publish('ui.notice', { level: 'error', message: `${basename(file)}: ${(e as Error).message}` });
  }
}

export function start(): void {
  app.enableSandbox();
  registerAppScheme();
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('web-contents-created', (_e, wc) => hardenWebContents(wc));
  app.on('window-all-closed', () => app.quit());
  void app.whenReady().then(() => {
    const dev = !app.isPackaged;
    hardenSession(session.defaultSession);
    const renderer = rendererDir();
    protocol.handle(APP_SCHEME, (req) => appResponse(renderer, req));
    const service = new LabService({ version: packageVersion() });
    const stateFile = join(app.getPath('userData'), 'window-state.json');
    const state = loadWindowState(stateFile, screen.getAllDisplays().map((d) => d.workArea));
    let win: BrowserWindow | null = createMainWindow(state, join(here, 'preload.cjs'), dev);
    // buildMenu reads `doc` only when called, after it exists; the document calls it back when its recent list changes
    const buildMenu = (): void => Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(menuActions(service, () => win, doc), dev)));
    const doc = new SessionDocument(service, { userData: app.getPath('userData'), window: () => win, onRecentChanged: () => buildMenu() });
    doc.guardClose(win); // before rememberWindowState: both listen to 'close'
    service.setDocumentHost(doc); // the bench's New, Open, Save buttons use the native dialogs too
    rememberWindowState(win, stateFile);
    const contents = (): WebContents | null => (win && !win.isDestroyed() ? win.webContents : null);
    const unregister = registerIpc(ipcMain, service, contents);
    const unforward = forwardEvents(service, contents);
    buildMenu();
    app.on('second-instance', () => win?.focus());
    win.on('closed', () => {
      doc.dispose();
      unforward();
      unregister();
      win = null;
    });
    void win.loadURL(APP_URL).then(() => doc.offerRecovery());
  });
}

// Run only inside Electron (tests import this module with 'electron' mocked).
if (process.versions.electron) start();
