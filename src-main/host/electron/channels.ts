/**
 * IPC channel names of the Electron shell: one `svalab:<request>` channel per request of shared/contract.ts
 * (ipcRenderer.invoke / ipcMain.handle) and one channel for every pushed event. preload.cts repeats these names
 * (a sandboxed preload cannot require project files); test/host/electron.test.ts checks the two agree.
 */
import { REQUEST_NAMES, type RequestName } from '../../../shared/contract.js';

export const CHANNEL_PREFIX = 'svalab:';
export const EVENT_CHANNEL = 'svalab:event';
export const channelOf = (name: RequestName): string => `${CHANNEL_PREFIX}${name}`;
export const REQUEST_CHANNELS: readonly string[] = REQUEST_NAMES.map(channelOf);

/** The renderer's origin: the app:// protocol serving dist-renderer/ (protocol.ts). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'svalab';
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;
