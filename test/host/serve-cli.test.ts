/**
 * `svalab serve`: prints the tokened address, serves until stopped, refuses bad options.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src-main/cli/main.js';
import { serveCommand } from '../../src-main/cli/serve.js';
import type { WebHost } from '../../src-main/host/web/server.js';

const dir = mkdtempSync(join(tmpdir(), 'svalab-serve-'));
writeFileSync(join(dir, 'index.html'), '<!doctype html><title>SVA Lab</title>');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err };
}

describe('svalab serve', () => {
  it('prints the URL with its token on 127.0.0.1, serves it, and stops cleanly', async () => {
    const { io: tio, out } = io();
    let stop!: () => void;
    const stopped = new Promise<void>((ok) => (stop = ok));
    const host = await new Promise<WebHost>((started, ko) => {
      serveCommand({ port: '0', host: '127.0.0.1', policy: 'rfc-v1' }, tio, { started, stop: stopped, rendererDir: dir }).then((code) => (code === 0 ? undefined : ko(new Error(`exit ${code}`))), ko);
    });
    expect(out[0]).toBe(`SVA Lab: open ${host.url}\n`);
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    const ok = await fetch(host.url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('SVA Lab');
    expect((await fetch(host.origin + '/')).status).toBe(403);
    stop();
    // after stopping, the port no longer answers
    await expect.poll(async () => fetch(host.url).then(() => 'up', () => 'down')).toBe('down');
  });

  it('loads a scenario file given with --file, and refuses an invalid one (exit 2) before listening', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\nsoc: { smmus: [] }\nsteps: []\n');
    const { io: tio, err } = io();
    expect(await serveCommand({ port: '0', host: '127.0.0.1', policy: 'mainline', file: bad }, tio, { rendererDir: dir })).toBe(2);
    expect(err.join('')).toMatch(/^invalid: .*smmus/);
  });

  it('refuses a bad port (exit 2)', async () => {
    const { io: tio, err } = io();
    expect(await main(['serve', '--port', 'eighty'], tio)).toBe(2);
    expect(err.join('')).toContain('--port must be an integer');
    expect(await main(['serve', '--port', '70000'], tio)).toBe(2);
  });
});
