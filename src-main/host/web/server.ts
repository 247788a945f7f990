/**
 * The web host (`svalab serve`): serves the built renderer (dist-renderer/) over HTTP and the contract of
 * shared/contract.ts over a WebSocket at /ws, so the lab runs in a plain browser (design.md "Hosts and the renderer").
 *
 * Who may talk to it:
 * - It binds 127.0.0.1 by default.
 * - A random per-run token is required: in the page URL it prints (`/?token=...`), which sets an HttpOnly,
 *   SameSite=Strict cookie so that the page's own assets load; and on the WebSocket URL (`/ws?token=...`), which
 *   the page builds from its own address. Without it: HTTP 403, the WebSocket upgrade refused with 403.
 * - The Host header must name this server (DNS rebinding), and an Origin header, when present on HTTP and always on
 *   the WebSocket, must be this server's own origin. A foreign origin is refused the same way.
 * Frames are bounded (MAX_MESSAGE_BYTES); a frame that is not JSON or not a request gets a typed `bad-message` error
 * and the connection stays open.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_MESSAGE_BYTES, WsRequestFrame, type LabEvent, type Response, type WsServerFrame } from '../../../shared/contract.js';
import { contentSecurityPolicy } from '../csp.js';
import type { LabService } from '../service.js';

export interface WebHostOptions {
  service: LabService;
  /** The built renderer (index.html and assets). */
  rendererDir: string;
  /** 0: an ephemeral port. */
  port?: number;
  host?: string;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  /** Frames larger than this are refused (the socket is closed with 1009). */
  maxMessageBytes?: number;
}

export interface WebHost {
  /** The address to open, token included. */
  url: string;
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export { contentSecurityPolicy };

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export const NOT_BUILT = 'renderer not built: run npm run build:renderer';

function sameToken(a: string | null | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

export async function startWebHost(opts: WebHostOptions): Promise<WebHost> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const maxBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const root = resolve(opts.rendererDir);
  const service = opts.service;
  let port = 0;
  const cookieName = (): string => `svalab_token_${port}`;

  /** Host names under which this server may be addressed (the Host header, DNS rebinding). */
  const hostNames = (): Set<string> => {
    const names = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
    names.add(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
    return names;
  };
  const allowedHost = (req: IncomingMessage): boolean => hostNames().has((req.headers.host ?? '').toLowerCase());
  const allowedOrigin = (origin: string | undefined): boolean => origin !== undefined && [...hostNames()].some((h) => origin.toLowerCase() === `http://${h}`);
  const hasToken = (req: IncomingMessage, url: URL): boolean => sameToken(url.searchParams.get('token'), token) || sameToken(cookie(req, cookieName()), token);

  const refuse = (res: ServerResponse, code: number, msg: string): void => {
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(msg + '\n');
  };

  const server: Server = createServer((req, res) => {
    void serveHttp(req, res).catch(() => {
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.destroy();
    });
  });

  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!allowedHost(req)) return refuse(res, 403, 'forbidden: unknown Host');
    if (req.headers.origin !== undefined && !allowedOrigin(req.headers.origin)) return refuse(res, 403, 'forbidden: foreign Origin');
    if (!hasToken(req, url)) return refuse(res, 403, 'forbidden: open the address `svalab serve` printed (it carries the token)');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed');
    const wsOrigin = `ws://${req.headers.host}`;
    const headers: Record<string, string> = {
      'content-security-policy': contentSecurityPolicy(wsOrigin),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer', // the token is in the URL
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'x-frame-options': 'DENY',
      'cache-control': 'no-store',
      'set-cookie': `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`,
    };
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return refuse(res, 400, 'bad path');
    }
    if (path === '/' || path === '') path = '/index.html';
    if (path.includes('\0') || path.split('/').some((seg) => seg.startsWith('.'))) return refuse(res, 404, 'not found');
    const file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) return refuse(res, 404, 'not found');
    let body: Buffer;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new Error('not a file');
      body = await readFile(file);
    } catch {
      if (path === '/favicon.ico') {
        res.writeHead(204, headers);
        res.end();
        return;
      }
      if (path === '/index.html') {
        res.writeHead(503, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
        res.end(NOT_BUILT + '\n');
        return;
      }
      return refuse(res, 404, 'not found');
    }
    res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBytes });
  const sockets = new Set<WebSocket>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const deny = (code: number, why: string): void => {
      socket.end(`HTTP/1.1 ${code} ${code === 403 ? 'Forbidden' : 'Not Found'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`);
    };
    if (url.pathname !== '/ws') return deny(404, 'not found');
    if (!allowedHost(req)) return deny(403, 'unknown Host');
    if (!allowedOrigin(req.headers.origin)) return deny(403, 'foreign or missing Origin');
    if (!hasToken(req, url)) return deny(403, 'missing or wrong token');
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  const send = (ws: WebSocket, frame: WsServerFrame): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };

  function accept(ws: WebSocket): void {
    sockets.add(ws);
    const unsubscribe = service.subscribe((e: LabEvent) => send(ws, { event: e.name, payload: e.payload }));
    ws.on('close', () => {
      unsubscribe();
      sockets.delete(ws);
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      const bad = (id: number | null, message: string): void => send(ws, { id, response: { ok: false, error: { code: 'bad-message', message } } });
      if (isBinary) return bad(null, 'binary frames are not part of the contract: send JSON text');
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch (e) {
        return bad(null, `not JSON: ${(e as Error).message}`);
      }
      const idOf = (raw !== null && typeof raw === 'object' && Number.isSafeInteger((raw as { id?: unknown }).id) ? (raw as { id: number }).id : null);
      const frame = WsRequestFrame.safeParse(raw);
      if (!frame.success) return bad(idOf, 'not a request frame: expected {"id": <integer>, "name": <request>, "input": {...}}');
      const response: Response<unknown> = service.handle(frame.data.name, frame.data.input);
      send(ws, { id: frame.data.id, response });
    });
  }

  await new Promise<void>((ok, ko) => {
    server.once('error', ko);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', ko);
      ok();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  const origin = `http://${shown}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    close: () =>
      new Promise<void>((ok) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
