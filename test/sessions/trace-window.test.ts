/**
 * Traces outside the lab's trace window are dropped and regenerated on demand (lab.ts). Determinism is what makes
 * that sound: a regenerated trace must equal the one recorded when the step was applied, under every policy, after
 * time travel, and in one-pass ranges.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { POLICY_NAMES } from '../../shared/steps.js';
import { Lab } from '../../src-main/lab/lab.js';
import { opArb, SMALL_SOC } from './helpers.js';

const traces = (l: Lab): string => JSON.stringify(l.records.map((r) => l.traceOf(r)));
/** What hosts read of a step's touched sets (patch.ts addTouched): names, labels, owners, ASIDs. */
const touchedNames = (l: Lab): string =>
  JSON.stringify(
    l.records.map((r) => l.touchedOf(r)).map((t) => [t.devices, t.groups, t.processes, t.mms.map((m) => [m.label, m.owner.name]), t.domains.map((d) => [d.label, d.smmuDomain?.asid ?? null]), t.bonds.map((h) => h.label), t.pasids, t.slots, t.cds]),
  );
const keptCount = (l: Lab): number => l.records.filter((r) => l.holds(r)).length;

describe('trace and touched window', () => {
  it.each(POLICY_NAMES)('regenerates dropped traces identically (%s)', (policy) => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 30, maxLength: 120 }), fc.integer({ min: 0, max: 1000 }), (ops, at) => {
        const full = new Lab(SMALL_SOC, policy, { traceWindow: 1e9 });
        const windowed = new Lab(SMALL_SOC, policy, { traceWindow: 5, checkpoints: { every: 16, maxReplayMs: 1e9, takeShare: 1 } });
        for (const op of ops) {
          full.apply(op);
          windowed.apply(op);
        }
        const n = windowed.records.length;
        // The window really drops traces: only the last 5 are held...
        expect(keptCount(windowed)).toBe(Math.min(n, 5));
        // ... and every dropped one comes back equal to the one recorded, one by one and in one pass.
        expect(traces(windowed)).toBe(traces(full));
        expect(JSON.stringify([...windowed.traces(0, n)])).toBe(traces(full));
        // Touched sets dropped on leaving the window come back (replayed) as the same names.
        expect(touchedNames(windowed)).toBe(touchedNames(full));
        // After a jump back, the steps ahead (redo) and behind still regenerate, and the live lab is unchanged.
        const k = n ? at % n : 0;
        windowed.jumpTo(k);
        // Time travel leaves no kept traces behind: at most the window's, counting the steps ahead.
        const keptAhead = windowed.redoSteps().filter((r) => windowed.holds(r)).length;
        expect(keptCount(windowed) + keptAhead).toBeLessThanOrEqual(5);
        const ahead = JSON.stringify([...windowed.traces(0, n)]);
        expect(ahead).toBe(traces(full));
        expect(JSON.stringify(windowed.redoSteps().map((r) => windowed.traceOf(r)))).toBe(JSON.stringify(full.records.slice(k).map((r) => full.traceOf(r))));
        windowed.jumpTo(n);
        expect(traces(windowed)).toBe(traces(full));
        expect(touchedNames(windowed)).toBe(touchedNames(full));
        expect(JSON.stringify(windowed.view())).toBe(JSON.stringify(full.view()));
      }),
      { numRuns: 12, seed: 0x7ace },
    );
  });

  it('regenerates dropped touched sets from boot in a lab without checkpoints, and returns none in a lab that keeps none', () => {
    const ops = ['big', 'fnA', 'big'].flatMap((d, i) => [
      { op: 'bind' as const, args: { process: `p${i}`, device: d } },
      { op: 'fork' as const, args: { process: `p${i}`, child: `c${i}` } },
      { op: 'unbind' as const, args: { process: `p${i}`, device: d } },
    ]);
    const full = new Lab(SMALL_SOC, 'mainline', { traceWindow: 1e9 });
    const windowed = new Lab(SMALL_SOC, 'mainline', { traceWindow: 2, checkpoints: false });
    const none = new Lab(SMALL_SOC, 'mainline', { traceWindow: 2, touched: false });
    for (const op of ops) for (const l of [full, windowed, none]) expect(l.apply(op).result.rejected).toBeUndefined();
    expect(touchedNames(windowed)).toBe(touchedNames(full));
    expect(full.touchedOf(full.records.at(0)!).bonds.length).toBe(1); // the comparison is not between empty sets
    expect(none.records.every((r) => none.touchedOf(r).devices.length === 0 && none.touchedOf(r).bonds.length === 0)).toBe(true);
  });

  it('refuses the trace of a step that left the timeline, and bad ranges', () => {
    const lab = new Lab(SMALL_SOC, 'mainline', { traceWindow: 1 });
    lab.apply({ op: 'bind', args: { process: 'p0', device: 'big' } });
    lab.apply({ op: 'bind', args: { process: 'p1', device: 'big' } });
    const first = lab.records.at(0)!;
    expect(lab.traceOf(first).length).toBeGreaterThan(0);
    lab.jumpTo(0);
    lab.apply({ op: 'spawn', args: { process: 'p9' } }); // a new branch: the old steps are gone
    expect(() => lab.traceOf(first)).toThrow(/no longer on the lab's timeline/);
    expect(() => lab.touchedOf(first)).toThrow(/no longer on the lab's timeline/);
    expect(() => [...lab.traces(0, 5)]).toThrow(RangeError);
  });

  it('takes a record of a step a new branch replaced by an equal step as that step (records are compared by value)', () => {
    const lab = new Lab(SMALL_SOC, 'mainline', { traceWindow: 1 });
    lab.apply({ op: 'bind', args: { process: 'p0', device: 'big' } });
    lab.apply({ op: 'bind', args: { process: 'p1', device: 'big' } });
    const first = lab.records.at(0)!;
    const trace = lab.traceOf(first);
    lab.jumpTo(0);
    lab.apply({ op: 'bind', args: { process: 'p0', device: 'big' } }); // the same step again, on a new branch
    lab.apply({ op: 'bind', args: { process: 'p2', device: 'big' } });
    expect(lab.holds(first)).toBe(false);
    expect(lab.traceOf(first)).toEqual(trace);
  });
});
