/**
 * Stream table entries (64 bytes, STRTAB_STE_DWORDS = 8) and level-1 stream table descriptors, bit-exact.
 *
 * Field positions follow drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h (Linux 6.17-rc4, the commit named in
 * kernel-semantics.md §0): STRTAB_STE_0_*, STRTAB_STE_1_*, STRTAB_STE_2_*, STRTAB_STE_3_*, STRTAB_L1_DESC_*.
 * Cross-checked against QEMU hw/arm/smmuv3-internal.h (STE_VALID, STE_CONFIG, STE_S1FMT, STE_S1CDMAX, STE_S1STALLD,
 * STE_EATS, STE_STRW, STE_S2VMID, STE_S2T0SZ, STE_S2SL0, STE_S2TG, STE_S2PS, STE_S2AA64, STE_S2S, STE_CTXPTR,
 * STE_S2TTB, which index 32-bit words: word[2i+1] bit b = dword i bit 32+b). Where they differ we follow the kernel:
 *  - QEMU extracts only address bits [47:x] of S1ContextPtr and S2TTB; the kernel masks are [51:x] (the SMMUv3 spec
 *    text in wuyongzheng/arm-md-specs smmu/smmu-5.2.md gives S1ContextPtr as [55:6], for 56-bit OAs);
 *  - QEMU's STE_S2S reads word[5] bit 26 = STE bit 186, which the kernel (STRTAB_STE_2_S2R, 1 << 58 of dword 2)
 *    and the same spec text call S2R; S2S is bit 185 (dword 2 bit 57, STRTAB_STE_2_S2S).
 *
 * Used bits follow arm_smmu_get_ste_used() in arm-smmu-v3.c.
 */

import { type FieldPos, getBit, getF, markF, setBit, setF } from './bits.js';

/** STRTAB_STE_DWORDS = 8: a 64-byte STE is 16 32-bit words. */
export const STE_WORDS = 16;
export const STRTAB_STE_DWORDS = 8;

/** STRTAB_STE_0_CFG values (arm-smmu-v3.h STRTAB_STE_0_CFG_*). 1..3 are reserved. */
export const STE_CONFIG = { ABORT: 0, BYPASS: 4, S1_TRANS: 5, S2_TRANS: 6, NESTED: 7 } as const;
/** STRTAB_STE_1_S1DSS_* (arm-smmu-v3.h). 3 is reserved. */
export const S1DSS = { TERMINATE: 0, BYPASS: 1, SSID0: 2 } as const;
/**
 * STRTAB_STE_0_S1FMT: LINEAR 0 and 64K_L2 2 are arm-smmu-v3.h's STRTAB_STE_0_S1FMT_LINEAR / _64K_L2; L2_4K = 1 is
 * the SMMUv3 spec's 2-level table with 4 KB leaves, which Linux never uses and arm-smmu-v3.h does not name.
 */
export const S1FMT = { LINEAR: 0, L2_4K: 1, L2_64K: 2 } as const;
/** STRTAB_STE_1_EATS_* (arm-smmu-v3.h). */
export const EATS = { ABT: 0, TRANS: 1, S1CHK: 2 } as const;
/** STRTAB_STE_1_STRW_* (arm-smmu-v3.h). */
export const STRW = { NSEL1: 0, EL2: 2 } as const;
/** STRTAB_STE_1_SHCFG_INCOMING (arm-smmu-v3.h). */
export const SHCFG_INCOMING = 1;
/** STRTAB_STE_1_S1C_CACHE_* (arm-smmu-v3.h), for S1CIR/S1COR. */
export const S1C_CACHE = { NC: 0, WBRA: 1, WT: 2, WB: 3 } as const;
/** ARM_SMMU_SH_* (arm-smmu-v3.h), for S1CSH. */
export const ARM_SMMU_SH = { NSH: 0, OSH: 2, ISH: 3 } as const;
/** STRTAB_SPLIT + 1, the SPAN Linux writes in every L1 descriptor (arm_smmu_write_strtab_l1_desc). */
export const STRTAB_L1_SPAN = 9;

