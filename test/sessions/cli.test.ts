/**
 * Sessions through the real CLI (node bin/svalab.js over the compiled dist/): `svalab convert` both ways, and
 * `svalab run SESSION.svalab` as a regression test: exit 0 when every step gives its recorded result, 1 with the
 * divergent steps listed, 2 for an invalid file; under another policy the divergences are listed and the exit is 0.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ensureBuilt, svalab } from './helpers.js';

let dir = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'svalab-sessions-cli-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const SCENARIO = `name: starved accelerator
description: |
  The seed: the kernel PASIDs took 1..3.
policy: mainline
soc:
  smmus: [{ name: smmu0 }]
  devices:
    - { name: accel, smmu: smmu0, sid: 0x10, pasid_bits: 2, stall: true, driver_pasid: true }
    - { name: dsa0, kind: dsa, smmu: smmu0, sid: 0x100, pasid_bits: 20, kernel_pasid: true }
    - { name: dsa1, kind: dsa, smmu: smmu0, sid: 0x108, pasid_bits: 20, kernel_pasid: true }
    - { name: iax0, kind: iaa, smmu: smmu0, sid: 0x110, pasid_bits: 20, kernel_pasid: true }
steps:
  - bind: { process: app, device: dsa0 }
  - bind: { process: app, device: accel }
    note: the accelerator has SSIDs 1..3 only
  - alloc_global_pasid: { device: dsa1 }
  - exit: { process: app }
`;

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('svalab convert and run', () => {
  let session = '';

  beforeAll(() => {
    const scenario = write('seed.yaml', SCENARIO);
    session = join(dir, 'seed.svalab');
    const r = svalab('convert', scenario, session);
    if (r.code !== 0) throw new Error(r.all);
  });

  it('convert records the scenario as a session (results from running it, notes from name and description)', () => {
    const s = JSON.parse(readFileSync(session, 'utf8'));
    expect(s).toMatchObject({ format: 'svalab-session', version: 1, policy: 'mainline', notes: 'starved accelerator\n\nThe seed: the kernel PASIDs took 1..3.' });
    expect(s.steps).toHaveLength(4);
    expect(s.steps[0].result).toEqual({ ok: true, pasid: 4 });
    expect(s.steps[1]).toMatchObject({ result: { ok: false, errno: 'EOVERFLOW' }, note: 'the accelerator has SSIDs 1..3 only' });
  });

  it('run: exit 0 when every step gives its recorded result', () => {
    const r = svalab('run', session);
    expect(r.code, r.all).toBe(0);
    expect(r.out).toMatch(/^ok {3}.*seed\.svalab \[mainline\] session replays as recorded \(4 steps\)/m);
  });

  it('run: exit 1 when a step diverges, listing the step, what was recorded and what came', () => {
    const s = JSON.parse(readFileSync(session, 'utf8'));
    s.steps[0].result.pasid = 7;
    s.steps[1].result = { ok: true, pasid: 1 };
    const bad = write('tampered.svalab', JSON.stringify(s));
    const r = svalab('run', bad);
    expect(r.code, r.all).toBe(1);
    expect(r.out).toMatch(/FAIL .*tampered\.svalab \[mainline\] session: 2 of 4 step\(s\) diverge/);
    expect(r.out).toContain('step 1 (bind process=app device=dsa0): pasid: recorded 7, got 4');
    expect(r.out).toContain('step 2 (bind process=app device=accel): recorded success, pasid 1, got EOVERFLOW');
  });

  it('run --policy P: replays under another policy and lists the divergences step by step, exit 0', () => {
    const r = svalab('run', '--policy', 'arch-gated', session);
    expect(r.code, r.all).toBe(0);
    expect(r.out).toMatch(/diff .*seed\.svalab \[arch-gated\] 3 of 4 step\(s\) diverge from the recording under mainline/);
    expect(r.out).toContain('step 1 (bind process=app device=dsa0): pasid: recorded 4, got 2');
    expect(r.out).toContain('step 2 (bind process=app device=accel): recorded EOVERFLOW, got success, pasid 1');
    const d = svalab('run', '--policy', 'driver-pasid', session);
    expect(d.code).toBe(0);
    expect(d.out).toContain('step 2 (bind process=app device=accel): errno: recorded EOVERFLOW, got EBUSY');
    const all = svalab('run', '--all-policies', '--json', session);
    expect(all.code, all.all).toBe(0);
    const report = JSON.parse(all.out);
    expect(report.sessions[0].runs.map((x: { policy: string }) => x.policy)).toEqual(['mainline', 'rfc-v1', 'arch-gated', 'driver-pasid']);
    expect(report.sessions[0].runs[0]).toMatchObject({ passed: true, divergences: [] });
  });

  it('run: exit 2 for an invalid session, naming the problem and where', () => {
    const s = JSON.parse(readFileSync(session, 'utf8'));
    s.steps[2].step.alloc_global_pasid.device = 'gone';
    const r = svalab('run', write('badref.svalab', JSON.stringify(s)));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/invalid: .*badref\.svalab: a step refers to something that does not exist: steps\[2\]\.step\.alloc_global_pasid\.device: unknown device 'gone'/);
    const t = svalab('run', write('cut.svalab', readFileSync(session, 'utf8').slice(0, 300)));
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/the file is truncated: line \d+, column \d+/);
    const n = svalab('run', write('newer.svalab', JSON.stringify({ ...JSON.parse(readFileSync(session, 'utf8')), version: 99 })));
    expect(n.code).toBe(2);
    expect(n.err).toMatch(/newer SVA Lab/);
  });

  it('a session saved as .json is recognised by its format field; directories include .svalab files', () => {
    const j = write('as-json.json', readFileSync(session, 'utf8'));
    expect(svalab('run', j).code).toBe(0);
    const sub = mkdtempSync(join(dir, 'suite-'));
    writeFileSync(join(sub, 'a.svalab'), readFileSync(session, 'utf8'));
    writeFileSync(join(sub, 'b.yaml'), SCENARIO);
    const r = svalab('run', sub);
    expect(r.code, r.all).toBe(0);
    expect(r.out).toMatch(/2 passed, 0 failed/);
  });

  it('convert a session back to a scenario whose expectations are the recorded results; it passes, and converts again to the same steps', () => {
    // a session made in the app may free a kernel PASID by the name the lab gave it (k1)
    const withFree = JSON.parse(readFileSync(session, 'utf8'));
    withFree.steps.push({ step: { free_global_pasid: { name: 'k1' } }, result: { ok: true }, findings: [] });
    const session2 = write('with-free.svalab', JSON.stringify(withFree));
    expect(svalab('run', session2).code).toBe(0);
    const yamlPath = join(dir, 'back.yaml');
    const c = svalab('convert', session2, yamlPath);
    expect(c.code, c.all).toBe(0);
    const doc = parseYaml(readFileSync(yamlPath, 'utf8'));
    expect(doc).toMatchObject({ name: 'starved accelerator', description: 'The seed: the kernel PASIDs took 1..3.', policy: 'mainline' });
    expect(doc.steps[1]).toEqual({ bind: { process: 'app', device: 'accel' }, expect: { ok: false, error: 'EOVERFLOW' }, note: 'the accelerator has SSIDs 1..3 only' });
    // the lab's own name for the kernel PASID is written out, as a scenario must name what it frees
    expect(doc.steps[2]).toMatchObject({ alloc_global_pasid: { device: 'dsa1', as: 'k1' }, expect: { ok: true, pasid: 5 } });
    const run = svalab('run', '--strict', yamlPath);
    expect(run.code, run.all).toBe(0);
    const again = join(dir, 'again.svalab');
    expect(svalab('convert', yamlPath, again).code).toBe(0);
    const a = JSON.parse(readFileSync(session2, 'utf8'));
    const b = JSON.parse(readFileSync(again, 'utf8'));
    expect(b.steps.map((s: { result: unknown }) => s.result)).toEqual(a.steps.map((s: { result: unknown }) => s.result));
    // JSON output when OUT ends in .json; an existing OUT needs --force
    expect(svalab('convert', session, join(dir, 'back.json')).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'back.json'), 'utf8')).steps).toHaveLength(4);
    expect(doc.steps).toHaveLength(5);
    const again2 = svalab('convert', session, yamlPath);
    expect(again2.code).toBe(2);
    expect(again2.err).toMatch(/exists; give --force/);
    expect(svalab('convert', '--force', session, yamlPath).code).toBe(0);
  });

  it('a session saved at an earlier position (steps left to redo) still replays and converts every step', () => {
    const s = JSON.parse(readFileSync(session, 'utf8'));
    s.position = 1;
    const p = write('positioned.svalab', JSON.stringify(s));
    expect(svalab('run', p).code).toBe(0);
    const out = join(dir, 'positioned.yaml');
    expect(svalab('convert', p, out).code).toBe(0);
    expect(parseYaml(readFileSync(out, 'utf8')).steps).toHaveLength(4);
  });

  it('convert refuses a scenario that does not apply, and a bad input file', () => {
    const bad = write('bad.yaml', SCENARIO.replace('- exit: { process: app }', '- unbind: { process: nobody, device: dsa0 }'));
    const r = svalab('convert', bad, join(dir, 'x.svalab'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/step 4: no process named 'nobody'/);
    expect(svalab('convert', write('junk.svalab', '{"format": "svalab-session", "version": 1'), join(dir, 'y.yaml')).code).toBe(2);
  });
});
