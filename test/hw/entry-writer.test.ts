/**
 * The hitless update (arm_smmu_write_entry) in the spirit of the kernel's arm-smmu-v3-test.c:
 *  - every KUnit case, with the KUnit suite's entries, sync counts and "invalid entry written" expectations, and the
 *    KUnit check at each sync (the entry equals the initial or the target one in the bits the current entry uses);
 *  - a property over random pairs of realistic STEs and CDs: at every 64-bit store, the entry the hardware could
 *    fetch equals the old or the new entry in the bits it uses (used bits of that state), or is invalid (V = 0)
 *    and then only on the disruptive path or when the old/new entry is itself invalid; the final entry is the
 *    target; the result names the branch the kernel takes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cdUsedBits, cdUsedBitsShared, encodeCd } from '../../src-main/sim/hw/cd.js';
import { entryQwordDiff, planEntryWrite, planSyncs, targetSetsUnusedBits, writeEntry } from '../../src-main/sim/hw/entry-writer.js';
import { S1DSS, S1FMT, steUsedBits } from '../../src-main/sim/hw/ste.js';
import {
  KUNIT_SMMU,
  makeAbortSte,
  makeBypassSte,
  makeCdtableSte,
  makeS1Cd,
  makeS2Ste,
  makeSvaCd,
  type SmmuFeat,
} from './kernel-entries.js';

type Used = (w: Uint32Array) => Uint32Array;

interface Run {
  result: ReturnType<typeof writeEntry>;
  states: Uint32Array[];
  /** The entry at each sync. */
  synced: Uint32Array[];
  final: Uint32Array;
}

function run(cur: Uint32Array, target: Uint32Array, used: Used): Run {
  const states: Uint32Array[] = [];
  const synced: Uint32Array[] = [];
  let mem: Uint32Array = cur.slice();
  const result = writeEntry(
    cur,
    target,
    used,
    (next) => {
      mem = next;
      states.push(next);
    },
    () => synced.push(mem.slice()),
  );
  return { result, states, synced, final: mem };
}

/** arm_smmu_entry_differs_in_used_bits() of the KUnit test: compares (entry & used) with the raw target. */
function differsInUsedBits(entry: Uint32Array, used: Uint32Array, target: Uint32Array): boolean {
  for (let i = 0; i < 16; i++) if ((entry[i]! & used[i]!) >>> 0 !== target[i]) return true;
  return false;
}

/** Equal in the bits `used` marks. */
function eqUsed(a: Uint32Array, b: Uint32Array, used: Uint32Array): boolean {
  for (let i = 0; i < 16; i++) if (((a[i]! ^ b[i]!) & used[i]!) >>> 0 !== 0) return false;
  return true;
}

/** arm_smmu_v3_test_{ste,cd}_expect_transition(). */
function expectTransition(
  cur: Uint32Array,
  target: Uint32Array,
  used: Used,
  numSyncs: number,
  hitless: boolean,
): Run {
  const r = run(cur, target, used);
  let invalidEntryWritten = false;
  for (const e of r.synced) {
    if (e[0] === 0 && e[1] === 0) {
      invalidEntryWritten = true;
    } else {
      const u = used(e);
      expect(differsInUsedBits(e, u, cur) && differsInUsedBits(e, u, target)).toBe(false);
    }
  }
  expect(invalidEntryWritten).toBe(!hitless);
  expect(r.synced).toHaveLength(numSyncs);
  expect(Array.from(r.final)).toEqual(Array.from(target));
  expect(cur).not.toBe(r.final);
  return r;
}

