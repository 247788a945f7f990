/**
 * The survivors bench tool (test/bench/survivors.ts): its arguments are validated with a message naming what is
 * wrong, and a run attributes every sampled byte to a row, largest first.
 */
import { describe, expect, it } from 'vitest';
import { parseSurvivors, survivors, UsageError } from '../bench/survivors.js';

describe('bench survivors arguments', () => {
  it('defaults, and takes what it is given', () => {
    expect(parseSurvivors([])).toEqual({ policy: 'mainline', processes: 10_000, pairs: 200_000, depth: 1, top: 20 });
    expect(parseSurvivors(['--policy', 'arch-gated', '--pairs', '500', '--depth', '3'])).toMatchObject({ policy: 'arch-gated', pairs: 500, depth: 3 });
  });

  it.each([
    [['--policy', 'rfc'], /--policy: 'rfc' is not one of mainline/],
    [['--pairs', '0'], /--pairs: 0 is outside \[1, /],
    [['--top', '2.5'], /--top: '2.5' is not a whole number/],
    [['--depth', '51'], /--depth: 51 is outside \[1, 50\]/],
    [['--speed', '3'], /speed/],
    [['extra'], /extra/],
  ])('refuses %j', (argv, msg) => {
    expect(() => parseSurvivors(argv)).toThrow(UsageError);
    expect(() => parseSurvivors(argv)).toThrow(msg);
  });
});

describe('bench survivors run', () => {
  it('gives every sampled byte to one row, largest first, per pair', async () => {
    const r = await survivors({ policy: 'mainline', processes: 200, pairs: 3000, depth: 2, top: 1000 });
    expect(r.bytesPerPair).toBeGreaterThanOrEqual(0);
    const sum = r.rows.reduce((a, [, b]) => a + b, 0);
    expect(sum).toBeCloseTo(r.bytesPerPair, 6);
    for (let i = 1; i < r.rows.length; i++) expect(r.rows[i - 1]![1]).toBeGreaterThanOrEqual(r.rows[i]![1]);
    for (const [k] of r.rows) expect(k.split(' < ').length).toBeLessThanOrEqual(2);
  });
});