/** Every STE field of arm-smmu-v3.h as [dword, hi, lo]. */
export const STE_FIELD = {
  V: [0, 0, 0], // STRTAB_STE_0_V
  CFG: [0, 3, 1], // STRTAB_STE_0_CFG
  S1FMT: [0, 5, 4], // STRTAB_STE_0_S1FMT
  S1CTXPTR: [0, 51, 6], // STRTAB_STE_0_S1CTXPTR_MASK
  S1CDMAX: [0, 63, 59], // STRTAB_STE_0_S1CDMAX
  S1DSS: [1, 1, 0], // STRTAB_STE_1_S1DSS
  S1CIR: [1, 3, 2], // STRTAB_STE_1_S1CIR
  S1COR: [1, 5, 4], // STRTAB_STE_1_S1COR
  S1CSH: [1, 7, 6], // STRTAB_STE_1_S1CSH
  MEV: [1, 19, 19], // STRTAB_STE_1_MEV
  S2FWB: [1, 25, 25], // STRTAB_STE_1_S2FWB
  S1STALLD: [1, 27, 27], // STRTAB_STE_1_S1STALLD
  EATS: [1, 29, 28], // STRTAB_STE_1_EATS
  STRW: [1, 31, 30], // STRTAB_STE_1_STRW
  SHCFG: [1, 45, 44], // STRTAB_STE_1_SHCFG
  S2VMID: [2, 15, 0], // STRTAB_STE_2_S2VMID
  VTCR: [2, 50, 32], // STRTAB_STE_2_VTCR; the VTCR sub-fields below are STRTAB_STE_2_VTCR_* shifted by 32
  S2T0SZ: [2, 37, 32], // STRTAB_STE_2_VTCR_S2T0SZ [5:0]
  S2SL0: [2, 39, 38], // STRTAB_STE_2_VTCR_S2SL0 [7:6]
  S2IR0: [2, 41, 40], // STRTAB_STE_2_VTCR_S2IR0 [9:8]
  S2OR0: [2, 43, 42], // STRTAB_STE_2_VTCR_S2OR0 [11:10]
  S2SH0: [2, 45, 44], // STRTAB_STE_2_VTCR_S2SH0 [13:12]
  S2TG: [2, 47, 46], // STRTAB_STE_2_VTCR_S2TG [15:14]
  S2PS: [2, 50, 48], // STRTAB_STE_2_VTCR_S2PS [18:16]
  S2AA64: [2, 51, 51], // STRTAB_STE_2_S2AA64
  S2ENDI: [2, 52, 52], // STRTAB_STE_2_S2ENDI
  S2PTW: [2, 54, 54], // STRTAB_STE_2_S2PTW
  S2S: [2, 57, 57], // STRTAB_STE_2_S2S
  S2R: [2, 58, 58], // STRTAB_STE_2_S2R
  S2TTB: [3, 51, 4], // STRTAB_STE_3_S2TTB_MASK
} as const satisfies Record<string, FieldPos>;

/** STRTAB_L1_DESC_SPAN and STRTAB_L1_DESC_L2PTR_MASK (arm-smmu-v3.h), in dword 0 of the 8-byte descriptor. */
export const STRTAB_L1_FIELD = {
  SPAN: [0, 4, 0],
  L2PTR: [0, 51, 6],
} as const satisfies Record<string, FieldPos>;

export interface SteFields {
  v: boolean;
  config: number;
  s1fmt: number;
  /** PA of the CD table, bits [51:6] (lower bits are dropped, as `cdtab_dma & STRTAB_STE_0_S1CTXPTR_MASK`). */
  s1ContextPtr: number;
  s1CdMax: number;
  s1dss: number;
  s1cir: number;
  s1cor: number;
  s1csh: number;
  mev: boolean;
  s2fwb: boolean;
  s1stalld: boolean;
  eats: number;
  strw: number;
  shcfg: number;
  s2vmid: number;
  s2t0sz: number;
  s2sl0: number;
  s2tg: number;
  s2ps: number;
  s2aa64: boolean;
  s2r: boolean;
  /** PA of the stage-2 table, bits [51:4]. */
  s2ttb: number;
}

