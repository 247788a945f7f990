/**
 * Starts the web host (`node bin/svalab.js serve --port 0`) for a test file and reads the address it prints.
 * Needs the CLI built (dist/, `npm run build`) and the renderer built (dist-renderer/, `npm run build:renderer`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Page } from '@playwright/test';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHOTS = join(ROOT, 'reports', 'screenshots');

export interface Host {
  url: string;
  origin: string;
  token: string;
  stop(): Promise<void>;
}

export async function startHost(args: string[] = []): Promise<Host> {
  for (const need of ['dist/src-main/cli/main.js', 'dist-renderer/index.html']) {
    if (!existsSync(join(ROOT, need))) throw new Error(`${need} is missing: run npm run build && npm run build:renderer first`);
  }
  mkdirSync(SHOTS, { recursive: true });
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin', 'svalab.js'), 'serve', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /open (http:\/\/\S+\?token=\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`svalab serve exited with ${code}: ${err || out}`)));
  });
  const u = new URL(url);
  return {
    url,
    origin: u.origin,
    token: u.searchParams.get('token')!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Opens the bench at `url` and waits until it can take a step. Returns the page's errors (uncaught exceptions and
 * console errors, a CSP block among them), collected from before the load on: tests expect it to stay empty.
 */
export async function openBench(page: Page, url: string): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  await expect(page.getByTestId('step')).toBeVisible();
  return errors;
}
