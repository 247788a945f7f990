/**
 * Command queue entries (16 bytes, CMDQ_ENT_DWORDS = 2), bit-exact, for the commands the lab issues.
 *
 * Opcodes are arm-smmu-v3.h's CMDQ_OP_*; field positions are its CMDQ_0_*, CMDQ_CFGI_*, CMDQ_TLBI_*, CMDQ_ATC_*,
 * CMDQ_PRI_*, CMDQ_RESUME_*, CMDQ_SYNC_* masks; which fields each opcode carries follows arm_smmu_cmdq_build_cmd()
 * in arm-smmu-v3.c (Linux 6.17-rc4). Cross-checked against QEMU hw/arm/smmuv3-internal.h CMD_TYPE/CMD_SSV/CMD_SSID/
 * CMD_SID/CMD_VMID/CMD_ASID/CMD_LEAF/CMD_RESUME_STAG/CMD_ADDR: same positions. QEMU's CMD_RESP reads dword 1 bits
 * [12:11], the kernel's CMDQ_PRI_1_RESP is [13:12]; we follow the kernel (QEMU does not implement PRI_RESP).
 */

import { type FieldPos, getBit, getF, setBit, setF } from './bits.js';

/** CMDQ_ENT_DWORDS = 2: a command is 4 32-bit words. */
export const CMD_WORDS = 4;

export type CmdOp =
  | 'CFGI_STE'
  | 'CFGI_CD'
  | 'CFGI_CD_ALL'
  | 'CFGI_ALL'
  | 'TLBI_NH_ASID'
  | 'TLBI_NH_VA'
  | 'TLBI_NSNH_ALL'
  | 'ATC_INV'
  | 'PRI_RESP'
  | 'RESUME'
  | 'CMD_SYNC';

export interface Cmd {
  op: CmdOp;
  sid?: number;
  ssid?: number;
  leaf?: boolean;
  asid?: number;
  vmid?: number;
  addr?: number;
  /** ATC_INV: log2 of the span in pages (CMDQ_ATC_1_SIZE; ATC_INV_SIZE_ALL = 52 invalidates everything). */
  size?: number;
  ssv?: boolean;
  stag?: number;
  /** RESUME: retry | abort | terminate. PRI_RESP: success | deny | failure. */
  resp?: 'retry' | 'abort' | 'terminate' | 'success' | 'deny' | 'failure';
  grpid?: number;
}

/** CMDQ_OP_* of arm-smmu-v3.h for the modelled commands (kernel-semantics.md §1 lists the same numbers). */
export const CMD_OPCODES = {
  CFGI_STE: 0x03,
  CFGI_ALL: 0x04,
  CFGI_CD: 0x05,
  CFGI_CD_ALL: 0x06,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NSNH_ALL: 0x30,
  ATC_INV: 0x40,
  PRI_RESP: 0x41,
  RESUME: 0x44,
  CMD_SYNC: 0x46,
} as const satisfies Record<CmdOp, number>;

/**
 * The other CMDQ_OP_* Linux can issue (arm-smmu-v3.h), which this model does not encode: a command queue that
 * meets one can tell "valid but unmodelled" from CERROR_ILL.
 */
export const UNMODELLED_CMD_OPCODES = {
  PREFETCH_CFG: 0x01,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_VAA: 0x13,
  TLBI_EL2_ALL: 0x20,
  TLBI_EL2_ASID: 0x21,
  TLBI_EL2_VA: 0x22,
  TLBI_S12_VMALL: 0x28,
  TLBI_S2_IPA: 0x2a,
} as const;

/** ATC_INV_SIZE_ALL (arm-smmu-v3.h). */
export const ATC_INV_SIZE_ALL = 52;

