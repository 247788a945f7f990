/**
 * The real CLI (bin/svalab.js over the compiled dist/), run as a child process against small scenario files.
 * Exit codes of `svalab run`: 0 every expectation holds, 1 one does not, 2 invalid input.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRY = join(ROOT, 'dist', 'src-main', 'cli', 'main.js');
let dir = '';

beforeAll(() => {
  if (!existsSync(ENTRY)) {
    // `npm test` builds first; when run alone, build once here.
    const b = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build failed:\n${b.stdout}${b.stderr}`);
  }
  dir = mkdtempSync(join(tmpdir(), 'svalab-cli-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function svalab(...args: string[]): { code: number | null; out: string; err: string; all: string } {
  const r = spawnSync(process.execPath, ['bin/svalab.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, all: r.stdout + r.stderr };
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const SOC = `soc:
  smmus:
    - { name: smmu0, ssidsize: 20 }
  devices:
    - { name: small, smmu: smmu0, sid: 0x10, pasid_bits: 2 }
    - { name: big, smmu: smmu0, sid: 0x20, pasid_bits: 20 }
`;

/** Mainline and rfc-v1 disagree on the last step: mainline -ENOSPC, the RFC PASID 1 from small's own array. */
const STARVED_STEPS = `steps:
  - bind: { process: p1, device: big }
    expect: { pasid: 1 }
  - bind: { process: p2, device: big }
    expect: { pasid: 2 }
  - bind: { process: p3, device: big }
  - bind: { process: p4, device: small }
    expect: { mainline: { error: ENOSPC }, rfc-v1: { pasid: 1 } }
`;

describe('svalab run: exit 0 / 1', () => {
  it('exits 0 when every expectation holds', () => {
    const f = write('ok.yaml', `name: starved\npolicy: mainline\n${SOC}${STARVED_STEPS}`);
    const r = svalab('run', f);
    expect(r.code).toBe(0);
    expect(r.out).toContain('1 passed, 0 failed');
    expect(r.out).toContain('[mainline]');
  });

  it('exits 1 when an expectation fails, naming the step number, what was expected and what came', () => {
    const f = write(
      'fail.yaml',
      `name: wrong\n${SOC}steps:\n  - bind: { process: p1, device: big }\n  - bind: { process: p2, device: big }\n    expect: { pasid: 5 }\n`,
    );
    const r = svalab('run', f);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL');
    expect(r.out).toMatch(/step 2 \(bind process=p2 device=big\)/);
    expect(r.out).toContain('expected pasid 5, got pasid 2');
    expect(r.out).toContain('0 passed, 1 failed');
  });

  it('exits 1 on an expected errno that does not come', () => {
    const f = write('errno.yaml', `name: errno\n${SOC}steps:\n  - bind: { process: p1, device: small }\n    expect: { error: ENOSPC }\n`);
    const r = svalab('run', f);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/step 1 .*got pasid 1/);
    expect(r.out).toContain('expected error ENOSPC, got pasid 1');
  });

  it('passes the issue example (test/fixtures/issue-example.yaml)', () => {
    const r = svalab('run', 'test/fixtures/issue-example.yaml');
    expect(r.code).toBe(0);
    expect(r.out).toContain('2 passed, 0 failed');
  });
});

