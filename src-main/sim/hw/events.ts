/**
 * Event queue records (32 bytes, EVTQ_ENT_DWORDS = 4), bit-exact.
 *
 * Field positions are arm-smmu-v3.h's EVTQ_0_ID, EVTQ_0_SSV, EVTQ_0_SSID, EVTQ_0_SID, EVTQ_1_STAG, EVTQ_1_STALL,
 * EVTQ_1_PnU, EVTQ_1_InD, EVTQ_1_RnW, EVTQ_2_ADDR, EVTQ_3_IPA (Linux 6.17-rc4). Cross-checked against QEMU
 * hw/arm/smmuv3-internal.h EVT_SET_TYPE/SSV/SSID/SID/STAG/STALL/PNU/IND/RNW/ADDR/ADDR2: same positions (QEMU's
 * word[3] bits 1/2/3 = dword 1 bits 33/34/35, word[4..5] = dword 2).
 *
 * Event numbers: the kernel header's EVT_ID_* (0x02, 0x03, 0x04, 0x06, 0x08, 0x09, 0x0a, 0x10-0x13, 0x25, the same
 * list as kernel-semantics.md §1), completed from QEMU's SMMUEventType (F_UUT 0x01, F_BAD_ATS_TREQ 0x05,
 * F_TRANSL_FORBIDDEN 0x07, F_WALK_EABT 0x0b, F_TLB_CONFLICT 0x20, F_CFG_CONFLICT 0x21, E_PAGE_REQUEST 0x24), which
 * follows the SMMUv3 spec's event table. The names are the spec's (QEMU's), not the kernel's EVT_ID_* names.
 */

import { type FieldPos, getBit, getF, setBit, setF } from './bits.js';

/** EVTQ_ENT_DWORDS = 4: an event record is 8 32-bit words. */
export const EVT_WORDS = 8;

export const EVENT_IDS = {
  F_UUT: 0x01, // QEMU SMMU_EVT_F_UUT
  C_BAD_STREAMID: 0x02, // EVT_ID_BAD_STREAMID_CONFIG
  F_STE_FETCH: 0x03, // EVT_ID_STE_FETCH_FAULT
  C_BAD_STE: 0x04, // EVT_ID_BAD_STE_CONFIG
  F_BAD_ATS_TREQ: 0x05, // QEMU SMMU_EVT_F_BAD_ATS_TREQ
  F_STREAM_DISABLED: 0x06, // EVT_ID_STREAM_DISABLED_FAULT
  F_TRANSL_FORBIDDEN: 0x07, // QEMU SMMU_EVT_F_TRANS_FORBIDDEN
  C_BAD_SUBSTREAMID: 0x08, // EVT_ID_BAD_SUBSTREAMID_CONFIG
  F_CD_FETCH: 0x09, // EVT_ID_CD_FETCH_FAULT
  C_BAD_CD: 0x0a, // EVT_ID_BAD_CD_CONFIG
  F_WALK_EABT: 0x0b, // QEMU SMMU_EVT_F_WALK_EABT (not in arm-smmu-v3.h)
  F_TRANSLATION: 0x10, // EVT_ID_TRANSLATION_FAULT
  F_ADDR_SIZE: 0x11, // EVT_ID_ADDR_SIZE_FAULT
  F_ACCESS: 0x12, // EVT_ID_ACCESS_FAULT
  F_PERMISSION: 0x13, // EVT_ID_PERMISSION_FAULT
  F_TLB_CONFLICT: 0x20, // QEMU SMMU_EVT_F_TLB_CONFLICT
  F_CFG_CONFLICT: 0x21, // QEMU SMMU_EVT_F_CFG_CONFLICT
  E_PAGE_REQUEST: 0x24, // QEMU SMMU_EVT_E_PAGE_REQ
  F_VMS_FETCH: 0x25, // EVT_ID_VMS_FETCH_FAULT
} as const;

export type EventName = keyof typeof EVENT_IDS;

/**
 * The events arm_smmu_handle_event() accepts (it returns -EOPNOTSUPP and dumps the record for the others):
 * BAD_STE_CONFIG, STREAM_DISABLED, BAD_SUBSTREAMID, BAD_CD, TRANSLATION, ADDR_SIZE, ACCESS, PERMISSION
 * (kernel-semantics.md §5.9).
 */
export const EVENTS_HANDLED_BY_LINUX: readonly EventName[] = [
  'C_BAD_STE',
  'F_STREAM_DISABLED',
  'C_BAD_SUBSTREAMID',
  'C_BAD_CD',
  'F_TRANSLATION',
  'F_ADDR_SIZE',
  'F_ACCESS',
  'F_PERMISSION',
];

