/**
 * Context descriptors (64 bytes, CTXDESC_CD_DWORDS = 8) and level-1 CD table descriptors, bit-exact.
 *
 * Field positions follow drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (Linux 6.17-rc4): CTXDESC_CD_0_* (TCR fields,
 * V, IPS, TBI0, HA/HD, AA64, S, R, A, ASET, ASID), CTXDESC_CD_1_TTB0_MASK, and dword 3 = MAIR
 * (arm_smmu_make_s1_cd / arm_smmu_make_sva_cd write `data[3] = mair`; the header has no CTXDESC_CD_3 macro).
 * Cross-checked against QEMU hw/arm/smmuv3-internal.h CD_VALID/CD_ASID/CD_TSZ/CD_TG/CD_EPD/CD_ENDI/CD_IPS/CD_TBI/
 * CD_HD/CD_HA/CD_S/CD_R/CD_A/CD_AARCH64/CD_TTB: same positions, except that QEMU's CD_TTB takes 19 bits of the high
 * word (TTB0 [50:4]) where the kernel mask is [51:4]; we follow the kernel.
 *
 * Used bits follow arm_smmu_get_cd_used() in arm-smmu-v3.c. CD L1 descriptors follow CTXDESC_L1_DESC_V and
 * CTXDESC_L1_DESC_L2PTR_MASK, as arm_smmu_write_cd_l1_desc() builds them.
 */

import { type FieldPos, getBit, getF, markF, setBit, setF } from './bits.js';

/** CTXDESC_CD_DWORDS = 8: a 64-byte CD is 16 32-bit words. */
export const CD_WORDS = 16;
export const CTXDESC_CD_DWORDS = 8;

/** io-pgtable-arm.h ARM_LPAE_TCR_TG0_* (TG0 encodings; note they are not in size order). */
export const TG0 = { SZ_4K: 0, SZ_64K: 1, SZ_16K: 2 } as const;
/** io-pgtable-arm.h ARM_LPAE_TCR_RGN_* (IRGN0/ORGN0). */
export const TCR_RGN = { NC: 0, WBWA: 1, WT: 2, WB: 3 } as const;
/** io-pgtable-arm.h ARM_LPAE_TCR_SH_* (SH0). */
export const TCR_SH = { NS: 0, OS: 2, IS: 3 } as const;

/** Every CD field of arm-smmu-v3.h as [dword, hi, lo]. MAIR (dword 3, 64 bits) is read as words 6 and 7. */
export const CD_FIELD = {
  T0SZ: [0, 5, 0], // CTXDESC_CD_0_TCR_T0SZ
  TG0: [0, 7, 6], // CTXDESC_CD_0_TCR_TG0
  IRGN0: [0, 9, 8], // CTXDESC_CD_0_TCR_IRGN0
  ORGN0: [0, 11, 10], // CTXDESC_CD_0_TCR_ORGN0
  SH0: [0, 13, 12], // CTXDESC_CD_0_TCR_SH0
  EPD0: [0, 14, 14], // CTXDESC_CD_0_TCR_EPD0
  ENDI: [0, 15, 15], // CTXDESC_CD_0_ENDI
  EPD1: [0, 30, 30], // CTXDESC_CD_0_TCR_EPD1
  V: [0, 31, 31], // CTXDESC_CD_0_V
  IPS: [0, 34, 32], // CTXDESC_CD_0_TCR_IPS
  TBI0: [0, 38, 38], // CTXDESC_CD_0_TCR_TBI0
  AA64: [0, 41, 41], // CTXDESC_CD_0_AA64
  HD: [0, 42, 42], // CTXDESC_CD_0_TCR_HD
  HA: [0, 43, 43], // CTXDESC_CD_0_TCR_HA
  S: [0, 44, 44], // CTXDESC_CD_0_S (stall)
  R: [0, 45, 45], // CTXDESC_CD_0_R (record faults)
  A: [0, 46, 46], // CTXDESC_CD_0_A
  ASET: [0, 47, 47], // CTXDESC_CD_0_ASET
  ASID: [0, 63, 48], // CTXDESC_CD_0_ASID
  TTB0: [1, 51, 4], // CTXDESC_CD_1_TTB0_MASK
} as const satisfies Record<string, FieldPos>;