/** Command fields of arm-smmu-v3.h as [dword, hi, lo]. */
export const CMDQ_FIELD = {
  OP: [0, 7, 0], // CMDQ_0_OP
  SSV: [0, 11, 11], // CMDQ_0_SSV
  CFGI_SSID: [0, 31, 12], // CMDQ_CFGI_0_SSID
  CFGI_SID: [0, 63, 32], // CMDQ_CFGI_0_SID
  CFGI_LEAF: [1, 0, 0], // CMDQ_CFGI_1_LEAF
  CFGI_RANGE: [1, 4, 0], // CMDQ_CFGI_1_RANGE
  TLBI_NUM: [0, 16, 12], // CMDQ_TLBI_0_NUM
  TLBI_SCALE: [0, 24, 20], // CMDQ_TLBI_0_SCALE
  TLBI_VMID: [0, 47, 32], // CMDQ_TLBI_0_VMID
  TLBI_ASID: [0, 63, 48], // CMDQ_TLBI_0_ASID
  TLBI_LEAF: [1, 0, 0], // CMDQ_TLBI_1_LEAF
  TLBI_TTL: [1, 9, 8], // CMDQ_TLBI_1_TTL
  TLBI_TG: [1, 11, 10], // CMDQ_TLBI_1_TG
  TLBI_VA: [1, 63, 12], // CMDQ_TLBI_1_VA_MASK
  ATC_GLOBAL: [0, 9, 9], // CMDQ_ATC_0_GLOBAL
  ATC_SSID: [0, 31, 12], // CMDQ_ATC_0_SSID
  ATC_SID: [0, 63, 32], // CMDQ_ATC_0_SID
  ATC_SIZE: [1, 5, 0], // CMDQ_ATC_1_SIZE
  ATC_ADDR: [1, 63, 12], // CMDQ_ATC_1_ADDR_MASK
  PRI_SSID: [0, 31, 12], // CMDQ_PRI_0_SSID
  PRI_SID: [0, 63, 32], // CMDQ_PRI_0_SID
  PRI_GRPID: [1, 8, 0], // CMDQ_PRI_1_GRPID
  PRI_RESP: [1, 13, 12], // CMDQ_PRI_1_RESP
  RESUME_RESP: [0, 13, 12], // CMDQ_RESUME_0_RESP
  RESUME_SID: [0, 63, 32], // CMDQ_RESUME_0_SID
  RESUME_STAG: [1, 15, 0], // CMDQ_RESUME_1_STAG
  SYNC_CS: [0, 13, 12], // CMDQ_SYNC_0_CS
  SYNC_MSH: [0, 23, 22], // CMDQ_SYNC_0_MSH
  SYNC_MSIATTR: [0, 27, 24], // CMDQ_SYNC_0_MSIATTR
} as const satisfies Record<string, FieldPos>;

/** CMDQ_RESUME_0_RESP_* (arm-smmu-v3.h). */
const RESUME_RESP = { terminate: 0, retry: 1, abort: 2 } as const;
/** enum pri_resp: PRI_RESP_DENY / _FAIL / _SUCC (arm-smmu-v3.h). */
const PRI_RESP = { deny: 0, failure: 1, success: 2 } as const;
/** CMDQ_SYNC_0_CS_SEV, ARM_SMMU_SH_ISH, ARM_SMMU_MEMATTR_OIWB: what Linux puts in a CMD_SYNC without MSI polling. */
const SYNC_CS_SEV = 2;
const SH_ISH = 3;
const MEMATTR_OIWB = 0xf;

const OP_BY_CODE = new Map<number, CmdOp>(
  (Object.entries(CMD_OPCODES) as [CmdOp, number][]).map(([name, code]) => [code, name]),
);

/** The modelled command with this opcode, or undefined (unmodelled or illegal). */
export function cmdOpName(opcode: number): CmdOp | undefined {
  return OP_BY_CODE.get(opcode);
}

/** The opcode byte of an encoded command (CMDQ_0_OP). */
export function cmdOpcode(w: Uint32Array): number {
  return getF(w, CMDQ_FIELD.OP);
}

