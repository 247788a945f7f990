/**
 * The Electron preload: sandboxed, CommonJS (compiled to preload.cjs), so it may require only 'electron'. It exposes
 * `window.svalab`: one narrow function per request of shared/contract.ts, each invoking that request's own channel,
 * and `onEvent(cb)` returning an unsubscribe. Never the raw ipcRenderer, and never the IPC event object: the page
 * sees only the payload (Electron security checklist, item 20).
 *
 * The names below repeat shared/contract.ts API_FUNCTIONS and src-main/host/electron/channels.ts;
 * test/host/electron.test.ts fails when they drift.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

const FUNCTIONS: Record<string, string> = {
  metaInfo: 'meta.info',
  labSnapshot: 'lab.snapshot',
  labConfigure: 'lab.configure',
  labStep: 'lab.step',
  labUndo: 'lab.undo',
  labReset: 'lab.reset',
  labStepTo: 'lab.stepTo',
  labLoadScenario: 'lab.loadScenario',
  labTrace: 'lab.trace',
  labJumpTo: 'lab.jumpTo',
  labRedo: 'lab.redo',
  sessionExport: 'session.export',
  sessionImport: 'session.import',
  sessionUpdate: 'session.update',
  sessionInfo: 'session.info',
  sessionNew: 'session.new',
  exportTrace: 'export.trace',
  exportScenario: 'export.scenario',
  hostDocument: 'host.document',
};
const EVENT_CHANNEL = 'svalab:event';

const api: Record<string, unknown> = {};
for (const [fn, request] of Object.entries(FUNCTIONS)) {
  const channel = `svalab:${request}`;
  api[fn] = (input: unknown): Promise<unknown> => ipcRenderer.invoke(channel, input ?? {});
}
api.onEvent = (cb: (e: unknown) => void): (() => void) => {
  if (typeof cb !== 'function') throw new TypeError('onEvent takes a function');
  const listener = (_event: IpcRendererEvent, message: unknown): void => cb(message);
  ipcRenderer.on(EVENT_CHANNEL, listener);
  return () => void ipcRenderer.removeListener(EVENT_CHANNEL, listener);
};

contextBridge.exposeInMainWorld('svalab', Object.freeze(api));
