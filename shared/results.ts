/** What the lab reports back: step results, findings, and the trace records they carry. */

/** The outcome of one step. */
export interface StepResult {
  /** The kernel call succeeded (for `bind`: the driver has a bond and a PASID). */
  ok: boolean;
  /** The errno (or signal) the kernel returned, when it failed. */
  errno?: string;
  /** Why, in words, naming the objects involved. */
  why?: string;
  /** The PASID the driver got (bind, open_wq), the kernel PASID (alloc_global_pasid), or the one ENQCMD carried. */
  pasid?: number;
  /** enqcmd: whose address space the PASID names on the device; null when nothing is attached there. */
  reaches?: string | null;
  /** enqcmd: the descriptor landed in another address space than the submitter's. */
  crossed?: boolean;
  /** A short remark (the pid of a new process, the name given to a kernel PASID). */
  detail?: string;
  /** dma: the event that terminated the transfer, if one was recorded. */
  event?: string | null;
  /** dma: every SMMU event recorded during the step. */
  events?: string[];
  /** Bytes read back (dma read, touch read), as hex. */
  data?: string;
  /** An isolation failure this step caused: a DMA or descriptor that reached someone else's memory. */
  isolation?: string;
  /**
   * With `isolation` (or `crossed`): the earlier step that made it possible, when the lab can tell (the munmap that
   * skipped the mmu notifier, the bind that wrote the CD the PASID names). The isolation text names it too.
   */
  cause?: FindingCause;
  /** dma: where the transfer landed, page by page, and whose memory that is. */
  reached?: { va: number; pa: number; owner: string }[];
  /** The step could not be applied in the lab's current state; nothing changed. */
  rejected?: string;
}

/** The invariants the checker verifies after every step (design.md "Invariants are findings, not crashes"). */
export const INVARIANTS = {
  'ida-owner': 'every PASID allocated in the global IDA is held by exactly one owner (an mm or a kernel user), and every owner holds an allocated PASID',
  'global-pasid-exclusive': 'a PASID of the global IDA is attached, on any device, only for its owner',
  'enqcmd-pasid-unique': 'with an ENQCMD-like instruction, no two live mms carry the same PASID',
  'bond-pasid': "the PASID a driver programmed for a process's open file names that process's address space on the device",
  'pasid-array-cd': "each group's pasid_array agrees with the CD tables of its PASID-capable devices, and every valid CD at SSID != 0 has its pasid_array entry",
  'pasid-unprogrammed': 'a pasid_array entry is programmed on at least one device of its group',
  'cd-in-table': "every valid CD lies inside its CD table (SSID < 2^S1CDMax)",
  'used-ssids': 'cd_table.used_ssids equals the number of valid CDs at SSID != 0',
  refcount: 'handle users = open files holding the bond; domain users = its pasid_array attachments; mm_count = (mm_users > 0) + live SVA domains of the mm',
  'use-after-free': 'nothing live points at a freed mm or domain',
  isolation: "a device's DMA (or ENQCMD descriptor) issued for process P reaches P's address space and no one else's",
} as const;
export type InvariantName = keyof typeof INVARIANTS;

/** The earlier step that made a finding possible: it wrote the state the finding's step then ran into. */
export interface FindingCause {
  /** Index of that step (-1: at boot). */
  step: number;
  /** Its operation, e.g. `unmap`, `bind`, `unbind`. */
  op: string;
  /** The step in words, e.g. `unmap { process: p, va: 0x400000, length: 0x1000, notify: false }`. */
  text: string;
  /** What it did that made the finding possible. */
  what: string;
}

/** A violated invariant, reported at the step that caused it. */
export interface Finding {
  /** Index of the step that caused it (-1: at boot). */
  step: number;
  invariant: InvariantName;
  /** The object concerned, e.g. `pasid:5`, `group:small[3]`, `master:small/cd[4]`. */
  subject: string;
  message: string;
  /** For isolation findings: the earlier step that made it possible (StepResult.cause), when known. */
  cause?: FindingCause;
}
