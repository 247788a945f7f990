/**
 * The A/B bench tool (test/bench/ab.ts): its arguments are validated with a message naming what is wrong, and a run
 * of a build against itself gives one rate per repetition for each side.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAb, runAb, UsageError } from '../bench/ab.js';

describe('bench A/B arguments', () => {
  it('takes two builds and defaults the rest', () => {
    const r = parseAb(['x', 'y']);
    expect(r).toEqual({ a: 'x', b: 'y', opts: { policy: 'mainline', reps: 20, pairs: 20_000, processes: 10_000, devices: 100, check: false, touched: false } });
    expect(parseAb(['x', 'y', '--check', '--touched']).opts).toMatchObject({ check: true, touched: true });
    expect(parseAb(['x', 'y', '--policy', 'arch-gated', '--reps', '4']).opts).toMatchObject({ policy: 'arch-gated', reps: 4 });
  });

  it.each([
    [['x'], /expected two builds, got 1/],
    [['x', 'y', 'z'], /expected two builds, got 3/],
    [['x', 'y', '--policy', 'rfc'], /--policy: 'rfc' is not one of mainline/],
    [['x', 'y', '--reps', '1.5'], /--reps: '1.5' is not a whole number/],
    [['x', 'y', '--reps', '1'], /--reps: 1 is outside \[2, 1000\]/],
    [['x', 'y', '--devices', '0'], /--devices: 0 is outside/],
    [['x', 'y', '--speed', '3'], /speed/],
    [['x', 'y', '--check=yes'], /check/],
  ])('refuses %j', (argv, msg) => {
    expect(() => parseAb(argv)).toThrow(UsageError);
    expect(() => parseAb(argv)).toThrow(msg);
  });
});

describe('bench A/B run', () => {
  it('refuses a directory without a compiled bench, naming the build', async () => {
    await expect(runAb('.', 'test', { policy: 'mainline', reps: 2, pairs: 100, processes: 10, devices: 2, check: false, touched: false })).rejects.toThrow(/build B: 'test' holds no compiled bench/);
  });

  it('runs the same pairs on both sides, one rate per repetition', async () => {
    const r = await runAb('.', '.', { policy: 'mainline', reps: 3, pairs: 200, processes: 20, devices: 4, check: true, touched: true });
    expect(r.a).toHaveLength(3);
    expect(r.b).toHaveLength(3);
    expect(r.ratios).toEqual(r.b.map((v, i) => v / r.a[i]!));
    for (const v of [...r.a, ...r.b]) expect(v).toBeGreaterThan(0);
  });
});

describe('bench row child (test/bench/sva-child.ts)', () => {
  const child = fileURLToPath(new URL('../../dist/test/bench/sva-child.js', import.meta.url));

  it('populates and times one row in its own process and replies with one JSON line', () => {
    const req = { workload: { policy: 'arch-gated', check: false, trace: false, touched: false, processes: 30, devices: 3 }, seed: 7, opts: { warmupSecs: 0.01, reps: 2, targetSecs: 0.01, minPairs: 100, maxPairs: 200 } };
    const r = spawnSync(process.execPath, [child, JSON.stringify(req)], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const reply = JSON.parse(r.stdout.trim()) as { populate: { bindOk: number; liveBonds: number }; result: { rates: number[]; pairsPerRep: number; bindOkFraction: number } };
    expect(reply.populate).toMatchObject({ bindOk: 30, liveBonds: 30 });
    expect(reply.result.rates).toHaveLength(2);
    expect(reply.result.pairsPerRep).toBeGreaterThanOrEqual(100);
    expect(reply.result.bindOkFraction).toBe(1);
  });

  it('refuses a request it cannot read, with exit status 2 and its usage', () => {
    const r = spawnSync(process.execPath, [child, '{"seed": 1}'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: node sva-child.js/);
  });
});