/** Word indices of MAIR (CD dword 3): low half, high half. */
export const CD_MAIR_WORDS = [6, 7] as const;

/** CTXDESC_L1_DESC_V and CTXDESC_L1_DESC_L2PTR_MASK (arm-smmu-v3.h). */
export const CD_L1_FIELD = {
  V: [0, 0, 0],
  L2PTR: [0, 51, 12],
} as const satisfies Record<string, FieldPos>;

export interface CdFields {
  v: boolean;
  t0sz: number;
  tg0: number;
  irgn0: number;
  orgn0: number;
  sh0: number;
  epd0: boolean;
  endi: boolean;
  epd1: boolean;
  ips: number;
  tbi0: boolean;
  aa64: boolean;
  hd: boolean;
  ha: boolean;
  /** Stall faults (CTXDESC_CD_0_S). */
  s: boolean;
  /** Record faults in the event queue (CTXDESC_CD_0_R). */
  r: boolean;
  a: boolean;
  aset: boolean;
  asid: number;
  /** PA of the stage-1 table, bits [51:4] (`ttbr & CTXDESC_CD_1_TTB0_MASK`). */
  ttb0: number;
  /** MAIR bits [31:0] (CD word 6). */
  mairLo: number;
  /** MAIR bits [63:32] (CD word 7). */
  mairHi: number;
}

/** Builds a CD from fields (missing ones 0/false). Values wider than their field are truncated (FIELD_PREP). */
export function encodeCd(f: Partial<CdFields>): Uint32Array {
  return encodeCdInto(new Uint32Array(CD_WORDS), f);
}

/** encodeCd() into `w` (16 words, overwritten entirely). Returns `w`. */
export function encodeCdInto(w: Uint32Array, f: Partial<CdFields>): Uint32Array {
  w.fill(0);
  setF(w, CD_FIELD.T0SZ, f.t0sz ?? 0);
  setF(w, CD_FIELD.TG0, f.tg0 ?? 0);
  setF(w, CD_FIELD.IRGN0, f.irgn0 ?? 0);
  setF(w, CD_FIELD.ORGN0, f.orgn0 ?? 0);
  setF(w, CD_FIELD.SH0, f.sh0 ?? 0);
  setF(w, CD_FIELD.EPD0, f.epd0 ? 1 : 0);
  setF(w, CD_FIELD.ENDI, f.endi ? 1 : 0);
  setF(w, CD_FIELD.EPD1, f.epd1 ? 1 : 0);
  setF(w, CD_FIELD.V, f.v ? 1 : 0);
  setF(w, CD_FIELD.IPS, f.ips ?? 0);
  setF(w, CD_FIELD.TBI0, f.tbi0 ? 1 : 0);
  setF(w, CD_FIELD.AA64, f.aa64 ? 1 : 0);
  setF(w, CD_FIELD.HD, f.hd ? 1 : 0);
  setF(w, CD_FIELD.HA, f.ha ? 1 : 0);
  setF(w, CD_FIELD.S, f.s ? 1 : 0);
  setF(w, CD_FIELD.R, f.r ? 1 : 0);
  setF(w, CD_FIELD.A, f.a ? 1 : 0);
  setF(w, CD_FIELD.ASET, f.aset ? 1 : 0);
  setF(w, CD_FIELD.ASID, f.asid ?? 0);
  setF(w, CD_FIELD.TTB0, Math.floor((f.ttb0 ?? 0) / 2 ** 4));
  w[CD_MAIR_WORDS[0]] = f.mairLo ?? 0;
  w[CD_MAIR_WORDS[1]] = f.mairHi ?? 0;
  return w;
}