/** Address bits [63:12] (CMDQ_TLBI_1_VA_MASK / CMDQ_ATC_1_ADDR_MASK): the address with its page offset dropped. */
function setAddr(w: Uint32Array, f: FieldPos, addr: number): void {
  // addr & GENMASK_ULL(63, 12); JS numbers stop at 2^53, so bits [63:53] are always 0 here.
  setF(w, [f[0], 52, 12], Math.floor(addr / 2 ** 12));
}

function getAddr(w: Uint32Array, f: FieldPos): number {
  return getF(w, [f[0], 52, 12]) * 2 ** 12;
}

/**
 * Encodes a command as arm_smmu_cmdq_build_cmd() does: the opcode, then only the fields that opcode carries (others
 * in `c` are ignored). CFGI_ALL covers the whole SID range (RANGE = 31); CMD_SYNC is the non-MSI form Linux uses
 * (CS = SEV, MSH = ISH, MSIATTR = OIWB); TLBI NUM/SCALE/TTL/TG are 0 (no range invalidation). A `resp` that does not
 * belong to the opcode throws, as the kernel's -EINVAL for an unknown PRI response.
 */
export function encodeCmd(c: Cmd): Uint32Array {
  const w = new Uint32Array(CMD_WORDS);
  const op = CMD_OPCODES[c.op];
  if (op === undefined) throw new RangeError(`unknown command ${String(c.op)}`);
  setF(w, CMDQ_FIELD.OP, op);
  switch (c.op) {
    case 'CFGI_CD':
    case 'CFGI_STE':
      // The kernel's CFGI_CD case falls through to CFGI_STE after writing the SSID.
      if (c.op === 'CFGI_CD') setF(w, CMDQ_FIELD.CFGI_SSID, c.ssid ?? 0);
      setF(w, CMDQ_FIELD.CFGI_SID, c.sid ?? 0);
      setBit(w, 1, 0, !!c.leaf);
      break;
    case 'CFGI_CD_ALL':
      setF(w, CMDQ_FIELD.CFGI_SID, c.sid ?? 0);
      break;
    case 'CFGI_ALL':
      setF(w, CMDQ_FIELD.CFGI_RANGE, 31);
      break;
    case 'TLBI_NH_VA':
      setF(w, CMDQ_FIELD.TLBI_VMID, c.vmid ?? 0);
      setF(w, CMDQ_FIELD.TLBI_ASID, c.asid ?? 0);
      setBit(w, 1, 0, !!c.leaf);
      setAddr(w, CMDQ_FIELD.TLBI_VA, c.addr ?? 0);
      break;
    case 'TLBI_NH_ASID':
      setF(w, CMDQ_FIELD.TLBI_ASID, c.asid ?? 0);
      setF(w, CMDQ_FIELD.TLBI_VMID, c.vmid ?? 0);
      break;
    case 'TLBI_NSNH_ALL':
      break;
    case 'ATC_INV':
      setBit(w, 0, 11, !!c.ssv);
      setF(w, CMDQ_FIELD.ATC_SSID, c.ssid ?? 0);
      setF(w, CMDQ_FIELD.ATC_SID, c.sid ?? 0);
      setF(w, CMDQ_FIELD.ATC_SIZE, c.size ?? 0);
      setAddr(w, CMDQ_FIELD.ATC_ADDR, c.addr ?? 0);
      break;
    case 'PRI_RESP': {
      const r = c.resp ?? 'deny';
      if (!(r in PRI_RESP)) throw new RangeError(`PRI_RESP cannot carry resp '${r}'`);
      setBit(w, 0, 11, !!c.ssv);
      setF(w, CMDQ_FIELD.PRI_SSID, c.ssid ?? 0);
      setF(w, CMDQ_FIELD.PRI_SID, c.sid ?? 0);
      setF(w, CMDQ_FIELD.PRI_GRPID, c.grpid ?? 0);
      setF(w, CMDQ_FIELD.PRI_RESP, PRI_RESP[r as keyof typeof PRI_RESP]);
      break;
    }
    case 'RESUME': {
      const r = c.resp ?? 'terminate';
      if (!(r in RESUME_RESP)) throw new RangeError(`RESUME cannot carry resp '${r}'`);
      setF(w, CMDQ_FIELD.RESUME_SID, c.sid ?? 0);
      setF(w, CMDQ_FIELD.RESUME_RESP, RESUME_RESP[r as keyof typeof RESUME_RESP]);
      setF(w, CMDQ_FIELD.RESUME_STAG, c.stag ?? 0);
      break;
    }
    case 'CMD_SYNC':
      setF(w, CMDQ_FIELD.SYNC_CS, SYNC_CS_SEV);
      setF(w, CMDQ_FIELD.SYNC_MSH, SH_ISH);
      setF(w, CMDQ_FIELD.SYNC_MSIATTR, MEMATTR_OIWB);
      break;
  }
  return w;
}

