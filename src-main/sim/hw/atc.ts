/**
 * A PCIe endpoint's Address Translation Cache (PCIe Base spec §10, ATS). An ATS-enabled function asks the SMMU for
 * a translation (an ATS Translation Request), keeps the answer here, and then issues Translated requests carrying
 * the physical address, which the SMMU passes through without a walk (STE.EATS = 0b01, SMMUv3 §3.9.1). The SMMU
 * reaches this cache only through ATS Invalidate Requests, which the driver sends as CMD_ATC_INV (arm-smmu-v3.c
 * arm_smmu_atc_inv_master / arm_smmu_atc_inv_domain): an entry whose invalidation the driver forgot keeps serving
 * the old page, exactly like a stale SMMU TLB entry.
 *
 * Entries are per page and per PASID (a request without a PASID is its own tag). An invalidation with SSV = 0
 * (no PASID prefix) drops every entry in the range, PASID-tagged ones included: there is no way to invalidate only
 * the entries without a PASID (the comment on arm_smmu_atc_inv_to_cmd).
 */
import type { Cmd } from './commands.js';
import { ATC_INV_SIZE_ALL } from './commands.js';

interface AtcEntry {
  /** Physical page base. */
  pa: number;
  write: boolean;
}

/** Key of an entry: (SSID + 1, or 0 for requests without a PASID) * 2^36 + VA page number. */
function atcKey(ssid: number | null, va: number): number {
  return (ssid === null ? 0 : ssid + 1) * 2 ** 36 + Math.floor(va / 4096);
}

export class Atc {
  private readonly entries = new Map<number, AtcEntry>();
  readonly stats = { hit: 0, miss: 0, invalidations: 0, dropped: 0 };

  constructor(readonly sid: number) {}

  /** A cached translation of the page holding `va` for `ssid` (null: no PASID), or undefined. */
  lookup(ssid: number | null, va: number): AtcEntry | undefined {
    const e = this.entries.get(atcKey(ssid, va));
    if (e) this.stats.hit++;
    else this.stats.miss++;
    return e;
  }

  /** Caches a Translation Completion: the page of `va` maps to the page of `pa`, writable or not. */
  insert(ssid: number | null, va: number, pa: number, write: boolean): void {
    this.entries.set(atcKey(ssid, va), { pa: pa - (pa % 4096), write });
  }

  /**
   * An ATS Invalidate Request as CMD_ATC_INV describes it: SSV/SSID select the PASID (SSV = 0: every entry), SIZE is
   * log2 of the span in 4 KiB pages from ADDR (ATC_INV_SIZE_ALL: the whole address space).
   */
  invalidate(c: Cmd): void {
    this.stats.invalidations++;
    const all = (c.size ?? 0) >= ATC_INV_SIZE_ALL;
    const first = Math.floor((c.addr ?? 0) / 4096);
    const last = all ? Infinity : first + 2 ** (c.size ?? 0) - 1;
    const tag = c.ssv ? (c.ssid ?? 0) + 1 : -1;
    for (const k of [...this.entries.keys()]) {
      const t = Math.floor(k / 2 ** 36);
      const vpn = k - t * 2 ** 36;
      if (tag >= 0 && t !== tag) continue;
      if (vpn < first || vpn > last) continue;
      this.entries.delete(k);
      this.stats.dropped++;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
