/**
 * The web host on a real ephemeral port: the token and the Origin are required, the renderer is served with a strict
 * CSP, the WebSocket carries the contract, and a malformed message gets a typed error and changes nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { LabEvent, Response, WsServerFrame } from '../../shared/contract.js';
import { LabService } from '../../src-main/host/service.js';
import { NOT_BUILT, startWebHost, type WebHost } from '../../src-main/host/web/server.js';

let dir: string;
let emptyDir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svalab-web-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>SVA Lab</title><script type="module" src="./assets/app.js"></script>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'export const x = 1;');
  writeFileSync(join(dir, '.secret'), 'no');
  emptyDir = mkdtempSync(join(tmpdir(), 'svalab-web-empty-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

const hosts: WebHost[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const h of hosts.splice(0)) await h.close();
});

async function start(opts: { rendererDir?: string; maxMessageBytes?: number } = {}): Promise<{ host: WebHost; service: LabService }> {
  const service = new LabService();
  const host = await startWebHost({ service, rendererDir: opts.rendererDir ?? dir, port: 0, ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}) });
  hosts.push(host);
  return { host, service };
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(host: WebHost, path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((ok, ko) => {
    const req = request({ host: '127.0.0.1', port: host.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', ko);
    req.end();
  });
}

/** Opens a WebSocket; resolves with the socket once open, or with the HTTP status of a refused upgrade. */
function openWs(host: WebHost, opts: { token?: string | null; origin?: string | null; path?: string } = {}): Promise<{ ws: WebSocket } | { refused: number }> {
  const token = opts.token === undefined ? host.token : opts.token;
  const url = `ws://127.0.0.1:${host.port}${opts.path ?? '/ws'}${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;
  const origin = opts.origin === undefined ? host.origin : opts.origin;
  const ws = new WebSocket(url, origin === null ? {} : { origin });
  sockets.push(ws);
  return new Promise((ok, ko) => {
    ws.once('open', () => ok({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      ok({ refused: res.statusCode ?? 0 });
      res.resume();
    });
    ws.once('error', (e) => ko(e));
  });
}

/** A client that pairs answers with requests and queues events. */
class Client {
  private nextId = 1;
  private readonly waiting = new Map<number | null, (r: Response<unknown>) => void>();
  readonly events: LabEvent[] = [];
  private eventWaiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as WsServerFrame;
      if ('event' in f) {
        this.events.push({ name: f.event, payload: f.payload } as LabEvent);
        for (const w of this.eventWaiters.splice(0)) w();
      } else {
        const w = this.waiting.get(f.id);
        this.waiting.delete(f.id);
        w?.(f.response);
      }
    });
  }
  call<T = unknown>(name: string, input: unknown = {}): Promise<Response<T>> {
    const id = this.nextId++;
    return new Promise((ok) => {
      this.waiting.set(id, ok as (r: Response<unknown>) => void);
      this.ws.send(JSON.stringify({ id, name, input }));
    });
  }
  /** Sends raw text; resolves with the answer that has id null (an unreadable frame) or `id`. */
  raw(text: string | Buffer, id: number | null = null): Promise<Response<unknown>> {
    return new Promise((ok) => {
      this.waiting.set(id, ok);
      this.ws.send(text);
    });
  }
  async nextEvent(): Promise<LabEvent> {
    while (this.events.length === 0) await new Promise<void>((ok) => this.eventWaiters.push(ok));
    return this.events.shift()!;
  }
}

async function client(host: WebHost): Promise<Client> {
  const r = await openWs(host);
  if (!('ws' in r)) throw new Error(`refused ${r.refused}`);
  return new Client(r.ws);
}

describe('web host: HTTP', () => {
  it('binds 127.0.0.1 and prints a URL with its token', async () => {
    const { host } = await start();
    expect(host.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${host.port}/\\?token=[A-Za-z0-9_-]{32}$`));
    const other = await start();
    expect(other.host.token).not.toBe(host.token);
  });

  it('refuses the page without the token or with a wrong one (403), serves it with the token', async () => {
    const { host } = await start();
    expect((await get(host, '/')).status).toBe(403);
    expect((await get(host, '/?token=wrong')).status).toBe(403);
    expect((await get(host, `/?token=${host.token}x`)).status).toBe(403);
    const ok = await get(host, `/?token=${host.token}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('<title>SVA Lab</title>');
    expect(ok.headers['content-type']).toMatch(/^text\/html/);
  });

  it('sends a strict CSP (no unsafe-eval, no inline script) and no referrer', async () => {
    const { host } = await start();
    const ok = await get(host, `/?token=${host.token}`);
    const csp = String(ok.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${host.port}`);
    expect(ok.headers['referrer-policy']).toBe('no-referrer');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
  });

  it("the page's assets load with the cookie the tokened page set, and not without it", async () => {
    const { host } = await start();
    expect((await get(host, '/assets/app.js')).status).toBe(403);
    const page = await get(host, `/?token=${host.token}`);
    const setCookie = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
    expect(setCookie[0]).toMatch(/HttpOnly/);
    expect(setCookie[0]).toMatch(/SameSite=Strict/);
    const cookie = setCookie[0]!.split(';')[0]!;
    const asset = await get(host, '/assets/app.js', { cookie });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/^text\/javascript/);
    expect(asset.body).toBe('export const x = 1;');
    expect((await get(host, '/assets/app.js', { cookie: cookie.replace(/=.*/, '=nope') })).status).toBe(403);
  });

  it('refuses a foreign Origin and a foreign Host even with the token', async () => {
    const { host } = await start();
    expect((await get(host, `/?token=${host.token}`, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(host, `/?token=${host.token}`, { origin: `http://127.0.0.1:${host.port + 1}` })).status).toBe(403);
    expect((await get(host, `/?token=${host.token}`, { origin: host.origin })).status).toBe(200);
    expect((await get(host, `/?token=${host.token}`, { host: `evil.example:${host.port}` })).status).toBe(403);
  });

  it('does not serve files outside the renderer or dotfiles', async () => {
    const { host } = await start();
    const t = `?token=${host.token}`;
    expect((await get(host, `/..%2f..%2fpackage.json${t}`)).status).toBe(404);
    expect((await get(host, `/%2e%2e/%2e%2e/etc/passwd${t}`)).status).toBe(404);
    expect((await get(host, `/.secret${t}`)).status).toBe(404);
    expect((await get(host, `/nope.js${t}`)).status).toBe(404);
  });

  it('says the renderer is not built (503) when dist-renderer has no index.html', async () => {
    const { host } = await start({ rendererDir: emptyDir });
    const r = await get(host, `/?token=${host.token}`);
    expect(r.status).toBe(503);
    expect(r.body.trim()).toBe(NOT_BUILT);
  });
});