/**
 * Builds an STE from fields (missing ones 0/false). Values wider than their field are truncated (FIELD_PREP); the
 * two pointers keep only their address bits. S2IR0/S2OR0/S2SH0/S2ENDI/S2PTW/S2S have no SteFields member: set them
 * with setF(w, STE_FIELD.S2PTW, 1) etc. if needed.
 */
export function encodeSte(f: Partial<SteFields>): Uint32Array {
  const w = new Uint32Array(STE_WORDS);
  setBit(w, 0, 0, !!f.v);
  setF(w, STE_FIELD.CFG, f.config ?? 0);
  setF(w, STE_FIELD.S1FMT, f.s1fmt ?? 0);
  setF(w, STE_FIELD.S1CTXPTR, Math.floor((f.s1ContextPtr ?? 0) / 2 ** 6));
  setF(w, STE_FIELD.S1CDMAX, f.s1CdMax ?? 0);
  setF(w, STE_FIELD.S1DSS, f.s1dss ?? 0);
  setF(w, STE_FIELD.S1CIR, f.s1cir ?? 0);
  setF(w, STE_FIELD.S1COR, f.s1cor ?? 0);
  setF(w, STE_FIELD.S1CSH, f.s1csh ?? 0);
  setF(w, STE_FIELD.MEV, f.mev ? 1 : 0);
  setF(w, STE_FIELD.S2FWB, f.s2fwb ? 1 : 0);
  setF(w, STE_FIELD.S1STALLD, f.s1stalld ? 1 : 0);
  setF(w, STE_FIELD.EATS, f.eats ?? 0);
  setF(w, STE_FIELD.STRW, f.strw ?? 0);
  setF(w, STE_FIELD.SHCFG, f.shcfg ?? 0);
  setF(w, STE_FIELD.S2VMID, f.s2vmid ?? 0);
  setF(w, STE_FIELD.S2T0SZ, f.s2t0sz ?? 0);
  setF(w, STE_FIELD.S2SL0, f.s2sl0 ?? 0);
  setF(w, STE_FIELD.S2TG, f.s2tg ?? 0);
  setF(w, STE_FIELD.S2PS, f.s2ps ?? 0);
  setF(w, STE_FIELD.S2AA64, f.s2aa64 ? 1 : 0);
  setF(w, STE_FIELD.S2R, f.s2r ? 1 : 0);
  setF(w, STE_FIELD.S2TTB, Math.floor((f.s2ttb ?? 0) / 2 ** 4));
  return w;
}

/** Reads every SteFields member from a 16-word STE. */
export function decodeSte(w: Uint32Array): SteFields {
  return {
    v: getBit(w, 0, 0),
    config: getF(w, STE_FIELD.CFG),
    s1fmt: getF(w, STE_FIELD.S1FMT),
    s1ContextPtr: getF(w, STE_FIELD.S1CTXPTR) * 2 ** 6,
    s1CdMax: getF(w, STE_FIELD.S1CDMAX),
    s1dss: getF(w, STE_FIELD.S1DSS),
    s1cir: getF(w, STE_FIELD.S1CIR),
    s1cor: getF(w, STE_FIELD.S1COR),
    s1csh: getF(w, STE_FIELD.S1CSH),
    mev: getF(w, STE_FIELD.MEV) === 1,
    s2fwb: getF(w, STE_FIELD.S2FWB) === 1,
    s1stalld: getF(w, STE_FIELD.S1STALLD) === 1,
    eats: getF(w, STE_FIELD.EATS),
    strw: getF(w, STE_FIELD.STRW),
    shcfg: getF(w, STE_FIELD.SHCFG),
    s2vmid: getF(w, STE_FIELD.S2VMID),
    s2t0sz: getF(w, STE_FIELD.S2T0SZ),
    s2sl0: getF(w, STE_FIELD.S2SL0),
    s2tg: getF(w, STE_FIELD.S2TG),
    s2ps: getF(w, STE_FIELD.S2PS),
    s2aa64: getF(w, STE_FIELD.S2AA64) === 1,
    s2r: getF(w, STE_FIELD.S2R) === 1,
    s2ttb: getF(w, STE_FIELD.S2TTB) * 2 ** 4,
  };
}

