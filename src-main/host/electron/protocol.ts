/**
 * app://svalab/: the built renderer (dist-renderer/) served from disk with the CSP header, instead of file://
 * (Electron security checklist, item 18). Only files under the renderer directory, only GET.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { APP_HOST } from './channels.js';
import { ELECTRON_CSP } from './security.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

export const NOT_BUILT_PAGE = 'renderer not built: run npm run build:renderer';

/** Answers one app:// request (a fetch Response, as protocol.handle wants). */
export async function appResponse(rendererDir: string, request: { url: string; method: string }): Promise<Response> {
  const headers = { 'content-security-policy': ELECTRON_CSP, 'x-content-type-options': 'nosniff' };
  const text = (status: number, body: string): Response => new Response(body, { status, headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' } });
  if (request.method !== 'GET') return text(405, 'method not allowed');
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return text(400, 'bad url');
  }
  if (url.host !== APP_HOST) return text(404, 'not found');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return text(400, 'bad path');
  }
  if (path === '/' || path === '') path = '/index.html';
  if (path.includes('\0') || path.split('/').some((s) => s.startsWith('.'))) return text(404, 'not found');
  const root = normalize(rendererDir);
  const file = normalize(join(root, path));
  if (!file.startsWith(root + sep)) return text(404, 'not found');
  try {
    if (!(await stat(file)).isFile()) return text(404, 'not found');
    const body = await readFile(file);
    return new Response(body, { status: 200, headers: { ...headers, 'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream' } });
  } catch {
    return path === '/index.html' ? text(503, NOT_BUILT_PAGE) : text(404, 'not found');
  }
}