// The KUnit suite's entries (arm-smmu-v3-test.c).
const FAKE_CDTAB_DMA = 0xf0f0f0f0f0f0;
/** The suite's 0xdaedbeefdeadbeef ttbr/vttbr, already masked to [51:4] (it does not fit a double exactly). */
const VTTBR = 0x000d_beef_dead_bee0;
const ATS = { ats: true, stall: false };
const STALL = { ats: false, stall: true };
const bypassSte = makeBypassSte(KUNIT_SMMU);
const abortSte = makeAbortSte();
function cdtableSte(s1dss: number, dma: number, feat: { ats: boolean; stall: boolean }): Uint32Array {
  return makeCdtableSte(
    KUNIT_SMMU,
    { cdtabDma: dma, s1cdmax: 0xff, s1fmt: S1FMT.L2_64K },
    { stallEnabled: feat.stall },
    feat.ats,
    s1dss,
  );
}
function s2Ste(feat: { ats: boolean; stall: boolean }): Uint32Array {
  return makeS2Ste(
    KUNIT_SMMU,
    { vmid: 0, vttbr: VTTBR, vtcr: { ps: 1, tg: 2, sh: 3, orgn: 1, irgn: 2, sl: 3, tsz: 4 } },
    { stallEnabled: feat.stall },
    feat.ats,
  );
}
function s1Cd(asid: number): Uint32Array {
  return makeS1Cd(
    {
      asid,
      ttbr: VTTBR,
      tcr: { ips: 1, tg: 2, sh: 3, orgn: 1, irgn: 2, tsz: 4 },
      mair: 0xabcdef012345678n,
    },
    {},
  );
}
const SVA_MM = { pgd: 0x4_dead_b000, vabits: 48, pageSize: 4096 as const };
const svaCd = (asid: number) => makeSvaCd(KUNIT_SMMU, {}, SVA_MM, asid);
const svaReleaseCd = (asid: number) => makeSvaCd(KUNIT_SMMU, {}, null, asid);
const zeroCd = () => new Uint32Array(16);