describe('web host: WebSocket', () => {
  it('refuses the upgrade without the token, with a wrong token, from a foreign or missing Origin, off /ws', async () => {
    const { host } = await start();
    expect(await openWs(host, { token: null })).toEqual({ refused: 403 });
    expect(await openWs(host, { token: 'wrong' })).toEqual({ refused: 403 });
    expect(await openWs(host, { origin: 'http://evil.example' })).toEqual({ refused: 403 });
    expect(await openWs(host, { origin: null })).toEqual({ refused: 403 });
    expect(await openWs(host, { path: '/other' })).toEqual({ refused: 404 });
    expect('ws' in (await openWs(host))).toBe(true);
  });

  it('answers a valid request and pushes the patch event of a step', async () => {
    const { host, service } = await start();
    const c = await client(host);
    const info = await c.call<{ policies: { name: string }[] }>('meta.info');
    expect(info.ok).toBe(true);
    if (info.ok) expect(info.value.policies.map((p) => p.name)).toEqual(['mainline', 'rfc-v1', 'arch-gated', 'driver-pasid']);
    const r = await c.call<{ seq: number; result: { ok: boolean; errno?: string } }>('lab.step', { step: { bind: { process: 'app', device: 'accel' } } });
    expect(r.ok).toBe(true);
    // the seed's failure on the default SoC under mainline
    if (r.ok) expect(r.value.result).toMatchObject({ ok: false, errno: 'ENOSPC' });
    const ev = await c.nextEvent();
    expect(ev.name).toBe('lab.patch');
    expect(ev.payload.seq).toBe(1);
    expect(service.current.records).toHaveLength(1);
  });

  it('every connected page receives the events', async () => {
    const { host } = await start();
    const a = await client(host);
    const b = await client(host);
    expect((await a.call('lab.reset')).ok).toBe(true);
    expect(await a.nextEvent()).toEqual({ name: 'lab.replaced', payload: { seq: 1, reason: 'reset' } });
    expect(await b.nextEvent()).toEqual({ name: 'lab.replaced', payload: { seq: 1, reason: 'reset' } });
  });

  it('malformed JSON, a non-frame, a binary frame and an unknown request get typed errors, change nothing, keep the connection', async () => {
    const { host, service } = await start();
    const c = await client(host);
    expect((await c.call('lab.step', { step: { bind: { process: 'p', device: 'gpu' } } })).ok).toBe(true);
    // the events a request causes come before its answer: the patch, then the document's first unsaved change
    expect(c.events.map((e) => e.name)).toEqual(['lab.patch', 'session.state']);
    c.events.length = 0;
    const before = JSON.stringify(service.snapshot());

    const notJson = await c.raw('{"id": 5, "name": ');
    expect(notJson).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    const noName = await c.raw(JSON.stringify({ id: 7, input: {} }), 7);
    expect(noName).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    const binary = await c.raw(Buffer.from([1, 2, 3]));
    expect(binary).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    const unknown = await c.call('lab.format_disk');
    expect(unknown).toMatchObject({ ok: false, error: { code: 'bad-message' } });
    const badStep = await c.call('lab.step', { step: { bind: { process: 'p' } } });
    expect(badStep).toMatchObject({ ok: false, error: { code: 'bad-step', path: 'step.bind.device' } });
    const badInput = await c.call('lab.trace', { step: 'x' });
    expect(badInput).toMatchObject({ ok: false, error: { code: 'bad-input', path: 'step' } });
    const extra = await c.call('lab.undo', { evil: true });
    expect(extra).toMatchObject({ ok: false, error: { code: 'bad-input' } });

    expect(JSON.stringify(service.snapshot())).toBe(before);
    expect(c.events).toEqual([]);
    // still connected and working
    const snap = await c.call<{ steps: unknown[] }>('lab.snapshot');
    expect(snap.ok && snap.value.steps).toHaveLength(1);
  });

  it('a bad SoC in lab.configure names the field and changes nothing', async () => {
    const { host, service } = await start();
    const c = await client(host);
    const before = JSON.stringify(service.snapshot());
    const r = await c.call('lab.configure', { policy: 'mainline', soc: { smmus: [{ name: 'smmu0', sidsize: 4 }], devices: [{ name: 'd', smmu: 'smmu0', sid: 99 }] } });
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-soc', path: 'soc.devices[0].sid' } });
    expect(JSON.stringify(service.snapshot())).toBe(before);
  });

  it('a frame larger than the bound closes the socket (1009) without touching the lab', async () => {
    const { host, service } = await start({ maxMessageBytes: 1024 });
    const c = await client(host);
    const closed = new Promise<number>((ok) => c.ws.once('close', (code) => ok(code)));
    c.ws.send(JSON.stringify({ id: 1, name: 'lab.loadScenario', input: { name: 'big.yaml', text: 'x'.repeat(4096) } }));
    expect(await closed).toBe(1009);
    expect(service.currentSeq).toBe(0);
  });
});
