/**
 * STEs and CDs as the kernel's make functions build them, over the encoders of src-main/sim/hw, for the tests:
 * arm_smmu_make_abort_ste, arm_smmu_make_bypass_ste, arm_smmu_make_cdtable_ste, arm_smmu_make_s2_domain_ste
 * (arm-smmu-v3.c), arm_smmu_make_s1_cd (arm-smmu-v3.c), arm_smmu_make_sva_cd (arm-smmu-v3-sva.c), Linux 6.17-rc4.
 */
import { setF } from '../../src-main/sim/hw/bits.js';
import { encodeCd, TCR_RGN, TCR_SH, TG0 } from '../../src-main/sim/hw/cd.js';
import {
  ARM_SMMU_SH,
  EATS,
  encodeSte,
  S1C_CACHE,
  S1DSS,
  SHCFG_INCOMING,
  STE_CONFIG,
  STE_FIELD,
  STRW,
} from '../../src-main/sim/hw/ste.js';

/** The ARM_SMMU_FEAT_* bits the make functions look at. */
export interface SmmuFeat {
  stalls?: boolean;
  stallForce?: boolean;
  attrTypesOvr?: boolean;
  e2h?: boolean;
}

/** The KUnit suite's smmu: ARM_SMMU_FEAT_STALLS | ARM_SMMU_FEAT_ATTR_TYPES_OVR. */
export const KUNIT_SMMU: SmmuFeat = { stalls: true, attrTypesOvr: true };

export function makeAbortSte(): Uint32Array {
  return encodeSte({ v: true, config: STE_CONFIG.ABORT });
}

export function makeBypassSte(smmu: SmmuFeat): Uint32Array {
  return encodeSte({ v: true, config: STE_CONFIG.BYPASS, shcfg: smmu.attrTypesOvr ? SHCFG_INCOMING : 0 });
}

export interface CdTableCfg {
  cdtabDma: number;
  s1fmt: number;
  s1cdmax: number;
}

export function makeCdtableSte(
  smmu: SmmuFeat,
  cd: CdTableCfg,
  master: { stallEnabled?: boolean },
  ats: boolean,
  s1dss: number,
): Uint32Array {
  return encodeSte({
    v: true,
    config: STE_CONFIG.S1_TRANS,
    s1fmt: cd.s1fmt,
    s1ContextPtr: cd.cdtabDma,
    s1CdMax: cd.s1cdmax,
    s1dss,
    s1cir: S1C_CACHE.WBRA,
    s1cor: S1C_CACHE.WBRA,
    s1csh: ARM_SMMU_SH.ISH,
    s1stalld: !!smmu.stalls && !master.stallEnabled,
    eats: ats ? EATS.TRANS : EATS.ABT,
    shcfg: smmu.attrTypesOvr && s1dss === S1DSS.BYPASS ? SHCFG_INCOMING : 0,
    strw: smmu.e2h ? STRW.EL2 : STRW.NSEL1,
    s2vmid: 0, // "VMID 0 is reserved for stage-2 bypass EL1 STEs"
  });
}

export interface S2Cfg {
  vmid: number;
  vttbr: number;
  vtcr: { tsz: number; sl: number; irgn: number; orgn: number; sh: number; tg: number; ps: number };
  s2fwb?: boolean;
}

export function makeS2Ste(smmu: SmmuFeat, s2: S2Cfg, master: { stallEnabled?: boolean }, ats: boolean): Uint32Array {
  const w = encodeSte({
    v: true,
    config: STE_CONFIG.S2_TRANS,
    eats: ats ? EATS.TRANS : EATS.ABT,
    s2fwb: !!s2.s2fwb,
    shcfg: smmu.attrTypesOvr ? SHCFG_INCOMING : 0,
    s2vmid: s2.vmid,
    s2t0sz: s2.vtcr.tsz,
    s2sl0: s2.vtcr.sl,
    s2tg: s2.vtcr.tg,
    s2ps: s2.vtcr.ps,
    s2aa64: true,
    s2r: true,
    s2ttb: s2.vttbr,
  });
  // Fields SteFields does not carry.
  setF(w, STE_FIELD.S2IR0, s2.vtcr.irgn);
  setF(w, STE_FIELD.S2OR0, s2.vtcr.orgn);
  setF(w, STE_FIELD.S2SH0, s2.vtcr.sh);
  setF(w, STE_FIELD.S2PTW, 1);
  setF(w, STE_FIELD.S2S, master.stallEnabled ? 1 : 0);
  return w;
}

function mairHalves(mair: bigint): { mairLo: number; mairHi: number } {
  return { mairLo: Number(mair & 0xffffffffn), mairHi: Number((mair >> 32n) & 0xffffffffn) };
}

export interface S1CdCfg {
  asid: number;
  ttbr: number;
  tcr: { tsz: number; tg: number; irgn: number; orgn: number; sh: number; ips: number };
  mair: bigint;
  hd?: boolean;
}

export function makeS1Cd(cfg: S1CdCfg, master: { stallEnabled?: boolean }): Uint32Array {
  return encodeCd({
    t0sz: cfg.tcr.tsz,
    tg0: cfg.tcr.tg,
    irgn0: cfg.tcr.irgn,
    orgn0: cfg.tcr.orgn,
    sh0: cfg.tcr.sh,
    epd1: true,
    v: true,
    ips: cfg.tcr.ips,
    aa64: true,
    s: !!master.stallEnabled,
    r: true,
    a: true,
    aset: true,
    asid: cfg.asid,
    ha: !!cfg.hd,
    hd: !!cfg.hd,
    ttb0: cfg.ttbr,
    ...mairHalves(cfg.mair),
  });
}

export interface SvaMm {
  pgd: number;
  vabits: number;
  pageSize: 4096 | 16384 | 65536;
}

/** arm_smmu_make_sva_cd(); mm = null builds the fault-everything CD of arm_smmu_mm_release(). */
export function makeSvaCd(
  smmu: SmmuFeat,
  master: { stallEnabled?: boolean },
  mm: SvaMm | null,
  asid: number,
  cpu: { parange: number; mair: bigint } = { parange: 5, mair: 0x000000ff440c0400n },
): Uint32Array {
  const stall = !!master.stallEnabled;
  const keepSR = mm !== null || !!smmu.stallForce;
  const tg = mm === null ? 0 : mm.pageSize === 65536 ? TG0.SZ_64K : mm.pageSize === 16384 ? TG0.SZ_16K : TG0.SZ_4K;
  return encodeCd({
    epd1: true,
    v: true,
    ips: cpu.parange,
    aa64: true,
    s: stall && keepSR,
    r: keepSR,
    a: true,
    aset: true,
    asid,
    ...(mm
      ? { t0sz: 64 - mm.vabits, tg0: tg, irgn0: TCR_RGN.WBWA, orgn0: TCR_RGN.WBWA, sh0: TCR_SH.IS, ttb0: mm.pgd }
      : { epd0: true }),
    ...mairHalves(cpu.mair),
  });
}