describe('KUnit cases of arm-smmu-v3-test.c', () => {
  const ste = steUsedBits;
  const cd = cdUsedBits;
  const cases: [string, () => Uint32Array, () => Uint32Array, Used, number, boolean, string][] = [
    ['write_ste_test_bypass_to_abort', () => bypassSte, () => abortSte, ste, 2, true, 'hitless'],
    ['write_ste_test_abort_to_bypass', () => abortSte, () => bypassSte, ste, 2, true, 'hitless'],
    ['write_ste_test_cdtable_to_abort', () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), () => abortSte, ste, 2, true, 'hitless'],
    ['write_ste_test_abort_to_cdtable', () => abortSte, () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), ste, 2, true, 'hitless'],
    ['write_ste_test_cdtable_to_bypass', () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), () => bypassSte, ste, 3, true, 'hitless'],
    ['write_ste_test_bypass_to_cdtable', () => bypassSte, () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), ste, 3, true, 'hitless'],
    ['write_ste_test_cdtable_s1dss_change (SSID0 -> BYPASS)', () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), () => cdtableSte(S1DSS.BYPASS, FAKE_CDTAB_DMA, ATS), ste, 1, true, 'hitless'],
    ['write_ste_test_cdtable_s1dss_change (BYPASS -> SSID0)', () => cdtableSte(S1DSS.BYPASS, FAKE_CDTAB_DMA, ATS), () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), ste, 1, true, 'hitless'],
    ['write_ste_test_s1dssbypass_to_stebypass', () => cdtableSte(S1DSS.BYPASS, FAKE_CDTAB_DMA, ATS), () => bypassSte, ste, 2, true, 'hitless'],
    ['write_ste_test_stebypass_to_s1dssbypass', () => bypassSte, () => cdtableSte(S1DSS.BYPASS, FAKE_CDTAB_DMA, ATS), ste, 2, true, 'hitless'],
    ['write_ste_test_s2_to_abort', () => s2Ste(ATS), () => abortSte, ste, 2, true, 'hitless'],
    ['write_ste_test_abort_to_s2', () => abortSte, () => s2Ste(ATS), ste, 2, true, 'hitless'],
    ['write_ste_test_s2_to_bypass', () => s2Ste(ATS), () => bypassSte, ste, 2, true, 'hitless'],
    ['write_ste_test_bypass_to_s2', () => bypassSte, () => s2Ste(ATS), ste, 2, true, 'hitless'],
    ['write_ste_test_s1_to_s2', () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), () => s2Ste(ATS), ste, 3, true, 'hitless'],
    ['write_ste_test_s2_to_s1', () => s2Ste(ATS), () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), ste, 3, true, 'hitless'],
    ['write_ste_test_non_hitless', () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, ATS), () => cdtableSte(S1DSS.BYPASS, 0x4b4b4b4b4b, ATS), ste, 3, false, 'disruptive'],
    // Clearing / filling a CD: the kernel takes the single-critical-qword path, but an entry with V = 0 is
    // necessarily visible, so the KUnit suite calls these transitions non-hitless.
    ['write_cd_test_s1_clear (empty -> s1)', zeroCd, () => s1Cd(1997), cd, 2, false, 'hitless'],
    ['write_cd_test_s1_clear (s1 -> empty)', () => s1Cd(1997), zeroCd, cd, 2, false, 'hitless'],
    ['write_cd_test_s1_change_asid (778 -> 1997)', () => s1Cd(778), () => s1Cd(1997), cd, 1, true, 'hitless'],
    ['write_cd_test_s1_change_asid (1997 -> 778)', () => s1Cd(1997), () => s1Cd(778), cd, 1, true, 'hitless'],
    ['write_ste_test_s1_to_s2_stall', () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, STALL), () => s2Ste(STALL), ste, 3, true, 'hitless'],
    ['write_ste_test_s2_to_s1_stall', () => s2Ste(STALL), () => cdtableSte(S1DSS.SSID0, FAKE_CDTAB_DMA, STALL), ste, 3, true, 'hitless'],
    ['write_cd_test_sva_clear (empty -> sva)', zeroCd, () => svaCd(1997), cd, 2, false, 'hitless'],
    ['write_cd_test_sva_clear (sva -> empty)', () => svaCd(1997), zeroCd, cd, 2, false, 'hitless'],
    ['write_cd_test_sva_release (sva -> fault-everything)', () => svaCd(1997), () => svaReleaseCd(1997), cd, 2, true, 'hitless'],
    ['write_cd_test_sva_release (fault-everything -> sva)', () => svaReleaseCd(1997), () => svaCd(1997), cd, 2, true, 'hitless'],
  ];
  for (const [name, from, to, used, syncs, hitless, result] of cases) {
    it(`${name}: ${syncs} sync(s), ${hitless ? 'hitless' : 'non-hitless'}`, () => {
      const cur = from();
      const target = to();
      expect(targetSetsUnusedBits(target, used)).toBe(false); // the make functions agree with the used functions
      const r = expectTransition(cur, target, used, syncs, hitless);
      expect(r.result).toBe(result);
    });
  }

  it('writing the same entry again changes nothing: no store, no sync', () => {
    const r = run(s1Cd(5), s1Cd(5), cdUsedBits);
    expect(r.result).toBe('unchanged');
    expect(r.states).toHaveLength(0);
    expect(r.synced).toHaveLength(0);
  });

  it('no used bit changes but stale unused bits: stores and syncs, reported unchanged (the kernel WARNs)', () => {
    const stale = svaReleaseCd(3);
    stale[2] = 0xdead0000; // TTB0 is IGNORED under EPD0
    const r = run(stale, svaReleaseCd(3), cdUsedBits);
    expect(r.result).toBe('unchanged');
    expect(r.states).toHaveLength(1);
    expect(r.synced).toHaveLength(1);
    expect(Array.from(r.final)).toEqual(Array.from(svaReleaseCd(3)));
  });

  it('entryQwordDiff names the critical qword', () => {
    expect(entryQwordDiff(cdtableSte(0, 0x1000, ATS), cdtableSte(1, 0x1000, ATS), steUsedBits).diff).toBe(0b10);
    expect(entryQwordDiff(s1Cd(1), s1Cd(2), cdUsedBits).diff).toBe(0b1);
    expect(entryQwordDiff(cdtableSte(0, 0x1000, ATS), cdtableSte(1, 0x2000, ATS), steUsedBits).diff).toBe(0b11);
  });
});

// ---- Random realistic entries ----

const smmuArb: fc.Arbitrary<SmmuFeat> = fc.record({
  stalls: fc.boolean(),
  stallForce: fc.boolean(),
  attrTypesOvr: fc.boolean(),
  e2h: fc.boolean(),
});
const pa = (align: number) => fc.integer({ min: 1, max: 2 ** 36 }).map((x) => x * align);

