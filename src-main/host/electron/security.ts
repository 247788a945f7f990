/**
 * The Electron security checklist (anchors.md §D.1) in one place: the window's webPreferences, what every
 * webContents may not do (navigate, open windows, attach webviews), and a session that grants no permission.
 */
import type { BrowserWindowConstructorOptions, Session, WebContents } from 'electron';
import { contentSecurityPolicy } from '../csp.js';

export function webPreferences(preload: string, devTools: boolean): NonNullable<BrowserWindowConstructorOptions['webPreferences']> {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    enableBlinkFeatures: '',
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    devTools,
  };
}

/** The CSP of every app:// answer (the page's own meta tag says the same; both apply). No WebSocket in Electron. */
export const ELECTRON_CSP = contentSecurityPolicy();

/** No navigation away from the app, no new windows, no webviews. */
export function hardenWebContents(wc: WebContents): void {
  wc.on('will-navigate', (e) => e.preventDefault());
  wc.on('will-redirect', (e) => e.preventDefault());
  wc.on('will-attach-webview', (e) => e.preventDefault());
  wc.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Every permission request and check is denied (the lab needs none). */
export function hardenSession(ses: Session): void {
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
}
