/**
 * `npm start` after the build: runs the desktop app under Electron when Electron's binary can be had, and otherwise
 * says so in one line and points to the web host. Plain Node (no 'electron' import).
 *
 * The `electron` package (v42+) has no install script: its binary is downloaded the first time it runs. So: use
 * ELECTRON_OVERRIDE_DIST_PATH or the binary already in node_modules/electron/dist, else try its install.js once
 * (quietly; a note if it takes a while), else give up with the one line. Giving up exits 0: the web host is the
 * documented way to use the lab on such a machine, and a non-zero exit would add npm's own error lines.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../lab/paths.js';

export const NO_ELECTRON = "svalab: Electron's binary is not available on this machine (its download failed); run `npm run web` to use the lab in a browser";

/** The Electron executable, or null when it is not there (no download attempted). */
export function electronBinary(electronDir: string, env: NodeJS.ProcessEnv = process.env): string | null {
  let name: string | null = null;
  try {
    name = readFileSync(join(electronDir, 'path.txt'), 'utf8').trim() || null;
  } catch {
    // not downloaded yet
  }
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = join(env.ELECTRON_OVERRIDE_DIST_PATH, name ?? 'electron');
    return existsSync(p) ? p : null;
  }
  if (!name) return null;
  const p = join(electronDir, 'dist', name);
  return existsSync(p) ? p : null;
}

/** Runs the package's install.js (the download); resolves true when it succeeded. */
function download(electronDir: string, say: (s: string) => void): Promise<boolean> {
  const script = join(electronDir, 'install.js');
  if (!existsSync(script)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], { stdio: 'ignore' });
    const slow = setTimeout(() => say("svalab: downloading Electron's binary (first run)...\n"), 3000);
    child.on('error', () => {
      clearTimeout(slow);
      resolve(false);
    });
    child.on('exit', (code) => {
      clearTimeout(slow);
      resolve(code === 0);
    });
  });
}

export interface LaunchOptions {
  electronDir?: string;
  mainScript?: string;
  env?: NodeJS.ProcessEnv;
  out?: (s: string) => void;
  /** Runs Electron; resolves with its exit code (tests replace it). */
  run?: (binary: string, args: string[]) => Promise<number>;
}

const runInherit = (binary: string, args: string[]): Promise<number> =>
  new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', () => resolve(1));
    child.on('exit', (code) => resolve(code ?? 1));
  });

export async function launch(opts: LaunchOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? ((s: string) => void process.stderr.write(s));
  const electronDir = opts.electronDir ?? join(packageRoot(), 'node_modules', 'electron');
  const mainScript = opts.mainScript ?? join(dirname(fileURLToPath(import.meta.url)), 'main.js');
  let binary = electronBinary(electronDir, env);
  if (!binary && !env.ELECTRON_OVERRIDE_DIST_PATH && (await download(electronDir, out))) binary = electronBinary(electronDir, env);
  if (!binary) {
    out(NO_ELECTRON + '\n');
    return 0;
  }
  if (process.platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
    out('svalab: no display (DISPLAY and WAYLAND_DISPLAY are unset); run `npm run web` to use the lab in a browser\n');
    return 0;
  }
  return (opts.run ?? runInherit)(binary, [mainScript]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await launch();
