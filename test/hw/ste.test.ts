/**
 * STE encoder: field by field against the bit positions of kernel-semantics.md §1 / arm-smmu-v3.h (hand-written
 * word values, independent of STE_FIELD), round trips, a kernel-built STE, used bits and L1 descriptors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSte,
  decodeStrtabL1,
  encodeSte,
  encodeStrtabL1,
  S1DSS,
  S1FMT,
  STE_CONFIG,
  STE_WORDS,
  steUsedBits,
  type SteFields,
} from '../../src-main/sim/hw/ste.js';
import { KUNIT_SMMU, makeAbortSte, makeBypassSte, makeCdtableSte, makeS2Ste } from './kernel-entries.js';

/** Expected words: index -> value; every other word must be 0. */
type Words = Record<number, number>;

function expectWords(w: Uint32Array, words: Words): void {
  expect(w).toHaveLength(STE_WORDS);
  const want = new Uint32Array(STE_WORDS);
  for (const [i, v] of Object.entries(words)) want[Number(i)] = v;
  expect(Array.from(w, (x) => x.toString(16))).toEqual(Array.from(want, (x) => x.toString(16)));
}

// One field at a time, all-ones (or a distinctive value), and the exact words it must produce.
const SINGLE: [keyof SteFields, number | boolean, Words][] = [
  ['v', true, { 0: 0x1 }], // STE word 0 V bit 0
  ['config', 7, { 0: 0xe }], // Config [3:1]
  ['config', STE_CONFIG.S1_TRANS, { 0: 0xa }],
  ['s1fmt', S1FMT.L2_64K, { 0: 0x20 }], // S1Fmt [5:4]
  ['s1fmt', 3, { 0: 0x30 }],
  ['s1ContextPtr', 0xf_ffff_ffff_ffc0, { 0: 0xffffffc0, 1: 0x000fffff }], // S1ContextPtr [51:6]
  ['s1CdMax', 31, { 1: 0xf8000000 }], // S1CDMax [63:59]
  ['s1dss', 3, { 2: 0x3 }], // word 1 S1DSS [1:0]
  ['s1cir', 3, { 2: 0xc }], // S1CIR [3:2]
  ['s1cor', 3, { 2: 0x30 }], // S1COR [5:4]
  ['s1csh', 3, { 2: 0xc0 }], // S1CSH [7:6]
  ['mev', true, { 2: 0x80000 }], // MEV 19
  ['s2fwb', true, { 2: 0x2000000 }], // S2FWB 25
  ['s1stalld', true, { 2: 0x8000000 }], // S1STALLD 27
  ['eats', 3, { 2: 0x30000000 }], // EATS [29:28]
  ['strw', 3, { 2: 0xc0000000 }], // STRW [31:30]
  ['shcfg', 3, { 3: 0x3000 }], // SHCFG [45:44]
  ['s2vmid', 0xffff, { 4: 0xffff }], // STRTAB_STE_2_S2VMID [15:0]
  ['s2t0sz', 63, { 5: 0x3f }], // VTCR [50:32]: S2T0SZ [5:0]
  ['s2sl0', 3, { 5: 0xc0 }], // S2SL0 [7:6]
  ['s2tg', 3, { 5: 0xc000 }], // S2TG [15:14]
  ['s2ps', 7, { 5: 0x70000 }], // S2PS [18:16]
  ['s2aa64', true, { 5: 0x80000 }], // S2AA64 51
  ['s2r', true, { 5: 0x4000000 }], // S2R 58
  ['s2ttb', 0xf_ffff_ffff_fff0, { 6: 0xfffffff0, 7: 0x000fffff }], // STRTAB_STE_3_S2TTB_MASK [51:4]
];

const ZERO: SteFields = decodeSte(new Uint32Array(STE_WORDS));

