// @vitest-environment jsdom
// The renderer's transport: the preload's API when there is one, else a WebSocket carrying the page's token; every
// answer and event checked against the contract.
import { describe, expect, it } from 'vitest';
import { makeClientApi, type ClientApi, type LabEvent } from '../../shared/contract.js';
import { connect, socketUrl, validated, webSocketConnection } from '../../src-renderer/lib/api.js';

class FakeSocket {
  static last: FakeSocket | null = null;
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: Event) => unknown) | null = null;
  onclose: ((ev: CloseEvent) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  onmessage: ((ev: MessageEvent) => unknown) | null = null;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  send(s: string): void {
    this.sent.push(JSON.parse(s));
  }
  close(): void {}
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  receive(frame: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(frame) }));
  }
  closeNow(reason = ''): void {
    this.onclose?.(new CloseEvent('close', { reason }));
  }
}

const open = (u: string): FakeSocket => new FakeSocket(u) as unknown as FakeSocket;

describe('socketUrl', () => {
  it("passes the page's token on to /ws on the same origin", () => {
    expect(socketUrl({ protocol: 'http:', host: '127.0.0.1:4000', search: '?token=a%2Fb-c_d' })).toBe('ws://127.0.0.1:4000/ws?token=a%2Fb-c_d');
    expect(socketUrl({ protocol: 'https:', host: 'lab.example:443', search: '?x=1&token=t' })).toBe('wss://lab.example:443/ws?token=t');
  });
  it('is null without a token', () => {
    expect(socketUrl({ protocol: 'http:', host: 'h', search: '' })).toBeNull();
    expect(socketUrl({ protocol: 'http:', host: 'h', search: '?token=' })).toBeNull();
  });
});

describe('webSocketConnection', () => {
  it('sends request frames after the socket opens and matches answers by id', async () => {
    const c = webSocketConnection('ws://h/ws?token=t', open as never);
    const s = FakeSocket.last!;
    const p1 = c.api.labTrace({ step: -1 });
    const p2 = c.api.labReset({});
    expect(s.sent).toEqual([]);
    s.open();
    await c.ready;
    await Promise.resolve();
    expect(s.sent).toEqual([
      { id: 1, name: 'lab.trace', input: { step: -1 } },
      { id: 2, name: 'lab.reset', input: {} },
    ]);
    s.receive({ id: 2, response: { ok: true, value: { seq: 7 } } });
    s.receive({ id: 1, response: { ok: true, value: { step: -1, records: [{ t: 'note', d: 0, msg: 'hi' }] } } });
    expect(await p2).toEqual({ ok: true, value: { seq: 7 } });
    expect(await p1).toEqual({ ok: true, value: { step: -1, records: [{ t: 'note', d: 0, msg: 'hi' }] } });
  });

  it('turns an answer that does not match the contract into an internal error', async () => {
    const c = webSocketConnection('ws://h/ws?token=t', open as never);
    const s = FakeSocket.last!;
    s.open();
    const p = c.api.labReset({});
    await Promise.resolve();
    await Promise.resolve();
    s.receive({ id: 1, response: { ok: true, value: { seq: 'seven' } } });
    const r = await p;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'internal', message: expect.stringContaining('does not match the contract') });
  });

  it('delivers valid events and drops unknown or malformed ones', () => {
    const c = webSocketConnection('ws://h/ws?token=t', open as never);
    const s = FakeSocket.last!;
    s.open();
    const got: LabEvent[] = [];
    c.api.onEvent((e) => got.push(e));
    s.receive({ event: 'lab.replaced', payload: { seq: 3, reason: 'reset' } });
    s.receive({ event: 'lab.replaced', payload: { seq: 'x', reason: 'reset' } });
    s.receive({ event: 'no.such', payload: {} });
    expect(got).toEqual([{ name: 'lab.replaced', payload: { seq: 3, reason: 'reset' } }]);
  });

  it('a refused handshake (bad token, foreign origin) fails pending requests with a message a person can act on', async () => {
    const c = webSocketConnection('ws://h/ws?token=wrong', open as never);
    const states: string[] = [];
    c.onState((st) => states.push(st));
    const p = c.api.metaInfo({});
    FakeSocket.last!.closeNow();
    await expect(c.ready).rejects.toThrow(/refused the connection/);
    const r = await p;
    expect(r.ok).toBe(false);
    expect(states).toEqual(['connecting', 'closed']);
  });

  it('without a token it never opens a socket', async () => {
    FakeSocket.last = null;
    const c = webSocketConnection(null, open as never);
    await expect(c.ready).rejects.toThrow(/no access token/);
    expect(FakeSocket.last).toBeNull();
    const r = await c.api.labSnapshot({});
    expect(r.ok).toBe(false);
  });
});

describe('connect', () => {
  it('uses the preload API when the page has one, validating what it returns', async () => {
    const events: ((e: LabEvent) => void)[] = [];
    const preload: ClientApi = makeClientApi(
      async (name) => (name === 'lab.reset' ? { ok: true, value: { seq: 1 } } : { ok: true, value: { nonsense: true } }),
      (cb) => (events.push(cb), () => undefined),
    );
    const win = { svalab: preload, location: { protocol: 'http:', host: 'x', search: '' } } as unknown as Window;
    const c = connect(win);
    expect(c.kind).toBe('electron');
    expect(await c.api.labReset({})).toEqual({ ok: true, value: { seq: 1 } });
    const bad = await c.api.labUndo({});
    expect(bad.ok).toBe(false);
    const got: LabEvent[] = [];
    c.api.onEvent((e) => got.push(e));
    events[0]!({ name: 'ui.action', payload: { action: 'step' } });
    events[0]!({ name: 'ui.action', payload: { action: 'explode' } } as never);
    expect(got).toEqual([{ name: 'ui.action', payload: { action: 'step' } }]);
  });

  it('uses a WebSocket with the token from the address otherwise', () => {
    const win = { location: { protocol: 'http:', host: '127.0.0.1:9', search: '?token=abc' } } as unknown as Window;
    const orig = globalThis.WebSocket;
    const urls: string[] = [];
    globalThis.WebSocket = class {
      constructor(u: string) {
        urls.push(u);
      }
    } as never;
    try {
      expect(connect(win).kind).toBe('web');
      expect(urls).toEqual(['ws://127.0.0.1:9/ws?token=abc']);
    } finally {
      globalThis.WebSocket = orig;
    }
  });

  it('validated() passes a throwing preload call on as an internal error', async () => {
    const preload = makeClientApi(
      async () => {
        throw new Error('ipc gone');
      },
      () => () => undefined,
    );
    const r = await validated(preload).labSnapshot({});
    expect(r).toMatchObject({ ok: false, error: { code: 'internal', message: expect.stringContaining('ipc gone') } });
  });
});
