/**
 * The Electron shell with 'electron' mocked (no Electron binary here): every IPC channel checks its sender and
 * validates its input, the window's security options, navigation / new windows / permissions denied, the preload
 * exposing exactly the contract's functions, the app:// protocol, the menu, the window state, and the launcher.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import ts from 'typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { API_FUNCTIONS, EVENTS, MAX_MESSAGE_BYTES, REQUEST_NAMES, type LabEvent } from '../../shared/contract.js';
import { LabService } from '../../src-main/host/service.js';

/* A minimal Electron: what main.ts and its modules call, recording the calls. */
const h = vi.hoisted(() => {
  const handlers = new Map<string, (event: unknown, input: unknown) => unknown>();
  const windows: { options: any; webContents: any; loaded: string[]; events: Map<string, () => void> }[] = [];
  const state = { userData: '', whenReady: null as null | Promise<void>, menuTemplate: null as any, protocolHandler: null as any, openDialogResult: { canceled: true, filePaths: [] as string[] } };
  return { handlers, windows, state };
});

vi.mock('electron', () => {
  class FakeWebContents {
    id = Math.floor(Math.random() * 1e9);
    mainFrame: any;
    sent: [string, unknown][] = [];
    on = vi.fn();
    setWindowOpenHandler = vi.fn();
    constructor() {
      this.mainFrame = { url: 'app://svalab/index.html', parent: null };
    }
    isDestroyed() {
      return false;
    }
    send(channel: string, payload: unknown) {
      this.sent.push([channel, payload]);
    }
  }
  class BrowserWindow {
    webContents = new FakeWebContents();
    loaded: string[] = [];
    events = new Map<string, () => void>();
    constructor(public options: any) {
      h.windows.push(this as any);
    }
    on(ev: string, cb: () => void) {
      this.events.set(ev, cb);
      return this;
    }
    once(ev: string, cb: () => void) {
      return this.on(ev, cb);
    }
    maximize = vi.fn();
    show = vi.fn();
    focus = vi.fn();
    isDestroyed() {
      return false;
    }
    isMaximized() {
      return false;
    }
    getNormalBounds() {
      return { x: 10, y: 20, width: 1300, height: 820 };
    }
    async loadURL(u: string) {
      this.loaded.push(u);
    }
  }
  const session = { defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn(), setDevicePermissionHandler: vi.fn() } };
  const electron = {
    app: {
      enableSandbox: vi.fn(),
      requestSingleInstanceLock: vi.fn(() => true),
      on: vi.fn(),
      quit: vi.fn(),
      isPackaged: true,
      whenReady: vi.fn(() => (h.state.whenReady = Promise.resolve())),
      getPath: vi.fn(() => h.state.userData),
    },
    BrowserWindow,
    ipcMain: {
      handle: vi.fn((ch: string, fn: (e: unknown, i: unknown) => unknown) => h.handlers.set(ch, fn)),
      removeHandler: vi.fn((ch: string) => h.handlers.delete(ch)),
    },
    Menu: { buildFromTemplate: vi.fn((t: unknown) => (h.state.menuTemplate = t)), setApplicationMenu: vi.fn() },
    protocol: { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn((_s: string, fn: unknown) => (h.state.protocolHandler = fn)) },
    screen: { getAllDisplays: vi.fn(() => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }]) },
    session,
    dialog: { showOpenDialog: vi.fn(async () => h.state.openDialogResult) },
  };
  return { ...electron, default: electron };
});

const electron = await import('electron');
const main = await import('../../src-main/host/electron/main.js');
const { registerIpc, forwardEvents, isTrustedSender } = await import('../../src-main/host/electron/ipc.js');
const { REQUEST_CHANNELS, EVENT_CHANNEL, APP_URL } = await import('../../src-main/host/electron/channels.js');
const { hardenSession, hardenWebContents, webPreferences, ELECTRON_CSP } = await import('../../src-main/host/electron/security.js');
const { appResponse, NOT_BUILT_PAGE } = await import('../../src-main/host/electron/protocol.js');
const { menuTemplate } = await import('../../src-main/host/electron/menu.js');
const { loadWindowState, saveWindowState, DEFAULT_WINDOW_STATE } = await import('../../src-main/host/electron/window-state.js');
const { launch, electronBinary, NO_ELECTRON } = await import('../../src-main/host/electron/launch.js');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'svalab-electron-'));
  h.state.userData = tmp;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeEach(() => h.handlers.clear());