const steArb: fc.Arbitrary<Uint32Array> = fc.oneof(
  fc.constant(null).map(() => new Uint32Array(16)), // never written (V = 0)
  fc.constant(null).map(makeAbortSte),
  smmuArb.map(makeBypassSte),
  fc
    .record({
      smmu: smmuArb,
      cdtabDma: pa(4096),
      s1fmt: fc.constantFrom(S1FMT.LINEAR, S1FMT.L2_64K),
      s1cdmax: fc.integer({ min: 0, max: 20 }),
      stall: fc.boolean(),
      ats: fc.boolean(),
      s1dss: fc.constantFrom(S1DSS.TERMINATE, S1DSS.BYPASS, S1DSS.SSID0),
    })
    .map((r) => makeCdtableSte(r.smmu, r, { stallEnabled: r.stall }, r.ats, r.s1dss)),
  fc
    .record({
      smmu: smmuArb,
      vmid: fc.integer({ min: 1, max: 0xffff }),
      vttbr: pa(4096),
      tsz: fc.integer({ min: 16, max: 40 }),
      sl: fc.integer({ min: 0, max: 2 }),
      tg: fc.integer({ min: 0, max: 2 }),
      ps: fc.integer({ min: 0, max: 5 }),
      s2fwb: fc.boolean(),
      stall: fc.boolean(),
      ats: fc.boolean(),
    })
    .map((r) =>
      makeS2Ste(
        r.smmu,
        { vmid: r.vmid, vttbr: r.vttbr, s2fwb: r.s2fwb, vtcr: { tsz: r.tsz, sl: r.sl, irgn: 1, orgn: 1, sh: 3, tg: r.tg, ps: r.ps } },
        { stallEnabled: r.stall },
        r.ats,
      ),
    ),
);

const asidArb = fc.integer({ min: 1, max: 0xffff });
const cdArb: fc.Arbitrary<Uint32Array> = fc.oneof(
  fc.constant(null).map(() => encodeCd({})), // cleared CD (arm_smmu_clear_cd)
  fc
    .record({
      asid: asidArb,
      ttbr: pa(4096),
      tsz: fc.integer({ min: 16, max: 39 }),
      tg: fc.integer({ min: 0, max: 2 }),
      ips: fc.integer({ min: 0, max: 5 }),
      mairLo: fc.nat({ max: 0xffffffff }),
      hd: fc.boolean(),
      stall: fc.boolean(),
    })
    .map((r) =>
      makeS1Cd(
        { asid: r.asid, ttbr: r.ttbr, tcr: { tsz: r.tsz, tg: r.tg, irgn: 1, orgn: 1, sh: 3, ips: r.ips }, mair: BigInt(r.mairLo), hd: r.hd },
        { stallEnabled: r.stall },
      ),
    ),
  fc
    .record({
      smmu: smmuArb,
      asid: asidArb,
      pgd: pa(4096),
      vabits: fc.constantFrom(39, 48),
      stall: fc.boolean(),
      release: fc.boolean(), // the fault-everything CD of arm_smmu_mm_release (EPD0)
    })
    .map((r) =>
      makeSvaCd(r.smmu, { stallEnabled: r.stall }, r.release ? null : { pgd: r.pgd, vabits: r.vabits, pageSize: 4096 }, r.asid),
    ),
);

const isValid = (e: Uint32Array, used: Used) => {
  // V is the one bit an invalid entry's used mask keeps.
  const u = used(new Uint32Array(16));
  for (let i = 0; i < 16; i++) if ((e[i]! & u[i]!) >>> 0 !== 0) return true;
  return false;
};