describe('STE encoding (arm-smmu-v3.h STRTAB_STE_*)', () => {
  it('an empty STE is all zeros and decodes to all-zero fields', () => {
    expectWords(encodeSte({}), {});
    expect(Object.values(ZERO).every((v) => v === 0 || v === false)).toBe(true);
  });

  for (const [field, value, words] of SINGLE) {
    it(`${field} = ${String(value)} lands at its bits`, () => {
      const w = encodeSte({ [field]: value });
      expectWords(w, words);
      expect(decodeSte(w)).toEqual({ ...ZERO, [field]: value });
    });
  }

  it('pointers keep only their address bits (cdtab_dma & S1CTXPTR_MASK, vttbr & S2TTB_MASK)', () => {
    expect(decodeSte(encodeSte({ s1ContextPtr: 0xf0f0f0f0f0f0 })).s1ContextPtr).toBe(0xf0f0f0f0f0c0);
    expect(decodeSte(encodeSte({ s2ttb: 0x1234_5678_9abf })).s2ttb).toBe(0x1234_5678_9ab0);
  });

  it('arm_smmu_make_cdtable_ste: 2-level CD table at PA 0x80000, s1cdmax 20, S1DSS SSID0', () => {
    // SMMU with FEAT_STALLS, master without stall, no ATS, no E2H, no ATTR_TYPES_OVR.
    const ste = makeCdtableSte({ stalls: true }, { cdtabDma: 0x80000, s1fmt: S1FMT.L2_64K, s1cdmax: 20 }, {}, false, S1DSS.SSID0);
    // dword 0 = V | Config 5 << 1 | S1Fmt 2 << 4 | 0x80000 | 20 << 59
    //         = 0xa000_0000_0008_002b
    // dword 1 = S1DSS 2 | S1CIR WBRA 1 << 2 | S1COR WBRA 1 << 4 | S1CSH ISH 3 << 6 | S1STALLD 1 << 27 | STRW NSEL1 0
    //         = 0x0000_0000_0800_00d6
    // dword 2 = S2VMID 0
    expectWords(ste, { 0: 0x0008002b, 1: 0xa0000000, 2: 0x080000d6 });
    const f = decodeSte(ste);
    expect(f).toMatchObject({ v: true, config: 5, s1fmt: 2, s1ContextPtr: 0x80000, s1CdMax: 20, s1dss: 2, s1stalld: true });
    // with ATS: EATS = TRANS (bit 60 of the STE, bit 28 of word 2)
    const ats = makeCdtableSte({ stalls: true }, { cdtabDma: 0x80000, s1fmt: S1FMT.L2_64K, s1cdmax: 20 }, {}, true, S1DSS.SSID0);
    expectWords(ats, { 0: 0x0008002b, 1: 0xa0000000, 2: 0x180000d6 });
  });

  it('abort and bypass STEs as the kernel builds them', () => {
    expectWords(makeAbortSte(), { 0: 0x1 });
    expectWords(makeBypassSte({}), { 0: 0x9 });
    expectWords(makeBypassSte({ attrTypesOvr: true }), { 0: 0x9, 3: 0x1000 }); // SHCFG = INCOMING
  });

  it('round trip: decodeSte(encodeSte(f)) == f', () => {
    const fieldsArb: fc.Arbitrary<SteFields> = fc.record({
      v: fc.boolean(),
      config: fc.integer({ min: 0, max: 7 }),
      s1fmt: fc.integer({ min: 0, max: 3 }),
      s1ContextPtr: fc.integer({ min: 0, max: 2 ** 46 - 1 }).map((x) => x * 64),
      s1CdMax: fc.integer({ min: 0, max: 31 }),
      s1dss: fc.integer({ min: 0, max: 3 }),
      s1cir: fc.integer({ min: 0, max: 3 }),
      s1cor: fc.integer({ min: 0, max: 3 }),
      s1csh: fc.integer({ min: 0, max: 3 }),
      mev: fc.boolean(),
      s2fwb: fc.boolean(),
      s1stalld: fc.boolean(),
      eats: fc.integer({ min: 0, max: 3 }),
      strw: fc.integer({ min: 0, max: 3 }),
      shcfg: fc.integer({ min: 0, max: 3 }),
      s2vmid: fc.integer({ min: 0, max: 0xffff }),
      s2t0sz: fc.integer({ min: 0, max: 63 }),
      s2sl0: fc.integer({ min: 0, max: 3 }),
      s2tg: fc.integer({ min: 0, max: 3 }),
      s2ps: fc.integer({ min: 0, max: 7 }),
      s2aa64: fc.boolean(),
      s2r: fc.boolean(),
      s2ttb: fc.integer({ min: 0, max: 2 ** 48 - 1 }).map((x) => x * 16),
    });
    fc.assert(fc.property(fieldsArb, (f) => void expect(decodeSte(encodeSte(f))).toEqual(f)));
  });
});

