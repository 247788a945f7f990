/**
 * The electron-builder configuration: what it packs must be what the app needs at run time. The real packaging run
 * (`npm run package:dir`) needs an unpacked Electron; it is exercised when ELECTRON_DIST points at one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import config from '../../electron.config.js';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string; scripts: Record<string, string> };

describe('electron-builder configuration', () => {
  it('packs the compiled main process, its preload and the built renderer, and names the entry point', () => {
    const files = config.files as string[];
    expect(files).toEqual(expect.arrayContaining(['dist/src-main/**/*', 'dist/shared/**/*', 'dist-renderer/**/*', 'package.json']));
    expect(pkg.main).toBe('dist/src-main/host/electron/main.js');
    // The entry point and the preload it loads exist after the build the package scripts run first.
    expect(existsSync(join(root, pkg.main))).toBe(true);
    expect(existsSync(join(root, 'dist/src-main/host/electron/preload.cjs'))).toBe(true);
    expect(pkg.scripts.package).toMatch(/electron-builder --config electron\.config\.ts/);
    expect(pkg.scripts['package:dir']).toMatch(/--dir/);
  });

  it('builds Linux AppImage and deb packages under the app id', () => {
    expect(config.appId).toBe('org.svalab.SvaLab');
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.linux?.category).toBe('Development');
  });

  it.skipIf(!process.env.ELECTRON_DIST)('packages the unpacked app with the Electron in ELECTRON_DIST', () => {
    const r = spawnSync('npm', ['run', '-s', 'package:dir'], { cwd: root, encoding: 'utf8', env: process.env });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(existsSync(join(root, 'release', 'linux-unpacked', 'resources', 'app.asar'))).toBe(true);
  });
});