function checkHitlessProperty(old: Uint32Array, next: Uint32Array, used: Used): void {
  const r = run(old, next, used);
  const oldValid = isValid(old, used);
  const newValid = isValid(next, used);
  let sawInvalid = false;
  for (const s of r.states) {
    const u = used(s); // the bits the hardware reads in the state it fetched
    const asOld = eqUsed(s, old, u);
    const asNew = eqUsed(s, next, u);
    if (!asOld && !asNew) {
      // Only an invalid entry (qword 0 cleared) may be neither, and only on the disruptive path.
      expect(r.result).toBe('disruptive');
      expect(isValid(s, used)).toBe(false);
      sawInvalid = true;
    }
  }
  if (r.result === 'disruptive') {
    // The first store is qword 0 = 0, before any used bit changes.
    expect(r.states[0]![0]).toBe(0);
    expect(r.states[0]![1]).toBe(0);
    expect(r.synced.length).toBeGreaterThanOrEqual(2);
    expect(sawInvalid || !oldValid || !newValid).toBe(true);
  }
  if (r.result === 'unchanged') expect(eqUsed(old, next, used(old))).toBe(true);
  expect(Array.from(r.final)).toEqual(Array.from(next));
  // A sync follows every step that stored something: at most 3 (the kernel's three entry_set calls).
  expect(r.synced.length).toBeLessThanOrEqual(3);
  if (r.states.length > 0) expect(Array.from(r.synced.at(-1)!)).toEqual(Array.from(next));
}

describe('hitless property over random realistic entries', () => {
  it('STEs: abort, bypass, CD-table (any S1DSS/ContextPtr/S1CDMax), S2, never-written', () => {
    fc.assert(
      fc.property(steArb, steArb, (a, b) => {
        expect(targetSetsUnusedBits(b, steUsedBits)).toBe(false);
        checkHitlessProperty(a, b, steUsedBits);
      }),
      { numRuns: 2000 },
    );
  });

  it('CDs: S1 and SVA CDs with different ASIDs/TTB0, cleared CDs, the EPD0 fault-everything CD', () => {
    fc.assert(
      fc.property(cdArb, cdArb, (a, b) => {
        expect(targetSetsUnusedBits(b, cdUsedBits)).toBe(false);
        checkHitlessProperty(a, b, cdUsedBits);
      }),
      { numRuns: 2000 },
    );
  });

  it('S1DSS-only changes of a CD-table STE are always hitless with one sync', () => {
    fc.assert(
      fc.property(
        pa(4096),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(0, 1, 2),
        fc.constantFrom(0, 1, 2),
        (dma, cdmax, d1, d2) => {
          fc.pre(d1 !== d2);
          // Without ATTR_TYPES_OVR no SHCFG rides along with S1DSS = BYPASS.
          const mk = (s1dss: number) =>
            makeCdtableSte({ stalls: true }, { cdtabDma: dma, s1fmt: 2, s1cdmax: cdmax }, {}, false, s1dss);
          const r = run(mk(d1), mk(d2), steUsedBits);
          expect(r.result).toBe('hitless');
          expect(r.synced).toHaveLength(1);
          expect(r.states).toHaveLength(1);
        },
      ),
    );
  });

  it('a live SVA CD to its fault-everything CD (process exit) is hitless and keeps V set throughout', () => {
    fc.assert(
      fc.property(asidArb, pa(4096), fc.boolean(), (asid, pgd, stall) => {
        const live = makeSvaCd(KUNIT_SMMU, { stallEnabled: stall }, { pgd, vabits: 48, pageSize: 4096 }, asid);
        const dead = makeSvaCd(KUNIT_SMMU, { stallEnabled: stall }, null, asid);
        const r = run(live, dead, cdUsedBits);
        expect(r.result).toBe('hitless');
        for (const s of r.states) expect(isValid(s, cdUsedBits)).toBe(true);
      }),
    );
  });
});

/**
 * The kernel's arm_smmu_write_entry() as three entry_set() calls over a running entry, written out the way
 * arm-smmu-v3.c has it (the form writeEntry had before it was split into planEntryWrite and its playback): the
 * reference the plan must reproduce store for store.
 */