/** The used mask as { word index: value } for the non-zero words. */
function usedWords(w: Uint32Array): Words {
  const u = steUsedBits(w);
  const out: Words = {};
  u.forEach((x, i) => {
    if (x) out[i] = x;
  });
  return out;
}

describe('steUsedBits (arm_smmu_get_ste_used)', () => {
  it('V = 0: only V', () => {
    expect(usedWords(encodeSte({ config: 5, s1dss: 1, s1ContextPtr: 0x1000 }))).toEqual({ 0: 1 });
  });
  it('abort: V and Config', () => {
    expect(usedWords(makeAbortSte())).toEqual({ 0: 0xf });
  });
  it('bypass: V, Config and SHCFG', () => {
    expect(usedWords(makeBypassSte({}))).toEqual({ 0: 0xf, 3: 0x3000 });
  });
  it('S1 translate: S1 fields, STRW, EATS, MEV, S2VMID; SHCFG only with S1DSS = BYPASS', () => {
    const cfg = { cdtabDma: 0x80000, s1fmt: 2, s1cdmax: 20 };
    const s1 = {
      0: 0xffffffff, // V, Config, S1Fmt, S1ContextPtr[31:6]
      1: 0xf80fffff, // S1ContextPtr[51:32], S1CDMax
      2: 0xf80800ff, // S1DSS, S1CIR/COR/CSH, MEV 19, S1STALLD 27, EATS, STRW
      4: 0xffff, // S2VMID
    };
    expect(usedWords(makeCdtableSte(KUNIT_SMMU, cfg, {}, false, S1DSS.SSID0))).toEqual(s1);
    expect(usedWords(makeCdtableSte(KUNIT_SMMU, cfg, {}, false, S1DSS.TERMINATE))).toEqual(s1);
    expect(usedWords(makeCdtableSte(KUNIT_SMMU, cfg, {}, false, S1DSS.BYPASS))).toEqual({ ...s1, 3: 0x3000 });
  });
  it('S2 translate: S2FWB, EATS, SHCFG, MEV and dwords 2-3', () => {
    const ste = encodeSte({ v: true, config: STE_CONFIG.S2_TRANS });
    expect(usedWords(ste)).toEqual({
      0: 0xf,
      2: 0x32080000, // MEV 19, S2FWB 25, EATS [29:28]
      3: 0x3000, // SHCFG
      4: 0xffff, // S2VMID
      5: 0x065fffff, // VTCR [50:32], S2AA64 51, S2ENDI 52, S2PTW 54, S2S 57, S2R 58
      6: 0xfffffff0, // S2TTB [31:4]
      7: 0x000fffff, // S2TTB [51:32]
    });
  });
  it('nested: the union of S1 and S2', () => {
    const ste = encodeSte({ v: true, config: STE_CONFIG.NESTED, s1dss: S1DSS.SSID0 });
    const u = usedWords(ste);
    expect(u[2]).toBe((0xf80800ff | 0x32080000) >>> 0);
    expect(u[3]).toBe(0x3000);
    expect(u[5]).toBe(0x065fffff);
  });
  it('an S2 STE built like the kernel sets no bit outside its used mask', () => {
    const ste = makeS2Ste(
      KUNIT_SMMU,
      { vmid: 7, vttbr: 0xd_beef_dead_bee0, vtcr: { tsz: 4, sl: 3, irgn: 2, orgn: 1, sh: 3, tg: 2, ps: 1 } },
      { stallEnabled: true },
      true,
    );
    const u = steUsedBits(ste);
    ste.forEach((x, i) => expect((x & ~u[i]!) >>> 0).toBe(0));
  });
});

describe('level-1 stream table descriptor (STRTAB_L1_DESC_*)', () => {
  it('SPAN [4:0] and L2Ptr [51:6], as arm_smmu_write_strtab_l1_desc', () => {
    const d = encodeStrtabL1(0x000f_1234_5678_9000, 9);
    expect(Array.from(d)).toEqual([0x56789009, 0x000f1234]);
    expect(decodeStrtabL1(d)).toEqual({ l2ptr: 0x000f_1234_5678_9000, span: 9 });
    expect(Array.from(encodeStrtabL1(0x80000, 0))).toEqual([0x80000, 0]);
  });
  it('round trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 46 - 1 }), fc.integer({ min: 0, max: 31 }), (p, span) => {
        expect(decodeStrtabL1(encodeStrtabL1(p * 64, span))).toEqual({ l2ptr: p * 64, span });
      }),
    );
  });
});
