/**
 * The A/B bench tool (test/bench/ab.ts): its arguments are validated with a message naming what is wrong, and a run
 * of a build against itself gives one rate per repetition for each side.
 */
import { describe, expect, it } from 'vitest';
import { parseAb, runAb, UsageError } from '../bench/ab.js';

describe('bench A/B arguments', () => {
  it('takes two builds and defaults the rest', () => {
    const r = parseAb(['x', 'y']);
    expect(r).toEqual({ a: 'x', b: 'y', opts: { policy: 'mainline', reps: 20, pairs: 20_000, processes: 10_000, devices: 100 } });
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
  ])('refuses %j', (argv, msg) => {
    expect(() => parseAb(argv)).toThrow(UsageError);
    expect(() => parseAb(argv)).toThrow(msg);
  });
});

describe('bench A/B run', () => {
  it('refuses a directory without a compiled bench, naming the build', async () => {
    await expect(runAb('.', 'test', { policy: 'mainline', reps: 2, pairs: 100, processes: 10, devices: 2 })).rejects.toThrow(/build B: 'test' holds no compiled bench/);
  });

  it('runs the same pairs on both sides, one rate per repetition', async () => {
    const r = await runAb('.', '.', { policy: 'mainline', reps: 3, pairs: 200, processes: 20, devices: 4 });
    expect(r.a).toHaveLength(3);
    expect(r.b).toHaveLength(3);
    expect(r.ratios).toEqual(r.b.map((v, i) => v / r.a[i]!));
    for (const v of [...r.a, ...r.b]) expect(v).toBeGreaterThan(0);
  });
});