function referenceWrite(cur: Uint32Array, target: Uint32Array, used: Used): { kind: string; log: string[] } {
  const log: string[] = [];
  const entry = cur.slice();
  const entrySet = (src: Uint32Array, start: number, len: number): void => {
    let changed = false;
    for (let q = start; q < start + len; q++) {
      if (entry[2 * q] !== src[2 * q] || entry[2 * q + 1] !== src[2 * q + 1]) {
        entry[2 * q] = src[2 * q]!;
        entry[2 * q + 1] = src[2 * q + 1]!;
        changed = true;
        log.push(`q${q}=${src[2 * q]!.toString(16)}:${src[2 * q + 1]!.toString(16)}`);
      }
    }
    if (changed) log.push('sync');
  };
  const { diff, unusedUpdate } = entryQwordDiff(entry, target, used);
  if (diff !== 0 && (diff & (diff - 1)) === 0) {
    const critical = 31 - Math.clz32(diff);
    unusedUpdate[2 * critical] = entry[2 * critical]!;
    unusedUpdate[2 * critical + 1] = entry[2 * critical + 1]!;
    entrySet(unusedUpdate, 0, 8);
    entrySet(target, critical, 1);
    entrySet(target, 0, 8);
    return { kind: 'hitless', log };
  }
  if (diff !== 0) {
    unusedUpdate[0] = 0;
    unusedUpdate[1] = 0;
    entrySet(unusedUpdate, 0, 1);
    entrySet(target, 1, 7);
    entrySet(target, 0, 1);
    return { kind: 'disruptive', log };
  }
  entrySet(target, 0, 8);
  return { kind: 'unchanged', log };
}

/** writeEntry's stores and syncs, logged as referenceWrite logs them. */
function loggedWrite(cur: Uint32Array, target: Uint32Array, used: Used): { kind: string; log: string[] } {
  const log: string[] = [];
  const kind = writeEntry(
    cur,
    target,
    used,
    (next, q) => log.push(`q${q}=${next[2 * q]!.toString(16)}:${next[2 * q + 1]!.toString(16)}`),
    () => log.push('sync'),
  );
  return { kind, log };
}

/** The plan's masks, logged as referenceWrite logs them (step 1 from unusedUpdate, or the target when unchanged). */
function loggedPlan(cur: Uint32Array, target: Uint32Array, used: Used): { kind: string; log: string[]; syncs: number } {
  const unused = new Uint32Array(16);
  const plan = planEntryWrite(cur, target, used(cur), used(target), unused, { kind: 'unchanged', step1: 0, step2: 0, step3: 0 });
  const log: string[] = [];
  const steps: [number, Uint32Array][] = [
    [plan.step1, plan.kind === 'unchanged' ? target : unused],
    [plan.step2, target],
    [plan.step3, target],
  ];
  for (const [mask, src] of steps) {
    if (!mask) continue;
    for (let q = 0; q < 8; q++) if (mask & (1 << q)) log.push(`q${q}=${src[2 * q]!.toString(16)}:${src[2 * q + 1]!.toString(16)}`);
    log.push('sync');
  }
  return { kind: plan.kind, log, syncs: planSyncs(plan) };
}

describe('planEntryWrite: the same stores and syncs as the kernel loop', () => {
  const words = fc.uint32Array({ minLength: 16, maxLength: 16 });
  const check = (a: Uint32Array, b: Uint32Array, used: Used): void => {
    const ref = referenceWrite(a, b, used);
    expect(loggedWrite(a, b, used)).toEqual(ref);
    const p = loggedPlan(a, b, used);
    expect({ kind: p.kind, log: p.log }).toEqual(ref);
    expect(p.syncs).toBe(ref.log.filter((x) => x === 'sync').length);
  };

  it('over realistic STEs and CDs', () => {
    fc.assert(
      fc.property(steArb, steArb, (a, b) => {
        check(a, b, steUsedBits);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(cdArb, cdArb, (a, b) => {
        check(a, b, cdUsedBits);
      }),
      { numRuns: 1000 },
    );
  });

  it('over arbitrary words, targets that set unused bits included', () => {
    fc.assert(
      fc.property(words, words, fc.boolean(), (a, b, ste) => {
        check(a, b, ste ? steUsedBits : cdUsedBits);
      }),
      { numRuns: 2000 },
    );
  });

  it('the shared CD used-bits answer equals cdUsedBits on every entry', () => {
    fc.assert(
      fc.property(fc.oneof(cdArb, words), (w) => {
        expect(Array.from(cdUsedBitsShared(w))).toEqual(Array.from(cdUsedBits(w)));
      }),
      { numRuns: 500 },
    );
  });
});
