/**
 * The renderer's only door to the lab: a ClientApi (shared/contract.ts), one function per request plus onEvent.
 * In Electron the preload exposes it as `window.svalab`; in a browser (the web host, `svalab serve`) it is built here
 * over a WebSocket to the same origin, carrying the page's `?token=` on to the socket URL.
 *
 * Every answer and every event is checked against the contract's schemas before the bench sees it: a host bug then
 * shows as a typed error, not as a broken view.
 */
import {
  API_FUNCTIONS,
  EVENTS,
  REQUESTS,
  makeClientApi,
  responseSchema,
  type ClientApi,
  type EventName,
  type LabEvent,
  type RequestName,
  type Response,
  type WsRequestFrame,
} from '../../shared/contract.js';

declare global {
  interface Window {
    svalab?: ClientApi;
  }
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

/** A ClientApi plus what the bench needs to tell about the transport. */
export interface Connection {
  api: ClientApi;
  /** 'electron' (preload) or 'web' (WebSocket). */
  kind: 'electron' | 'web';
  /** Resolves when the transport is usable, rejects with a message a person can act on. */
  ready: Promise<void>;
  onState(cb: (s: ConnectionState, why?: string) => void): () => void;
}

const responseSchemas = Object.fromEntries(
  Object.entries(REQUESTS).map(([n, r]) => [n, responseSchema(r.output)]),
) as unknown as Record<RequestName, ReturnType<typeof responseSchema>>;

/** Checks an answer against the request's output schema; a mismatch becomes an `internal` error. */
export function checkResponse<T>(name: RequestName, raw: unknown): Response<T> {
  const r = responseSchemas[name].safeParse(raw);
  if (r.success) return r.data as Response<T>;
  const issue = r.error.issues[0];
  return { ok: false, error: { code: 'internal', message: `the host's answer to ${name} does not match the contract: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}` } };
}

/** Checks an event; null when it is unknown or malformed (it is then dropped, with a console warning). */
export function checkEvent(name: unknown, payload: unknown): LabEvent | null {
  if (typeof name !== 'string' || !(name in EVENTS)) return null;
  const r = EVENTS[name as EventName].safeParse(payload);
  return r.success ? ({ name, payload: r.data } as LabEvent) : null;
}

/** Wraps an API (the preload's) so that its answers and events are validated like the WebSocket's. */
export function validated(inner: ClientApi): ClientApi {
  const fns = inner as unknown as Record<string, (input: unknown) => Promise<unknown>>;
  return makeClientApi(
    async (name, input) => {
      try {
        return checkResponse(name, await fns[API_FUNCTIONS[name]]!(input));
      } catch (e) {
        return { ok: false, error: { code: 'internal', message: `${name} failed in transport: ${(e as Error).message}` } };
      }
    },
    (cb) =>
      inner.onEvent((e) => {
        const ev = checkEvent(e?.name, e?.payload);
        if (ev) cb(ev);
        else console.warn('svalab: dropped an event that does not match the contract', e);
      }),
  );
}

/** The WebSocket URL for a page at `loc`: same origin, path /ws, the page's token passed on. Null without a token. */
export function socketUrl(loc: Pick<Location, 'protocol' | 'host' | 'search'>): string | null {
  const token = new URLSearchParams(loc.search).get('token');
  if (!token) return null;
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${loc.host}/ws?token=${encodeURIComponent(token)}`;
}

type SocketLike = Pick<WebSocket, 'send' | 'close' | 'readyState'> & {
  onopen: ((ev: Event) => unknown) | null;
  onclose: ((ev: CloseEvent) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  onmessage: ((ev: MessageEvent) => unknown) | null;
};

/** The WebSocket transport: request frames {id,name,input}, answers {id,response}, events {event,payload}. */
export function webSocketConnection(url: string | null, open: (url: string) => SocketLike = (u) => new WebSocket(u)): Connection {
  const stateSubs = new Set<(s: ConnectionState, why?: string) => void>();
  const eventSubs = new Set<(e: LabEvent) => void>();
  const pending = new Map<number, { name: RequestName; resolve: (r: Response<unknown>) => void }>();
  let nextId = 1;
  let state: ConnectionState = 'connecting';
  let why: string | undefined;
  const setState = (s: ConnectionState, w?: string): void => {
    state = s;
    why = w;
    for (const cb of stateSubs) cb(s, w);
  };

  let ws: SocketLike | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    if (!url) {
      const msg = 'This page has no access token. Open the address that `svalab serve` printed (it ends in ?token=...).';
      setState('closed', msg);
      reject(new Error(msg));
      return;
    }
    ws = open(url);
    ws.onopen = () => {
      setState('open');
      resolve();
    };
    ws.onerror = () => {
      // The close event follows with the reason; a refused handshake (bad token, foreign origin) only shows as this.
    };
    ws.onclose = (ev) => {
      const msg =
        state === 'connecting'
          ? 'The lab refused the connection: the token in this address is wrong or stale, or the page comes from another origin. Open the address that `svalab serve` printed.'
          : `The connection to the lab closed${ev.reason ? `: ${ev.reason}` : ''}. Restart \`svalab serve\` and reload.`;
      for (const [, p] of pending) p.resolve({ ok: false, error: { code: 'internal', message: msg } });
      pending.clear();
      setState('closed', msg);
      reject(new Error(msg));
    };
    ws.onmessage = (ev) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        console.warn('svalab: a frame that is not JSON');
        return;
      }
      if (frame === null || typeof frame !== 'object') return;
      const f = frame as Record<string, unknown>;
      if ('event' in f) {
        const e = checkEvent(f.event, f.payload);
        if (e) for (const cb of eventSubs) cb(e);
        else console.warn('svalab: dropped an event that does not match the contract', f.event);
        return;
      }
      if (typeof f.id === 'number' && pending.has(f.id)) {
        const p = pending.get(f.id)!;
        pending.delete(f.id);
        p.resolve(checkResponse(p.name, f.response));
      } else if (f.id === null && f.response) {
        console.warn('svalab: the host could not read a request', f.response);
      }
    };
  });
  ready.catch(() => undefined);

  const invoke = async (name: RequestName, input: unknown): Promise<Response<unknown>> => {
    try {
      await ready;
    } catch (e) {
      return { ok: false, error: { code: 'internal', message: (e as Error).message } };
    }
    const id = nextId++;
    const frame: WsRequestFrame = { id, name, input };
    return new Promise((resolve) => {
      pending.set(id, { name, resolve });
      ws!.send(JSON.stringify(frame));
    });
  };
  const api = makeClientApi(invoke, (cb) => {
    eventSubs.add(cb);
    return () => eventSubs.delete(cb);
  });
  return {
    api,
    kind: 'web',
    ready,
    onState(cb) {
      stateSubs.add(cb);
      cb(state, why);
      return () => stateSubs.delete(cb);
    },
  };
}

/** The preload's API when there is one (Electron), else a WebSocket to this page's origin with its token. */
export function connect(win: Window = window): Connection {
  if (win.svalab) {
    const api = validated(win.svalab);
    return { api, kind: 'electron', ready: Promise.resolve(), onState: (cb) => (cb('open'), () => undefined) };
  }
  return webSocketConnection(socketUrl(win.location));
}