export interface EventRecord {
  id: EventName;
  sid: number;
  ssv: boolean;
  ssid: number;
  stall: boolean;
  stag: number;
  /** RnW: 1 = read. */
  rnw: boolean;
  pnu: boolean;
  ind: boolean;
  /** Input address (EVTQ_2_ADDR, 64 bits; numbers here stop at 2^53). */
  addr: number;
  /** EVTQ_3_IPA [51:12], for stage-2 faults: the IPA with its page offset dropped. */
  ipa?: number;
}

export const EVTQ_FIELD = {
  ID: [0, 7, 0], // EVTQ_0_ID
  SSV: [0, 11, 11], // EVTQ_0_SSV
  SSID: [0, 31, 12], // EVTQ_0_SSID
  SID: [0, 63, 32], // EVTQ_0_SID
  STAG: [1, 15, 0], // EVTQ_1_STAG
  STALL: [1, 31, 31], // EVTQ_1_STALL
  PNU: [1, 33, 33], // EVTQ_1_PnU
  IND: [1, 34, 34], // EVTQ_1_InD
  RNW: [1, 35, 35], // EVTQ_1_RnW
  S2: [1, 39, 39], // EVTQ_1_S2 (not in EventRecord)
  CLASS: [1, 41, 40], // EVTQ_1_CLASS (not in EventRecord)
  IPA: [3, 51, 12], // EVTQ_3_IPA
} as const satisfies Record<string, FieldPos>;

const NAME_BY_ID = new Map<number, EventName>(
  (Object.entries(EVENT_IDS) as [EventName, number][]).map(([name, id]) => [id, name]),
);

/** The event name of an event number, or undefined (reserved / IMPDEF). */
export function eventNameOf(id: number): EventName | undefined {
  return NAME_BY_ID.get(id);
}

const TWO32 = 0x1_0000_0000;

/** Encodes an event record: every field of `e` at its EVTQ_* position, dword 2 = the input address. */
export function encodeEvent(e: EventRecord): Uint32Array {
  const w = new Uint32Array(EVT_WORDS);
  const id = EVENT_IDS[e.id];
  if (id === undefined) throw new RangeError(`unknown event ${String(e.id)}`);
  setF(w, EVTQ_FIELD.ID, id);
  setBit(w, 0, 11, e.ssv);
  setF(w, EVTQ_FIELD.SSID, e.ssid);
  setF(w, EVTQ_FIELD.SID, e.sid);
  setF(w, EVTQ_FIELD.STAG, e.stag);
  setBit(w, 1, 31, e.stall);
  setBit(w, 1, 33, e.pnu);
  setBit(w, 1, 34, e.ind);
  setBit(w, 1, 35, e.rnw);
  if (!Number.isInteger(e.addr) || e.addr < 0 || e.addr > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`event address ${e.addr} is not an integer in [0, 2^53)`);
  }
  // EVTQ_2_ADDR is all 64 bits of dword 2: words 4 (low) and 5 (high).
  w[4] = e.addr % TWO32;
  w[5] = Math.floor(e.addr / TWO32);
  if (e.ipa !== undefined) setF(w, EVTQ_FIELD.IPA, Math.floor(e.ipa / 2 ** 12));
  return w;
}

/**
 * Decodes an event record. `ipa` is present only when EVTQ_3_IPA is non-zero [U: the record has no "IPA valid"
 * flag among the fields modelled here]. An unknown event number throws a RangeError (check eventNameOf first).
 */
export function decodeEvent(w: Uint32Array): EventRecord {
  const code = getF(w, EVTQ_FIELD.ID);
  const id = eventNameOf(code);
  if (id === undefined) throw new RangeError(`unknown event number 0x${code.toString(16)}`);
  const rec: EventRecord = {
    id,
    sid: getF(w, EVTQ_FIELD.SID),
    ssv: getBit(w, 0, 11),
    ssid: getF(w, EVTQ_FIELD.SSID),
    stall: getBit(w, 1, 31),
    stag: getF(w, EVTQ_FIELD.STAG),
    rnw: getBit(w, 1, 35),
    pnu: getBit(w, 1, 33),
    ind: getBit(w, 1, 34),
    addr: w[4]! + w[5]! * TWO32,
  };
  const ipa = getF(w, EVTQ_FIELD.IPA) * 2 ** 12;
  if (ipa !== 0) rec.ipa = ipa;
  return rec;
}
