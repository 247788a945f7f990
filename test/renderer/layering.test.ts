// @vitest-environment node
// design.md "Layers": the renderer imports shared/ and nothing from src-main/, and nothing Node- or Electron-only.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const RENDERER = join(ROOT, 'src-renderer');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|svelte)$/.test(f) && !f.endsWith('.d.ts') ? [p] : [];
  });
}

const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

describe('renderer layering', () => {
  const all = files(RENDERER);

  it('finds the renderer sources', () => {
    expect(all.length).toBeGreaterThan(10);
  });

  it('imports only its own files, shared/, svelte, zod and the virtual list', () => {
    const bad: string[] = [];
    for (const f of all) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (spec.startsWith('.')) {
          const target = resolve(f, '..', spec);
          const inside = target.startsWith(RENDERER + '/') || target.startsWith(join(ROOT, 'shared') + '/');
          if (!inside) bad.push(`${relative(ROOT, f)} -> ${spec}`);
        } else if (!/^(svelte(\/.*)?|zod)$/.test(spec)) bad.push(`${relative(ROOT, f)} -> ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