/** A webContents as the fake BrowserWindow makes them, and events coming from it. */
function fakeContents(url = 'app://svalab/index.html'): any {
  const w = new electron.BrowserWindow({});
  (w.webContents as any).mainFrame.url = url;
  return w.webContents;
}
const from = (wc: any, frame: any = wc.mainFrame) => ({ sender: wc, senderFrame: frame });

describe('IPC', () => {
  it('registers exactly one handler per request of the contract', () => {
    const wc = fakeContents();
    const off = registerIpc(electron.ipcMain, new LabService(), () => wc);
    expect([...h.handlers.keys()].sort()).toEqual(REQUEST_NAMES.map((n) => `svalab:${n}`).sort());
    expect([...REQUEST_CHANNELS].sort()).toEqual([...h.handlers.keys()].sort());
    off();
    expect(h.handlers.size).toBe(0);
  });

  it('every channel refuses a foreign sender, a subframe, a page not from app://svalab, and changes nothing', () => {
    const wc = fakeContents();
    const service = new LabService();
    registerIpc(electron.ipcMain, service, () => wc);
    const before = JSON.stringify(service.snapshot());
    const other = fakeContents();
    const evil = fakeContents('https://evil.example/');
    const file = fakeContents('file:///etc/passwd');
    const sub = { url: 'app://svalab/index.html', parent: wc.mainFrame };
    for (const [ch, fn] of h.handlers) {
      const valid = ch === 'svalab:lab.step' ? { step: { bind: { process: 'p', device: 'gpu' } } } : ch === 'svalab:lab.trace' ? { step: -1 } : {};
      for (const ev of [from(other), from(wc, sub), from(wc, null), { sender: wc, senderFrame: other.mainFrame }]) {
        expect(fn(ev, valid), ch).toEqual({ ok: false, error: { code: 'bad-message', message: 'untrusted sender' } });
      }
      // a window navigated away (if it ever could) is no longer trusted
      expect(fn(from(evil), valid)).toMatchObject({ ok: false, error: { code: 'bad-message' } });
      expect(fn(from(file), valid)).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    }
    expect(JSON.stringify(service.snapshot())).toBe(before);
  });

  it('every channel validates its input from the trusted window: a bad one gets a typed error and changes nothing', () => {
    const wc = fakeContents();
    const service = new LabService();
    registerIpc(electron.ipcMain, service, () => wc);
    const before = JSON.stringify(service.snapshot());
    for (const [ch, fn] of h.handlers) {
      expect(fn(from(wc), 'junk'), ch).toMatchObject({ ok: false, error: { code: 'bad-input' } });
      expect(fn(from(wc), { unexpected: 1 }), ch).toMatchObject({ ok: false });
    }
    const huge = { name: 'x.yaml', text: 'x'.repeat(MAX_MESSAGE_BYTES + 1) };
    expect(h.handlers.get('svalab:lab.loadScenario')!(from(wc), huge)).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    expect(JSON.stringify(service.snapshot())).toBe(before);
    // and a valid one works
    const ok = h.handlers.get('svalab:lab.step')!(from(wc), { step: { bind: { process: 'p', device: 'gpu' } } });
    expect(ok).toMatchObject({ ok: true, value: { index: 0, result: { ok: true } } });
  });

  it('isTrustedSender wants our live window', () => {
    const wc = fakeContents();
    expect(isTrustedSender(from(wc), () => wc)).toBe(true);
    expect(isTrustedSender(from(wc), () => null)).toBe(false);
    const dead = fakeContents();
    dead.isDestroyed = () => true;
    expect(isTrustedSender(from(dead), () => dead)).toBe(false);
  });

  it('events go to the window on one channel, payload only', () => {
    const wc = fakeContents();
    const service = new LabService();
    const off = forwardEvents(service, () => wc);
    service.request('lab.reset', {});
    expect(wc.sent).toEqual([
      [EVENT_CHANNEL, { name: 'lab.replaced', payload: { seq: 1, reason: 'reset' } }],
      [EVENT_CHANNEL, { name: 'session.state', payload: { dirty: true, name: null } }],
    ]);
    off();
    service.request('lab.reset', {});
    expect(wc.sent).toHaveLength(2);
  });
});