/** Reads every CdFields member from a 16-word CD. */
export function decodeCd(w: Uint32Array): CdFields {
  return {
    v: getF(w, CD_FIELD.V) === 1,
    t0sz: getF(w, CD_FIELD.T0SZ),
    tg0: getF(w, CD_FIELD.TG0),
    irgn0: getF(w, CD_FIELD.IRGN0),
    orgn0: getF(w, CD_FIELD.ORGN0),
    sh0: getF(w, CD_FIELD.SH0),
    epd0: getF(w, CD_FIELD.EPD0) === 1,
    endi: getF(w, CD_FIELD.ENDI) === 1,
    epd1: getF(w, CD_FIELD.EPD1) === 1,
    ips: getF(w, CD_FIELD.IPS),
    tbi0: getF(w, CD_FIELD.TBI0) === 1,
    aa64: getF(w, CD_FIELD.AA64) === 1,
    hd: getF(w, CD_FIELD.HD) === 1,
    ha: getF(w, CD_FIELD.HA) === 1,
    s: getF(w, CD_FIELD.S) === 1,
    r: getF(w, CD_FIELD.R) === 1,
    a: getF(w, CD_FIELD.A) === 1,
    aset: getF(w, CD_FIELD.ASET) === 1,
    asid: getF(w, CD_FIELD.ASID),
    ttb0: getF(w, CD_FIELD.TTB0) * 2 ** 4,
    mairLo: w[CD_MAIR_WORDS[0]]!,
    mairHi: w[CD_MAIR_WORDS[1]]!,
  };
}

const EPD0_IGNORED = (() => {
  const m = new Uint32Array(CD_WORDS);
  for (const f of [CD_FIELD.T0SZ, CD_FIELD.TG0, CD_FIELD.IRGN0, CD_FIELD.ORGN0, CD_FIELD.SH0, CD_FIELD.TTB0]) {
    markF(m, f);
  }
  return m;
})();

/**
 * The bits the SMMU reads for this CD, after arm_smmu_get_cd_used() (arm-smmu-v3.c): V only when V = 0; otherwise
 * every bit, except that with EPD0 set T0SZ/TG0/IRGN0/ORGN0/SH0 and TTB0 are IGNORED (the fault-everything CD of
 * arm_smmu_make_sva_cd(mm = NULL)).
 */
export function cdUsedBits(w: Uint32Array): Uint32Array {
  const used = new Uint32Array(CD_WORDS);
  if (!getBit(w, 0, 31)) {
    setBit(used, 0, 31, true);
    return used;
  }
  used.fill(0xffffffff);
  if (getBit(w, 0, 14)) {
    for (let i = 0; i < CD_WORDS; i++) used[i] = (used[i]! & ~EPD0_IGNORED[i]!) >>> 0;
  }
  return used;
}

/** cdUsedBits()'s three possible answers, precomputed (for cdUsedBitsShared). */
const USED_V_ONLY = cdUsedBits(new Uint32Array(CD_WORDS));
const USED_ALL = (() => {
  const w = new Uint32Array(CD_WORDS);
  setBit(w, 0, 31, true);
  return cdUsedBits(w);
})();
const USED_EPD0 = (() => {
  const w = new Uint32Array(CD_WORDS);
  setBit(w, 0, 31, true);
  setBit(w, 0, 14, true);
  return cdUsedBits(w);
})();

/**
 * cdUsedBits() without allocating: the same bits, as a shared array that the caller must not modify or keep
 * (writeEntry and planEntryWrite only read it).
 */
export function cdUsedBitsShared(w: Uint32Array): Uint32Array {
  if (((w[0]! >>> 31) & 1) === 0) return USED_V_ONLY;
  return ((w[0]! >>> 14) & 1) === 1 ? USED_EPD0 : USED_ALL;
}

/** A level-1 CD table descriptor (8 bytes = 2 words), as arm_smmu_write_cd_l1_desc(): V bit 0, L2Ptr [51:12]. */
export function encodeCdL1(l2ptr: number, valid: boolean): Uint32Array {
  const w = new Uint32Array(2);
  setF(w, CD_L1_FIELD.V, valid ? 1 : 0);
  setF(w, CD_L1_FIELD.L2PTR, Math.floor(l2ptr / 2 ** 12));
  return w;
}

/** Reads a level-1 CD table descriptor (the first 2 words of `w`). */
export function decodeCdL1(w: Uint32Array): { valid: boolean; l2ptr: number } {
  return { valid: getF(w, CD_L1_FIELD.V) === 1, l2ptr: getF(w, CD_L1_FIELD.L2PTR) * 2 ** 12 };
}