const RESUME_BY_CODE = ['terminate', 'retry', 'abort'] as const;
const PRI_BY_CODE = ['deny', 'failure', 'success'] as const;

/**
 * Decodes a command into the fields its opcode carries (exactly those encodeCmd writes for it). An opcode outside
 * CMD_OPCODES, or a reserved RESUME/PRI response code, throws a RangeError: check cmdOpName(cmdOpcode(w)) first to
 * raise CERROR_ILL instead.
 */
export function decodeCmd(w: Uint32Array): Cmd {
  const code = cmdOpcode(w);
  const op = cmdOpName(code);
  if (op === undefined) throw new RangeError(`unmodelled or illegal command opcode 0x${code.toString(16)}`);
  switch (op) {
    case 'CFGI_STE':
      return { op, sid: getF(w, CMDQ_FIELD.CFGI_SID), leaf: getBit(w, 1, 0) };
    case 'CFGI_CD':
      return { op, sid: getF(w, CMDQ_FIELD.CFGI_SID), ssid: getF(w, CMDQ_FIELD.CFGI_SSID), leaf: getBit(w, 1, 0) };
    case 'CFGI_CD_ALL':
      return { op, sid: getF(w, CMDQ_FIELD.CFGI_SID) };
    case 'CFGI_ALL':
    case 'TLBI_NSNH_ALL':
    case 'CMD_SYNC':
      return { op };
    case 'TLBI_NH_ASID':
      return { op, asid: getF(w, CMDQ_FIELD.TLBI_ASID), vmid: getF(w, CMDQ_FIELD.TLBI_VMID) };
    case 'TLBI_NH_VA':
      return {
        op,
        asid: getF(w, CMDQ_FIELD.TLBI_ASID),
        vmid: getF(w, CMDQ_FIELD.TLBI_VMID),
        leaf: getBit(w, 1, 0),
        addr: getAddr(w, CMDQ_FIELD.TLBI_VA),
      };
    case 'ATC_INV':
      return {
        op,
        sid: getF(w, CMDQ_FIELD.ATC_SID),
        ssid: getF(w, CMDQ_FIELD.ATC_SSID),
        ssv: getBit(w, 0, 11),
        size: getF(w, CMDQ_FIELD.ATC_SIZE),
        addr: getAddr(w, CMDQ_FIELD.ATC_ADDR),
      };
    case 'PRI_RESP': {
      const resp = PRI_BY_CODE[getF(w, CMDQ_FIELD.PRI_RESP)];
      if (resp === undefined) throw new RangeError('PRI_RESP with reserved response code 3');
      return {
        op,
        sid: getF(w, CMDQ_FIELD.PRI_SID),
        ssid: getF(w, CMDQ_FIELD.PRI_SSID),
        ssv: getBit(w, 0, 11),
        grpid: getF(w, CMDQ_FIELD.PRI_GRPID),
        resp,
      };
    }
    case 'RESUME': {
      const resp = RESUME_BY_CODE[getF(w, CMDQ_FIELD.RESUME_RESP)];
      if (resp === undefined) throw new RangeError('RESUME with reserved response code 3');
      return { op, sid: getF(w, CMDQ_FIELD.RESUME_SID), stag: getF(w, CMDQ_FIELD.RESUME_STAG), resp };
    }
  }
}