describe('svalab run: exit 2 for invalid input', () => {
  it('a file that does not exist', () => {
    const f = join(dir, 'missing.yaml');
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('missing.yaml');
    expect(r.err).toContain('ENOENT');
  });

  it('a file that is not YAML', () => {
    const f = write('broken.yaml', 'name: x\nsteps: [ { bind: \n  : : ]\n\t- oops');
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('broken.yaml');
    expect(r.err).toContain('not valid YAML');
  });

  it('a .json file that is not JSON', () => {
    const f = write('broken.json', '{ "name": "x", "steps": [ ');
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('broken.json');
    expect(r.err).toContain('not valid JSON');
  });

  it('a valid JSON scenario runs like the YAML one', () => {
    const doc = {
      name: 'json ok',
      soc: { smmus: [{ name: 'smmu0' }], devices: [{ name: 'small', smmu: 'smmu0', sid: 16, pasid_bits: 2 }] },
      steps: [{ bind: { process: 'p1', device: 'small' }, expect: { pasid: 1 } }],
    };
    const r = svalab('run', write('good.json', JSON.stringify(doc)));
    expect(r.code).toBe(0);
  });

  it('a schema error names the file, steps[N] and the field', () => {
    const f = write('schema.yaml', `name: schema\n${SOC}steps:\n  - bind: { process: p1, device: big }\n  - bind: { process: p1 }\n`);
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('schema.yaml');
    expect(r.err).toContain('steps[1].bind.device');
  });

  it('a schema error in an expectation names its field', () => {
    const f = write('expect.yaml', `name: x\n${SOC}steps:\n  - bind: { process: p1, device: big }\n    expect: { error: EWHAT }\n`);
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('expect.yaml');
    expect(r.err).toContain('steps[0].expect.error');
  });

  it('an unknown operation', () => {
    const f = write('op.yaml', `name: op\n${SOC}steps:\n  - bind: { process: p1, device: big }\n  - frobnicate: { process: p1 }\n`);
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('op.yaml');
    expect(r.err).toContain('steps[1].frobnicate');
    expect(r.err).toContain("unknown operation 'frobnicate'");
  });

  it('an unknown device referenced by a step', () => {
    const f = write('dev.yaml', `name: dev\n${SOC}steps:\n  - bind: { process: p1, device: nosuch }\n`);
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('dev.yaml');
    expect(r.err).toContain('steps[0].bind.device');
    expect(r.err).toContain("unknown device 'nosuch'");
  });

  it('a step rejected at run time: a process used after it exited', () => {
    const f = write(
      'exited.yaml',
      `name: exited\n${SOC}steps:\n  - bind: { process: p1, device: big }\n  - exit: { process: p1 }\n  - bind: { process: p1, device: small }\n`,
    );
    const r = svalab('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('exited.yaml');
    expect(r.err).toContain('step 3');
    expect(r.err).toContain("process 'p1' has exited");
  });

  it('--policy with an unknown name', () => {
    const f = write('ok2.yaml', `name: ok2\n${SOC}${STARVED_STEPS}`);
    const r = svalab('run', '--policy', 'nonsense', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('nonsense');
  });

  it('one invalid file among valid ones still exits 2', () => {
    const good = write('good2.yaml', `name: good\n${SOC}${STARVED_STEPS}`);
    const r = svalab('run', good, join(dir, 'nope.yaml'));
    expect(r.code).toBe(2);
    expect(r.out).toContain('[mainline]');
  });
});

describe('svalab run: options', () => {
  it("--policy overrides the file's policy", () => {
    const f = write('pol.yaml', `name: pol\npolicy: mainline\n${SOC}${STARVED_STEPS}`);
    const r = svalab('run', '--policy', 'rfc-v1', f);
    expect(r.code).toBe(0);
    expect(r.out).toContain('[rfc-v1]');
    expect(r.out).not.toContain('[mainline]');
    // An expectation that only mainline meets fails under the overriding policy.
    const g = write('pol2.yaml', `name: pol2\npolicy: mainline\n${SOC}steps:\n  - bind: { process: p1, device: big }\n  - bind: { process: p2, device: big }\n  - bind: { process: p3, device: big }\n  - bind: { process: p4, device: small }\n    expect: { error: ENOSPC }\n`);
    expect(svalab('run', g).code).toBe(0);
    const r2 = svalab('run', '--policy', 'rfc-v1', g);
    expect(r2.code).toBe(1);
    expect(r2.out).toContain('expected error ENOSPC, got pasid 1');
  });

  it('--all-policies runs every scenario under the four policies', () => {
    const f = write('all.yaml', `name: all\npolicy: mainline\n${SOC}steps:\n  - bind: { process: p1, device: big }\n    expect: { ok: true }\n`);
    const r = svalab('run', '--all-policies', f);
    expect(r.code).toBe(0);
    for (const p of ['mainline', 'rfc-v1', 'arch-gated', 'driver-pasid']) expect(r.out).toContain(`[${p}]`);
    expect(r.out).toContain('4 passed, 0 failed');
  });

  it('--json prints one JSON document with the passed/failed counts', () => {
    const f = write(
      'j.yaml',
      `name: j\npolicy: [mainline, rfc-v1]\n${SOC}steps:\n  - bind: { process: p1, device: big }\n  - bind: { process: p2, device: big }\n    expect: { mainline: { pasid: 2 }, rfc-v1: { pasid: 9 } }\n`,
    );
    const r = svalab('run', '--json', f);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out);
    expect(doc).toMatchObject({ passed: 1, failed: 1, exit: 1 });
    expect(doc.files[0].runs.map((x: { policy: string; passed: boolean }) => [x.policy, x.passed])).toEqual([
      ['mainline', true],
      ['rfc-v1', false],
    ]);
    const ok = svalab('run', '--json', '--policy', 'mainline', f);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ passed: 1, failed: 0, exit: 0 });
  });
});
