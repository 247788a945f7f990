/**
 * The main side of the typed IPC: every request channel goes through `handle`, which checks the sender (our
 * window's top frame, loaded from app://svalab) and the payload size, then lets LabService validate the input
 * against the contract (GitHub Desktop's "one wrapper, no raw ipcMain.handle"). Events go to our window only.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { MAX_MESSAGE_BYTES, REQUEST_NAMES, type ContractError, type LabEvent, type Response } from '../../../shared/contract.js';
import type { LabService } from '../service.js';
import { APP_HOST, APP_SCHEME, EVENT_CHANNEL, channelOf } from './channels.js';

/** True when the message comes from the top frame of `trusted`, showing a page of app://svalab/. */
export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>, trusted: () => WebContents | null): boolean {
  const wc = trusted();
  if (!wc || wc.isDestroyed() || event.sender !== wc) return false;
  const frame = event.senderFrame;
  if (!frame || frame.parent !== null || frame !== wc.mainFrame) return false;
  let url: URL;
  try {
    url = new URL(frame.url);
  } catch {
    return false;
  }
  return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
}

const refuse = (code: ContractError['code'], message: string): Response<never> => ({ ok: false, error: { code, message } });

function tooLarge(input: unknown): boolean {
  try {
    return (JSON.stringify(input) ?? '').length > MAX_MESSAGE_BYTES;
  } catch {
    return true; // not JSON-able (structured clone lets more through): not a contract message
  }
}

/** Registers one handler per request channel; returns a function removing them. */
export function registerIpc(ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>, service: LabService, trusted: () => WebContents | null): () => void {
  for (const name of REQUEST_NAMES) {
    ipcMain.handle(channelOf(name), (event, input: unknown) => {
      if (!isTrustedSender(event, trusted)) return refuse('bad-message', 'untrusted sender');
      if (tooLarge(input)) return refuse('bad-message', `message larger than ${MAX_MESSAGE_BYTES} bytes or not JSON`);
      return service.handle(name, input);
    });
  }
  return () => {
    for (const name of REQUEST_NAMES) ipcMain.removeHandler(channelOf(name));
  };
}

/** Forwards the service's events to our window; returns the unsubscribe. */
export function forwardEvents(service: LabService, target: () => WebContents | null): () => void {
  return service.subscribe((e: LabEvent) => {
    const wc = target();
    if (wc && !wc.isDestroyed()) wc.send(EVENT_CHANNEL, e);
  });
}
