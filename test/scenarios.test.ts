/**
 * The scenario suite (kernel-semantics S1-S13 and the RFC's R1-R7) through the real CLI: every file passes under
 * the policies it names with --strict (no unexpected invariant violation), and under all four policies.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const dir = join(root, 'scenarios');
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

function svalab(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'svalab.js'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('scenario suite', () => {
  it('holds the named cases of kernel-semantics.md', () => {
    const names = files.map((f) => f.split('-')[0]);
    for (const id of ['s01', 's02', 's03', 's04', 's05', 's06', 's07', 's08', 's09', 's11', 's12', 's13', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']) {
      expect(names, `a scenario file for ${id}`).toContain(id);
    }
  });

  for (const f of files) {
    it(`${f} passes under its own policies, strictly`, () => {
      const r = svalab('run', '--strict', '--quiet', join('scenarios', f));
      expect(r.out).not.toMatch(/FAIL|invalid/);
      expect(r.status, r.out).toBe(0);
    });
    it(`${f} passes under all four policies`, () => {
      const r = svalab('run', '--all-policies', '--quiet', join('scenarios', f));
      expect(r.status, r.out).toBe(0);
      expect(r.out).toMatch(/^4 passed, 0 failed$/m);
    });
  }
});
