/**
 * CD encoder: field by field against kernel-semantics.md §1 / arm-smmu-v3.h CTXDESC_CD_* (hand-written word values),
 * round trips, kernel-built CDs, used bits (arm_smmu_get_cd_used) and L1 CD descriptors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CD_WORDS,
  cdUsedBits,
  decodeCd,
  decodeCdL1,
  encodeCd,
  encodeCdL1,
  type CdFields,
} from '../../src-main/sim/hw/cd.js';
import { KUNIT_SMMU, makeS1Cd, makeSvaCd } from './kernel-entries.js';

type Words = Record<number, number>;
function expectWords(w: Uint32Array, words: Words): void {
  expect(w).toHaveLength(CD_WORDS);
  const want = new Uint32Array(CD_WORDS);
  for (const [i, v] of Object.entries(words)) want[Number(i)] = v;
  expect(Array.from(w, (x) => x.toString(16))).toEqual(Array.from(want, (x) => x.toString(16)));
}

const SINGLE: [keyof CdFields, number | boolean, Words][] = [
  ['t0sz', 63, { 0: 0x3f }], // CD word 0 T0SZ [5:0]
  ['tg0', 3, { 0: 0xc0 }], // TG0 [7:6]
  ['irgn0', 3, { 0: 0x300 }], // IRGN0 [9:8]
  ['orgn0', 3, { 0: 0xc00 }], // ORGN0 [11:10]
  ['sh0', 3, { 0: 0x3000 }], // SH0 [13:12]
  ['epd0', true, { 0: 0x4000 }], // EPD0 14
  ['endi', true, { 0: 0x8000 }], // ENDI 15
  ['epd1', true, { 0: 0x40000000 }], // EPD1 30
  ['v', true, { 0: 0x80000000 }], // V 31
  ['ips', 7, { 1: 0x7 }], // IPS [34:32]
  ['tbi0', true, { 1: 0x40 }], // TBI0 38
  ['aa64', true, { 1: 0x200 }], // AA64 41
  ['hd', true, { 1: 0x400 }], // HD 42
  ['ha', true, { 1: 0x800 }], // HA 43
  ['s', true, { 1: 0x1000 }], // S 44
  ['r', true, { 1: 0x2000 }], // R 45
  ['a', true, { 1: 0x4000 }], // A 46
  ['aset', true, { 1: 0x8000 }], // ASET 47
  ['asid', 0xffff, { 1: 0xffff0000 }], // ASID [63:48]
  ['asid', 1997, { 1: 1997 * 0x10000 }],
  ['ttb0', 0xf_ffff_ffff_fff0, { 2: 0xfffffff0, 3: 0x000fffff }], // word 1 TTB0 [51:4]
  ['mairLo', 0x12345678, { 6: 0x12345678 }], // word 3 MAIR
  ['mairHi', 0x0abcdef0, { 7: 0x0abcdef0 }],
];

const ZERO: CdFields = decodeCd(new Uint32Array(CD_WORDS));

describe('CD encoding (arm-smmu-v3.h CTXDESC_CD_*)', () => {
  it('an empty CD is all zeros', () => {
    expectWords(encodeCd({}), {});
    expect(Object.values(ZERO).every((v) => v === 0 || v === false)).toBe(true);
  });

  for (const [field, value, words] of SINGLE) {
    it(`${field} = ${String(value)} lands at its bits`, () => {
      const w = encodeCd({ [field]: value });
      expectWords(w, words);
      expect(decodeCd(w)).toEqual({ ...ZERO, [field]: value });
    });
  }

  it('arm_smmu_make_s1_cd with the KUnit suite values (asid 1997)', () => {
    const cd = makeS1Cd(
      {
        asid: 1997,
        ttbr: 0x000d_beef_dead_bee0, // 0xdaedbeefdeadbeef & CTXDESC_CD_1_TTB0_MASK
        tcr: { tsz: 4, tg: 2, irgn: 2, orgn: 1, sh: 3, ips: 1 },
        mair: 0x0abcdef012345678n,
      },
      {},
    );
    // dword 0: T0SZ 4 | TG0 2<<6 | IRGN0 2<<8 | ORGN0 1<<10 | SH0 3<<12 | EPD1 | V | IPS 1<<32 | AA64 | R | A | ASET
    //          | ASID 1997 << 48 = 0x07cd_e201_c000_3684
    expectWords(cd, { 0: 0xc0003684, 1: 0x07cde201, 2: 0xdeadbee0, 3: 0x000dbeef, 6: 0x12345678, 7: 0x0abcdef0 });
  });

  it('arm_smmu_make_sva_cd and its fault-everything release CD (mm = NULL)', () => {
    const mm = { pgd: 0x4_0000_3000, vabits: 48, pageSize: 4096 as const };
    const sva = decodeCd(makeSvaCd(KUNIT_SMMU, { stallEnabled: true }, mm, 5));
    expect(sva).toMatchObject({ v: true, t0sz: 16, tg0: 0, irgn0: 1, orgn0: 1, sh0: 3, epd0: false, epd1: true });
    expect(sva).toMatchObject({ aa64: true, s: true, r: true, a: true, aset: true, asid: 5, ttb0: 0x4_0000_3000 });
    const rel = decodeCd(makeSvaCd(KUNIT_SMMU, { stallEnabled: true }, null, 5));
    expect(rel).toMatchObject({ v: true, epd0: true, t0sz: 0, ttb0: 0, s: false, r: false, asid: 5 });
    // STALL_FORCE keeps S and R
    const forced = decodeCd(makeSvaCd({ stalls: true, stallForce: true }, { stallEnabled: true }, null, 5));
    expect(forced).toMatchObject({ epd0: true, s: true, r: true });
  });

  it('round trip: decodeCd(encodeCd(f)) == f', () => {
    const b = fc.boolean();
    const fieldsArb: fc.Arbitrary<CdFields> = fc.record({
      v: b,
      t0sz: fc.integer({ min: 0, max: 63 }),
      tg0: fc.integer({ min: 0, max: 3 }),
      irgn0: fc.integer({ min: 0, max: 3 }),
      orgn0: fc.integer({ min: 0, max: 3 }),
      sh0: fc.integer({ min: 0, max: 3 }),
      epd0: b,
      endi: b,
      epd1: b,
      ips: fc.integer({ min: 0, max: 7 }),
      tbi0: b,
      aa64: b,
      hd: b,
      ha: b,
      s: b,
      r: b,
      a: b,
      aset: b,
      asid: fc.integer({ min: 0, max: 0xffff }),
      ttb0: fc.integer({ min: 0, max: 2 ** 48 - 1 }).map((x) => x * 16),
      mairLo: fc.nat({ max: 0xffffffff }),
      mairHi: fc.nat({ max: 0xffffffff }),
    });
    fc.assert(fc.property(fieldsArb, (f) => void expect(decodeCd(encodeCd(f))).toEqual(f)));
  });
});

describe('cdUsedBits (arm_smmu_get_cd_used)', () => {
  it('V = 0: only V (bit 31)', () => {
    const u = cdUsedBits(encodeCd({ asid: 3, ttb0: 0x1000 }));
    expectWords(u, { 0: 0x80000000 });
  });
  it('V = 1: every bit', () => {
    const u = cdUsedBits(encodeCd({ v: true }));
    expect(Array.from(u).every((x) => x === 0xffffffff)).toBe(true);
  });
  it('V = 1 with EPD0: T0SZ/TG0/IRGN0/ORGN0/SH0 and TTB0 are IGNORED', () => {
    const u = cdUsedBits(encodeCd({ v: true, epd0: true }));
    expect(u[0]).toBe(0xffffc000);
    expect(u[1]).toBe(0xffffffff);
    expect(u[2]).toBe(0x0000000f);
    expect(u[3]).toBe(0xfff00000);
    for (let i = 4; i < 16; i++) expect(u[i]).toBe(0xffffffff);
  });
});

describe('level-1 CD descriptor (CTXDESC_L1_DESC_*)', () => {
  it('V bit 0 and L2Ptr [51:12], as arm_smmu_write_cd_l1_desc', () => {
    const d = encodeCdL1(0x000a_bcde_f123_4000, true);
    expect(Array.from(d)).toEqual([0xf1234001, 0x000abcde]);
    expect(decodeCdL1(d)).toEqual({ valid: true, l2ptr: 0x000a_bcde_f123_4000 });
    expect(Array.from(encodeCdL1(0x10fff, false))).toEqual([0x10000, 0]); // l2ptr_dma & L2PTR_MASK
    expect(decodeCdL1(new Uint32Array(2))).toEqual({ valid: false, l2ptr: 0 });
  });
  it('round trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 - 1 }), fc.boolean(), (p, valid) => {
        expect(decodeCdL1(encodeCdL1(p * 4096, valid))).toEqual({ valid, l2ptr: p * 4096 });
      }),
    );
  });
});
