/**
 * Where the package lives, found from this file whether it runs compiled (dist/src-main/lab/) or from source
 * (src-main/lab/ under vitest): the nearest directory upwards holding svalab's package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: { root: string; version: string } | null = null;

function find(): { root: string; version: string } {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        const p = JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown; version?: unknown };
        if (p.name === 'svalab') return (cached = { root: dir, version: typeof p.version === 'string' ? p.version : 'dev' });
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('svalab: cannot find the package root (package.json named svalab)');
    dir = up;
  }
}

export const packageRoot = (): string => find().root;
export const packageVersion = (): string => find().version;
/** The built renderer (vite.config.ts outDir). */
export const rendererDir = (): string => join(packageRoot(), 'dist-renderer');
