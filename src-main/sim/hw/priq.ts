/**
 * The PRI queue (SMMUv3 §8, "Page request queue"): where the SMMU writes the PCIe Page Requests (PRI, PCIe Base
 * spec §10.4) that ATS endpoints send after a Translation Request failed. 16-byte records (PRIQ_ENT_DWORDS = 2),
 * bit-exact with arm-smmu-v3.h's PRIQ_0_* / PRIQ_1_* masks:
 *
 *   dword 0: SID [31:0], SSID [51:32], PERM_PRIV 58, PERM_EXEC 59, PERM_READ 60, PERM_WRITE 61, PRG_LAST 62,
 *            SSID_V 63
 *   dword 1: PRG_IDX [8:0] (the Page Request Group index), ADDR [63:12]
 *
 * The driver's consumer is arm_smmu_priq_thread() -> arm_smmu_handle_ppr() (arm-smmu-v3.c), which in mainline only
 * logs "unexpected PRI request received" and answers the last request of each group with CMD_PRI_RESP DENY.
 */
import { type FieldPos, getBit, getF, setBit, setF } from './bits.js';

/** PRIQ_ENT_DWORDS = 2: a PRI queue record is 4 32-bit words. */
export const PRIQ_WORDS = 4;

export const PRIQ_FIELD = {
  SID: [0, 31, 0], // PRIQ_0_SID
  SSID: [0, 51, 32], // PRIQ_0_SSID
  PRG_IDX: [1, 8, 0], // PRIQ_1_PRG_IDX
  ADDR: [1, 63, 12], // PRIQ_1_ADDR_MASK
} as const satisfies Record<string, FieldPos>;

/** Single-bit fields of dword 0, as bit numbers. */
export const PRIQ_BIT = { PERM_PRIV: 58, PERM_EXEC: 59, PERM_READ: 60, PERM_WRITE: 61, PRG_LAST: 62, SSID_V: 63 } as const;

export interface PriRecord {
  sid: number;
  ssv: boolean;
  ssid: number;
  /** Requested permissions. */
  read: boolean;
  write: boolean;
  exec: boolean;
  priv: boolean;
  /** Last request of its Page Request Group: the one a response is due for. */
  last: boolean;
  /** PRG index (9 bits). */
  grpid: number;
  /** The page address (bits [63:12]; JS numbers stop at 2^53). */
  addr: number;
}

/**
 * arm_smmu_handle_ppr()'s dev_info() detail line for a request (after "unexpected PRI request received:"), as the
 * kernel prints it: `sid 0x%08x.0x%05x: [%u%s] %sprivileged %s%s%s access at iova 0x%016llx`.
 */
export function pprLogDetail(r: PriRecord): string {
  const perm = `${r.read ? 'R' : ''}${r.write ? 'W' : ''}${r.exec ? 'X' : ''}`;
  return `sid 0x${r.sid.toString(16).padStart(8, '0')}.0x${r.ssid.toString(16).padStart(5, '0')}: [${r.grpid}${r.last ? 'L' : ''}] ${r.priv ? '' : 'un'}privileged ${perm} access at iova 0x${r.addr.toString(16).padStart(16, '0')}`;
}

export function encodePri(r: PriRecord): Uint32Array {
  const w = new Uint32Array(PRIQ_WORDS);
  setF(w, PRIQ_FIELD.SID, r.sid);
  setF(w, PRIQ_FIELD.SSID, r.ssv ? r.ssid : 0);
  setBit(w, 0, PRIQ_BIT.PERM_PRIV, r.priv);
  setBit(w, 0, PRIQ_BIT.PERM_EXEC, r.exec);
  setBit(w, 0, PRIQ_BIT.PERM_READ, r.read);
  setBit(w, 0, PRIQ_BIT.PERM_WRITE, r.write);
  setBit(w, 0, PRIQ_BIT.PRG_LAST, r.last);
  setBit(w, 0, PRIQ_BIT.SSID_V, r.ssv);
  setF(w, PRIQ_FIELD.PRG_IDX, r.grpid);
  setF(w, [1, 52, 12], Math.floor(r.addr / 4096));
  return w;
}

export function decodePri(w: Uint32Array): PriRecord {
  const ssv = getBit(w, 0, PRIQ_BIT.SSID_V);
  return {
    sid: getF(w, PRIQ_FIELD.SID),
    ssv,
    ssid: ssv ? getF(w, PRIQ_FIELD.SSID) : 0,
    read: getBit(w, 0, PRIQ_BIT.PERM_READ),
    write: getBit(w, 0, PRIQ_BIT.PERM_WRITE),
    exec: getBit(w, 0, PRIQ_BIT.PERM_EXEC),
    priv: getBit(w, 0, PRIQ_BIT.PERM_PRIV),
    last: getBit(w, 0, PRIQ_BIT.PRG_LAST),
    grpid: getF(w, PRIQ_FIELD.PRG_IDX),
    addr: getF(w, [1, 52, 12]) * 4096,
  };
}

/** The PRI queue as the SMMU fills it: bounded, with overflow (SMMU_PRIQ_PROD.OVFLG; requests are then lost). */
export class PriQueue {
  readonly entries: PriRecord[] = [];
  overflowed = 0;
  produced = 0;
  constructor(readonly capacity: number) {}

  push(r: PriRecord): boolean {
    if (this.entries.length >= this.capacity) {
      this.overflowed++;
      return false;
    }
    this.entries.push(r);
    this.produced++;
    return true;
  }

  /** The driver's consumer (arm_smmu_priq_thread): takes everything pending. */
  drain(): PriRecord[] {
    return this.entries.splice(0, this.entries.length);
  }
}