describe('window and session security', () => {
  it('webPreferences: isolation, sandbox, no node, web security, no webview', () => {
    const p = webPreferences('/x/preload.cjs', false);
    expect(p).toMatchObject({
      preload: '/x/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      devTools: false,
    });
  });

  it('the main window is created with them and the preload next to main.js', () => {
    const w = main.createMainWindow({ ...DEFAULT_WINDOW_STATE, x: 5, y: 6 }, '/app/preload.cjs', false) as any;
    expect(w.options.webPreferences).toEqual(webPreferences('/app/preload.cjs', false));
    expect(w.options).toMatchObject({ width: 1280, height: 800, x: 5, y: 6, show: false });
  });

  it('navigation, redirects, webviews and new windows are denied', () => {
    const wc = { on: vi.fn(), setWindowOpenHandler: vi.fn() };
    hardenWebContents(wc as any);
    const on = new Map(wc.on.mock.calls.map(([ev, fn]) => [ev, fn]));
    for (const ev of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      const e = { preventDefault: vi.fn() };
      on.get(ev)!(e, 'https://evil.example/');
      expect(e.preventDefault, ev).toHaveBeenCalled();
    }
    expect(wc.setWindowOpenHandler.mock.calls[0]![0]({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
  });

  it('every permission request and check is denied', () => {
    const ses = { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn(), setDevicePermissionHandler: vi.fn() };
    hardenSession(ses as any);
    for (const perm of ['media', 'geolocation', 'notifications', 'clipboard-read']) {
      const cb = vi.fn();
      ses.setPermissionRequestHandler.mock.calls[0]![0]({}, perm, cb);
      expect(cb).toHaveBeenCalledWith(false);
    }
    expect(ses.setPermissionCheckHandler.mock.calls[0]![0]({}, 'media')).toBe(false);
    expect(ses.setDevicePermissionHandler.mock.calls[0]![0]({})).toBe(false);
  });

  it('start() wires it all: sandbox, app:// scheme, hardened contents, IPC on every channel, menu, the app URL', async () => {
    h.windows.length = 0;
    main.start();
    await h.state.whenReady;
    expect(electron.app.enableSandbox).toHaveBeenCalled();
    expect(electron.protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
    expect(electron.session.defaultSession.setPermissionRequestHandler).toHaveBeenCalled();
    const onCalls = vi.mocked(electron.app.on).mock.calls.map(([ev]) => ev);
    expect(onCalls).toContain('web-contents-created');
    expect([...h.handlers.keys()].sort()).toEqual([...REQUEST_CHANNELS].sort());
    const win = h.windows.at(-1)!;
    expect(win.options.webPreferences.preload).toMatch(/electron[/\\]preload\.cjs$/);
    expect(win.options.webPreferences.devTools).toBe(false);
    expect(win.loaded).toEqual([APP_URL]);
    expect(h.state.menuTemplate).not.toBeNull();
    // the window's bounds are saved on close, and read back next time
    win.events.get('close')!();
    expect(loadWindowState(join(tmp, 'window-state.json'), [{ x: 0, y: 0, width: 1920, height: 1080 }])).toEqual({ width: 1300, height: 820, x: 10, y: 20, maximized: false });
    // a trusted call through the registered handler reaches the lab and its event reaches the window
    const r = h.handlers.get('svalab:lab.reset')!(from(win.webContents), {});
    expect(r).toEqual({ ok: true, value: { seq: 1 } });
    expect(win.webContents.sent.at(-2)).toEqual([EVENT_CHANNEL, { name: 'lab.replaced', payload: { seq: 1, reason: 'reset' } }]);
  });
});

describe('preload', () => {
  function loadPreload() {
    const source = readFileSync('src-main/host/electron/preload.cts', 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const exposed: Record<string, any> = {};
    const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
    const ipcRenderer = {
      invoke: vi.fn(async (ch: string, input: unknown) => ({ ok: true, value: { ch, input } })),
      on: vi.fn((ch: string, fn: (...a: unknown[]) => void) => (listeners.get(ch) ?? listeners.set(ch, new Set()).get(ch)!).add(fn)),
      removeListener: vi.fn((ch: string, fn: (...a: unknown[]) => void) => listeners.get(ch)?.delete(fn)),
    };
    const contextBridge = { exposeInMainWorld: vi.fn((key: string, api: unknown) => (exposed[key] = api)) };
    const required: string[] = [];
    // a sandboxed preload gets a require that knows 'electron' and little else: allow only 'electron'
    const sandboxRequire = (m: string) => {
      required.push(m);
      if (m === 'electron') return { contextBridge, ipcRenderer };
      throw new Error(`a sandboxed preload cannot require '${m}'`);
    };
    const module = { exports: {} };
    runInNewContext(js, { require: sandboxRequire, module, exports: module.exports, Object, TypeError });
    return { exposed, ipcRenderer, contextBridge, listeners, required };
  }

  it('exposes window.svalab with exactly one function per request plus onEvent, and requires only electron', () => {
    const { exposed, contextBridge, required } = loadPreload();
    expect(contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    expect(Object.keys(exposed)).toEqual(['svalab']);
    expect(Object.keys(exposed.svalab).sort()).toEqual([...Object.values(API_FUNCTIONS), 'onEvent'].sort());
    for (const v of Object.values(exposed.svalab)) expect(typeof v).toBe('function');
    expect(Object.isFrozen(exposed.svalab)).toBe(true);
    expect(required).toEqual(['electron']);
  });

  it("each function invokes its own request's channel with the input", async () => {
    const { exposed, ipcRenderer } = loadPreload();
    for (const name of REQUEST_NAMES) {
      const input = { probe: name };
      await expect(exposed.svalab[API_FUNCTIONS[name]](input)).resolves.toEqual({ ok: true, value: { ch: `svalab:${name}`, input } });
    }
    expect(ipcRenderer.invoke.mock.calls.map(([ch]) => ch)).toEqual([...REQUEST_CHANNELS]);
  });

  it('onEvent hands the page the payload only (never the IPC event) and unsubscribes', () => {
    const { exposed, listeners } = loadPreload();
    const got: unknown[] = [];
    const off = exposed.svalab.onEvent((e: LabEvent) => got.push(e));
    const [listener] = [...listeners.get(EVENT_CHANNEL)!];
    const ev: LabEvent = { name: 'lab.replaced', payload: { seq: 3, reason: 'reset' } };
    listener!({ sender: 'the ipcRenderer event' }, ev);
    expect(got).toEqual([ev]);
    off();
    expect(listeners.get(EVENT_CHANNEL)!.size).toBe(0);
    expect(() => exposed.svalab.onEvent('not a function')).toThrow(TypeError);
  });
});

describe('app:// protocol', () => {
  let dir: string;
  beforeAll(() => {
    dir = join(tmp, 'renderer');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>SVA Lab</title>');
    writeFileSync(join(dir, 'assets', 'a.js'), 'export {};');
  });

  it('serves the renderer with the CSP header', async () => {
    const r = await appResponse(dir, { url: 'app://svalab/index.html', method: 'GET' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toBe(ELECTRON_CSP);
    expect(ELECTRON_CSP).not.toMatch(/unsafe-eval|unsafe-inline/);
    expect(await r.text()).toContain('SVA Lab');
    const js = await appResponse(dir, { url: 'app://svalab/assets/a.js', method: 'GET' });
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('refuses paths outside the renderer, other hosts and other methods; says when the renderer is not built', async () => {
    expect((await appResponse(dir, { url: 'app://svalab/%2e%2e/%2e%2e/etc/passwd', method: 'GET' })).status).toBe(404);
    expect((await appResponse(dir, { url: 'app://svalab/..%2fwindow-state.json', method: 'GET' })).status).toBe(404);
    expect((await appResponse(dir, { url: 'app://other/index.html', method: 'GET' })).status).toBe(404);
    expect((await appResponse(dir, { url: 'app://svalab/index.html', method: 'POST' })).status).toBe(405);
    const nb = await appResponse(join(tmp, 'nothing'), { url: 'app://svalab/', method: 'GET' });
    expect(nb.status).toBe(503);
    expect(await nb.text()).toBe(NOT_BUILT_PAGE);
  });
});

describe('menu', () => {
  it('Step F10, Undo Shift+F10, Redo, Run F5, Reset, Export and Quit call their actions', () => {
    const a = { step: vi.fn(), undo: vi.fn(), redo: vi.fn(), reset: vi.fn(), run: vi.fn(), quit: vi.fn(), export: vi.fn() };
    const items = menuTemplate(a, false).flatMap((m) => (Array.isArray(m.submenu) ? m.submenu : []));
    const byId = new Map(items.filter((i) => i.id).map((i) => [i.id!, i]));
    expect(byId.get('step')!.accelerator).toBe('F10');
    expect(byId.get('undo')!.accelerator).toBe('Shift+F10');
    expect(byId.get('run')!.accelerator).toBe('F5');
    expect(byId.get('quit')!.accelerator).toBe('CmdOrCtrl+Q');
    for (const id of ['step', 'undo', 'redo', 'reset', 'run', 'quit'] as const) {
      (byId.get(id)!.click as () => void)();
      expect(a[id], id).toHaveBeenCalledTimes(1);
    }
    // Redo shows Ctrl+Y without registering it: the page handles the key (outside text fields, where it is text redo)
    expect(byId.get('redo')).toMatchObject({ accelerator: 'CmdOrCtrl+Y', registerAccelerator: false });
    const exports = items.flatMap((i) => (i.id === 'export' && Array.isArray(i.submenu) ? i.submenu : []));
    expect(exports.map((i) => i.id)).toEqual(['export-trace', 'export-scenario', 'export-png']);
    for (const i of exports) (i.click as () => void)();
    expect(a.export.mock.calls).toEqual([['trace'], ['scenario'], ['png']]);
    // no dev tools in a packaged app's menu
    expect(JSON.stringify(menuTemplate(a, false))).not.toContain('toggleDevTools');
    expect(JSON.stringify(menuTemplate(a, true))).toContain('toggleDevTools');
  });

  it('Step, Undo, Redo, Reset and Export reach the renderer as ui.action; Run loads a scenario file or reports why not', async () => {
    const service = new LabService();
    const events: LabEvent[] = [];
    service.subscribe((e) => events.push(e));
    const actions = main.menuActions(service, () => null);
    actions.step();
    actions.undo();
    actions.redo();
    actions.reset();
    actions.export('trace');
    actions.export('png');
    expect(events).toEqual([
      { name: 'ui.action', payload: { action: 'step' } },
      { name: 'ui.action', payload: { action: 'undo' } },
      { name: 'ui.action', payload: { action: 'redo' } },
      { name: 'ui.action', payload: { action: 'reset' } },
      { name: 'ui.action', payload: { action: 'export-trace' } },
      { name: 'ui.action', payload: { action: 'export-png' } },
    ]);
    for (const e of events) EVENTS['ui.action'].parse(e.payload);
    events.length = 0;
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'name: [');
    h.state.openDialogResult = { canceled: false, filePaths: [bad] };
    const before = JSON.stringify(service.snapshot());
    await main.runScenarioFile(service, null);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ name: 'ui.notice', payload: { level: 'error' } });
    expect(JSON.stringify(service.snapshot())).toBe(before);
    events.length = 0;
    h.state.openDialogResult = { canceled: false, filePaths: [join(process.cwd(), 'scenarios/s01-global-exhaustion.yaml')] };
    await main.runScenarioFile(service, null);
    expect(events.map((e) => e.name)).toEqual(['lab.replaced', 'session.state', 'ui.notice']);
    expect(service.snapshot().scenario).toMatch(/^S1 global exhaustion/);
    h.state.openDialogResult = { canceled: true, filePaths: [] };
    events.length = 0;
    await main.runScenarioFile(service, null);
    expect(events).toEqual([]);
  });
});

describe('window state', () => {
  it('missing, corrupt or out-of-range files give the defaults', () => {
    const f = join(tmp, 'ws.json');
    expect(loadWindowState(join(tmp, 'none.json'), [])).toEqual(DEFAULT_WINDOW_STATE);
    writeFileSync(f, '{"width": 1000, "height": ');
    expect(loadWindowState(f, [])).toEqual(DEFAULT_WINDOW_STATE);
    writeFileSync(f, JSON.stringify({ width: 10, height: 800 }));
    expect(loadWindowState(f, [])).toEqual(DEFAULT_WINDOW_STATE);
    writeFileSync(f, JSON.stringify({ width: 1000, height: 700, evil: '__proto__' }));
    expect(loadWindowState(f, [])).toEqual(DEFAULT_WINDOW_STATE);
  });

  it('round-trips, and forgets a position that lies on no display', () => {
    const f = join(tmp, 'ws2.json');
    const display = [{ x: 0, y: 0, width: 1920, height: 1080 }];
    saveWindowState(f, { width: 1000, height: 700, x: 100, y: 50, maximized: true });
    expect(loadWindowState(f, display)).toEqual({ width: 1000, height: 700, x: 100, y: 50, maximized: true });
    saveWindowState(f, { width: 1000, height: 700, x: 5000, y: 50, maximized: false });
    expect(loadWindowState(f, display)).toEqual({ width: 1000, height: 700, maximized: false });
    expect(() => saveWindowState(f, { width: -1, height: 700, maximized: false })).toThrow();
  });
});

describe('launcher (npm start)', () => {
  function fakeElectronDir(installExit: number): string {
    const d = mkdtempSync(join(tmp, 'electron-'));
    writeFileSync(join(d, 'install.js'), `process.exit(${installExit});`);
    return d;
  }

  it('without a binary and with a failing download: one line pointing to npm run web, exit 0, Electron not run', async () => {
    const lines: string[] = [];
    const run = vi.fn(async () => 0);
    const code = await launch({ electronDir: fakeElectronDir(1), env: {}, out: (s) => lines.push(s), run });
    expect(code).toBe(0);
    expect(lines).toEqual([NO_ELECTRON + '\n']);
    expect(NO_ELECTRON).toContain('npm run web');
    expect(run).not.toHaveBeenCalled();
  });

  it('with a binary (ELECTRON_OVERRIDE_DIST_PATH) runs it on main.js and returns its exit code', async () => {
    const dist = mkdtempSync(join(tmp, 'dist-'));
    writeFileSync(join(dist, 'electron'), '');
    chmodSync(join(dist, 'electron'), 0o755);
    const run = vi.fn(async () => 3);
    const code = await launch({ electronDir: fakeElectronDir(1), env: { ELECTRON_OVERRIDE_DIST_PATH: dist, DISPLAY: ':0' }, out: () => undefined, run, mainScript: '/m/main.js' });
    expect(code).toBe(3);
    expect(run).toHaveBeenCalledWith(join(dist, 'electron'), ['/m/main.js']);
    expect(electronBinary(fakeElectronDir(0), {})).toBeNull();
  });
});