function maskOf(fields: readonly FieldPos[]): Uint32Array {
  const m = new Uint32Array(STE_WORDS);
  for (const f of fields) markF(m, f);
  return m;
}

// The masks arm_smmu_get_ste_used() ORs in, precomputed.
const USED_V = maskOf([STE_FIELD.V]);
const USED_CFG = maskOf([STE_FIELD.CFG]);
/** cfg & BIT(0): "S1 translates". */
const USED_S1 = maskOf([
  STE_FIELD.S1FMT,
  STE_FIELD.S1CTXPTR,
  STE_FIELD.S1CDMAX,
  STE_FIELD.S1DSS,
  STE_FIELD.S1CIR,
  STE_FIELD.S1COR,
  STE_FIELD.S1CSH,
  STE_FIELD.S1STALLD,
  STE_FIELD.STRW,
  STE_FIELD.EATS,
  STE_FIELD.MEV,
  STE_FIELD.S2VMID,
]);
/** cfg & BIT(1): "S2 translates". */
const USED_S2 = maskOf([
  STE_FIELD.S2FWB,
  STE_FIELD.EATS,
  STE_FIELD.SHCFG,
  STE_FIELD.MEV,
  STE_FIELD.S2VMID,
  STE_FIELD.VTCR,
  STE_FIELD.S2AA64,
  STE_FIELD.S2ENDI,
  STE_FIELD.S2PTW,
  STE_FIELD.S2S,
  STE_FIELD.S2R,
  STE_FIELD.S2TTB,
]);
const USED_SHCFG = maskOf([STE_FIELD.SHCFG]);

function orInto(dst: Uint32Array, src: Uint32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = (dst[i]! | src[i]!) >>> 0;
}

/**
 * The bits the SMMU reads for this STE, after arm_smmu_get_ste_used() (arm-smmu-v3.c): V always; if V, Config; if
 * Config has bit 0 (S1 translates) the S1 fields, STRW, EATS, MEV and S2VMID, plus SHCFG when S1DSS is BYPASS; if
 * Config has bit 1 (S2 translates) S2FWB, EATS, SHCFG, MEV and the stage-2 dwords 2-3; a bypass STE reads SHCFG.
 * Like the kernel's, it covers the bits Linux uses, not every field of the spec.
 */
export function steUsedBits(w: Uint32Array): Uint32Array {
  const used = USED_V.slice();
  if (!getBit(w, 0, 0)) return used;
  orInto(used, USED_CFG);
  const cfg = getF(w, STE_FIELD.CFG);
  if (cfg & 1) {
    orInto(used, USED_S1);
    // "See 13.5 Summary of attribute/permission configuration fields for the SHCFG behavior."
    if (getF(w, STE_FIELD.S1DSS) === S1DSS.BYPASS) orInto(used, USED_SHCFG);
  }
  if (cfg & 2) orInto(used, USED_S2);
  if (cfg === STE_CONFIG.BYPASS) orInto(used, USED_SHCFG);
  return used;
}

/**
 * A level-1 stream table descriptor (8 bytes = 2 words), as arm_smmu_write_strtab_l1_desc() builds it:
 * SPAN [4:0] (Linux writes STRTAB_SPLIT + 1 = 9; 0 means invalid) and L2Ptr [51:6].
 */
export function encodeStrtabL1(l2ptr: number, span: number): Uint32Array {
  const w = new Uint32Array(2);
  setF(w, STRTAB_L1_FIELD.SPAN, span);
  setF(w, STRTAB_L1_FIELD.L2PTR, Math.floor(l2ptr / 2 ** 6));
  return w;
}

/** Reads a level-1 stream table descriptor (the first 2 words of `w`). */
export function decodeStrtabL1(w: Uint32Array): { l2ptr: number; span: number } {
  return { l2ptr: getF(w, STRTAB_L1_FIELD.L2PTR) * 2 ** 6, span: getF(w, STRTAB_L1_FIELD.SPAN) };
}
