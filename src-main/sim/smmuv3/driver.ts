/**
 * The arm-smmu-v3 driver's bookkeeping that decides errnos (kernel-semantics.md §5), after
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c and arm-smmu-v3-sva.c, Linux 6.17.
 *
 * STEs and CDs are held here as decoded records (`Ste`, `Cd`). Every write goes through `installSte` and
 * `armSmmuWriteCdEntry`, the two places where the hardware model (stream table and CD tables as bytes in simulated
 * memory, CFGI/CMD_SYNC on the command queue) plugs in underneath without changing the driver logic above.
 */
import { IndexMap } from '../index-map.js';
import { CTXDESC_L2_ENTRIES, CTXDESC_LINEAR_CDMAX, STRTAB_SPLIT } from '../kernel/constants.js';
import { CD_WORDS, cdUsedBitsShared, encodeCd, encodeCdInto, encodeCdL1, TCR_RGN, TCR_SH, TG0 } from '../hw/cd.js';
import type { Cmd } from '../hw/commands.js';
import { planEntryWrite, planSyncs, writeEntry, type EntryWritePlan } from '../hw/entry-writer.js';
import type { PhysMemory, Region } from '../hw/memory.js';
import { ipsEncoding, SmmuV3Hw } from '../hw/smmu.js';
import { Atc } from '../hw/atc.js';
import type { StepTag } from '../hw/attribution.js';
import { ATC_INV_SIZE_ALL } from '../hw/commands.js';
import { ARM_SMMU_SH, EATS, encodeSte, encodeStrtabL1, S1C_CACHE, S1DSS as S1DSS_BITS, S1FMT, STE_CONFIG, steUsedBits, STRTAB_L1_SPAN, STRW } from '../hw/ste.js';
import { err, OK, type KResult } from '../kernel/errno.js';
import { IommuDomain, type Device, type MmStruct } from '../kernel/structs.js';
import type { Kernel } from '../kernel/kernel.js';

/** Per-instance configuration: the ID-register fields the driver reads at probe. */
export interface SmmuParams {
  name: string;
  /** IDR1.SSIDSIZE, 0..20 */
  ssidsize: number;
  /** IDR1.SIDSIZE, 1..32 */
  sidsize: number;
  /** IDR0.CD2L */
  cd2l: boolean;
  /** IDR0.ASID16 */
  asid16: boolean;
  /** IDR0.STALL_MODEL: 'none' (1), 'supported' (0) or 'force' (2). */
  stall: 'none' | 'supported' | 'force';
  /** Whether arm_smmu_sva_supported() passes (coherency, OAS, ASID bits ...). */
  sva: boolean;
  /**
   * Whether the driver answers IOMMU_CAP_PER_DEV_PASID_SPACE (rfc-v1 only). The RFC makes arm-smmu-v3 answer true for
   * every master; false models an IOMMU whose driver the RFC does not patch (R6).
   */
  rfcCap: boolean;
  /** IDR0.ST_LEVEL: 2-level stream tables supported (default true). */
  stLevel2?: boolean;
  /** IDR5.OAS in bits: 32, 36, 40, 42, 44, 48 or 52 (default 48). */
  oas?: number;
  /** IDR0.ATS (default false). */
  ats?: boolean;
  /** IDR0.PRI (default false). */
  pri?: boolean;
}

/**
 * The CPU the model runs on, as arm_smmu_sva_supported() and arm_smmu_make_sva_cd() read it from the sanitised
 * ID_AA64MMFR0_EL1: PARange 0b0101 (48-bit PAs, CD.IPS = 5) and ASIDBits 0b0000 (8-bit ASIDs) [choice: 8-bit
 * ASIDs keep SVA on an SMMU without IDR0.ASID16, as S12 needs; with 16-bit CPU ASIDs such an SMMU has no FEAT_SVA].
 */
export const CPU_PA_BITS = 48;
export const CPU_ASID_BITS = 8;

/** struct arm_smmu_device: features and limits from arm_smmu_device_hw_probe (§5.1). */
export class ArmSmmuDevice {
  readonly features: { twoLvlStrtab: boolean; twoLvlCdtab: boolean; stalls: boolean; stallForce: boolean; sva: boolean; ats: boolean; pri: boolean };
  /** smmu->oas from IDR5.OAS; smmu->ias = max(ias, oas), with ias 0 before (IDR0.TTF = AArch64 only) [I]. */
  readonly oas: number;
  readonly ias: number;
  /** Why FEAT_SVA is clear, when it is (arm_smmu_sva_supported's failing check); null when set. */
  readonly svaMissing: string | null;
  readonly ssidBits: number;
  readonly sidBits: number;
  readonly asidBits: number;
  /** smmu->iommu.max_pasids = 1UL << ssid_bits (1 even when SSIDSIZE = 0). */
  readonly maxPasids: number;
  /** smmu->streams: SID -> master (an rb-tree in the kernel). */
  readonly streams = new Map<number, ArmSmmuMaster>();
  /** arm_smmu_domain_alloc_paging S2: smmu->vmid_map. */
  private nextVmid = 1;
  /** The hardware this driver instance programs. */
  readonly hw: SmmuV3Hw;
  /** Stream table memory: the linear table, or the L1 table and the L2 tables by L1 index. */
  private strtabRegion!: Region;
  private readonly l2Strtab = new Map<number, Region>();

  constructor(
    readonly params: SmmuParams,
    readonly mem: PhysMemory,
  ) {
    // arm_smmu_device_hw_probe(): IDR0, IDR1, then IDR5.
    const stLevel2 = params.stLevel2 ?? true;
    const oas = params.oas ?? 48;
    ipsEncoding(oas); // an OAS the architecture does not define is a configuration error
    this.sidBits = params.sidsize;
    this.asidBits = params.asid16 ? 16 : 8;
    this.oas = oas;
    this.ias = oas;
    // arm_smmu_sva_supported(): COHERENCY (and the rest the `sva` parameter stands for), smmu->oas >= the CPU's PA
    // size, smmu->asid_bits >= the CPU's ASID bits.
    this.svaMissing = !params.sva
      ? 'arm_smmu_sva_supported() fails (coherency or page sizes)'
      : oas < CPU_PA_BITS
        ? `arm_smmu_sva_supported(): SMMU_IDR5.OAS is ${oas} bits, below the CPU's ${CPU_PA_BITS}-bit PA range (ID_AA64MMFR0_EL1.PARange)`
        : this.asidBits < CPU_ASID_BITS
          ? `arm_smmu_sva_supported(): ${this.asidBits}-bit SMMU ASIDs, below the CPU's ${CPU_ASID_BITS}`
          : null;
    this.features = {
      // IDR0.ST_LEVEL == 2LVL -> ARM_SMMU_FEAT_2_LVL_STRTAB, cleared again when sid_bits <= STRTAB_SPLIT.
      twoLvlStrtab: stLevel2 && params.sidsize > STRTAB_SPLIT,
      twoLvlCdtab: params.cd2l,
      stalls: params.stall !== 'none',
      stallForce: params.stall === 'force',
      sva: this.svaMissing === null,
      ats: params.ats ?? false, // IS_ENABLED(CONFIG_PCI_ATS) && IDR0.ATS
      pri: params.pri ?? false, // IS_ENABLED(CONFIG_PCI_PRI) && IDR0.PRI
    };
    this.ssidBits = params.ssidsize;
    this.maxPasids = 2 ** params.ssidsize;
    this.hw = new SmmuV3Hw(params.name, mem, {
      idr0: {
        stLevel: stLevel2 ? 1 : 0,
        stallModel: params.stall === 'force' ? 2 : params.stall === 'supported' ? 0 : 1,
        cd2l: params.cd2l,
        pri: this.features.pri,
        ats: this.features.ats,
        asid16: params.asid16,
        s1p: true,
        s2p: true,
      },
      idr1: { ssidsize: params.ssidsize, sidsize: params.sidsize },
      idr5: { oas, gran4k: true },
    });
    this.initStrtab();
  }

  /**
   * arm_smmu_init_strtab(): a linear table of 2^sid_bits abort STEs, or a 2-level table whose L1 covers
   * min(2^(sid_bits - 8), 2^17) descriptors with L2 tables allocated when a master is inserted (§5.3).
   */
  private initStrtab(): void {
    if (this.features.twoLvlStrtab) {
      const l1Bits = Math.min(this.sidBits - STRTAB_SPLIT, 17);
      this.strtabRegion = this.mem.alloc(2 ** l1Bits * 8, `strtab-l1:${this.name}`);
      this.hw.strtab = { base: this.strtabRegion.base, fmt: '2lvl', log2size: l1Bits + STRTAB_SPLIT, split: STRTAB_SPLIT };
    } else {
      this.strtabRegion = this.mem.alloc(2 ** this.sidBits * 64, `strtab:${this.name}`);
      this.initAbortStes(this.strtabRegion.base, 2 ** this.sidBits);
      this.hw.strtab = { base: this.strtabRegion.base, fmt: 'linear', log2size: this.sidBits, split: 0 };
    }
  }

  /** arm_smmu_init_initial_stes(): every STE an abort STE (V = 1, Config = abort). */
  private initAbortStes(base: number, n: number): void {
    const abort = encodeSte({ v: true, config: STE_CONFIG.ABORT });
    for (let i = 0; i < n; i++) this.mem.writeWords(base + i * 64, abort);
  }

  /** arm_smmu_init_l2_strtab(): the L2 table for `sid`, allocated on first use, and its L1 descriptor. */
  ensureL2Strtab(sid: number): void {
    if (!this.features.twoLvlStrtab) return;
    const l1 = Math.floor(sid / 2 ** STRTAB_SPLIT);
    if (this.l2Strtab.has(l1)) return;
    const r = this.mem.alloc(2 ** STRTAB_SPLIT * 64, `strtab-l2:${this.name}[${l1}]`);
    this.initAbortStes(r.base, 2 ** STRTAB_SPLIT);
    this.l2Strtab.set(l1, r);
    this.mem.writeWords(this.strtabRegion.base + l1 * 8, encodeStrtabL1(r.base, STRTAB_L1_SPAN));
  }

  /** arm_smmu_get_step_for_sid(): the physical address of `sid`'s STE. */
  stePa(sid: number): number {
    if (!this.features.twoLvlStrtab) return this.strtabRegion.base + sid * 64;
    const l2 = this.l2Strtab.get(Math.floor(sid / 2 ** STRTAB_SPLIT))!;
    return l2.base + (sid % 2 ** STRTAB_SPLIT) * 64;
  }

  get name(): string {
    return this.params.name;
  }

  get rfcCap(): boolean {
    return this.params.rfcCap;
  }

  allocVmid(): number {
    return this.nextVmid++;
  }
}

/** struct arm_smmu_master_domain: one (master, SSID) an arm_smmu_domain is attached at (arm_smmu_attach_prepare). */
export class ArmSmmuMasterDomain {
  /** The next entry on the domain's devices list. */
  next: ArmSmmuMasterDomain | null = null;
  constructor(
    readonly master: ArmSmmuMaster,
    readonly ssid: number,
  ) {}
}

/**
 * struct arm_smmu_domain: the driver's domain, embedding the core's struct iommu_domain (it is one: a subclass, and
 * to_smmu_domain() is `domain.smmuDomain`, the same object, as container_of gives the same allocation). One object
 * for both, as in the kernel: a bind reads the domain's users, its mm and its ASID from one place.
 */
export class ArmSmmuDomain extends IommuDomain {
  /**
   * arm_smmu_domain->devices: the first of its master_domain entries, one per attach of a (master, SSID), linked
   * through `next` as the kernel links them through devices_elm: newest first (list_add in arm_smmu_attach_prepare),
   * so a bind reaches no older entry and the unbind that follows finds its own at the head (setMasterDomain).
   */
  devices: ArmSmmuMasterDomain | null = null;
  constructor(
    id: number,
    type: 'SVA' | 'DMA' | 'S2',
    mm: MmStruct | null,
    readonly smmu: ArmSmmuDevice,
    readonly stage: 's1' | 's2',
    /** The ASID from arm_smmu_asid_xa (S1 and SVA); 0 for S2. */
    readonly asid: number,
    /** The VMID for S2; 0 for S1. */
    readonly vmid: number,
  ) {
    super(id, type, mm);
  }

  override get smmuDomain(): ArmSmmuDomain {
    return this;
  }
}

/**
 * A context descriptor as the driver builds it (arm_smmu_make_s1_cd / arm_smmu_make_sva_cd / the release CD).
 *
 * A class, not an object literal, for the garbage collector (docs/performance.md, "Pretenuring"): a CD lives as long
 * as its bond, and when a lab first binds thousands of processes in a row every CD made then survives, so V8 would
 * decide to allocate that literal site's objects in the old generation for good. In the steady bind+unbind that
 * follows they die within the step, as garbage of the old generation, and while they wait for a full collection they
 * keep the young objects they point to (the domain's handle, the step's tag) alive through every scavenge. V8 never
 * does that to the objects of `new`.
 */
export class Cd {
  constructor(
    public asid: number,
    public domain: IommuDomain,
    /** 's1': a DMA domain; 'sva': an mm's page table; 'fault': arm_smmu_mm_release's EPD0 fault-everything CD. */
    public kind: 's1' | 'sva' | 'fault',
    /** CD.S: stall faults. */
    public stall: boolean,
    /** CD.R: record faults. */
    public record: boolean,
    /**
     * The lab step that wrote this CD (write attribution); null outside a step. Set by armSmmuWriteCdEntry; every CD
     * is made with it (null) so that setting it keeps the object's shape.
     */
    public by: StepTag | null = null,
  ) {}
}

/** The STE as the driver builds it (§5.5). */
export type Ste =
  | { config: 'abort' }
  | { config: 'bypass' }
  /** `eats`: STE.EATS = TRANS (arm_smmu_make_cdtable_ste's ats_enabled). */
  | { config: 's1'; s1dss: 'terminate' | 'bypass' | 'ssid0'; s1cdmax: number; s1fmt: 'linear' | '64k-l2'; s1stalld: boolean; eats?: boolean }
  | { config: 's2'; vmid: number; eats?: boolean };

/** struct arm_smmu_ctx_desc_cfg (§5.4). */
export class CdTable {
  /** Valid CDs by SSID (only valid ones are kept). An SSID >= 2^s1cdmax here was written out of bounds. */
  readonly cds = new IndexMap<Cd>();
  /** cd_table.used_ssids: valid CDs at SSID != 0. */
  usedSsids = 0;
  /** The linear table, or the L1 table (cdtab_dma). */
  region!: Region;
  /** The 64 KB L2 leaves by L1 index, with their owners (the allocations behind l2ptrs). */
  readonly l2Regions = new Map<number, Region>();
  /**
   * cd_table.l2.l2ptrs: the physical address of each L1 index's leaf, 0 while it has none (2-level only). What a CD
   * lookup reads, so that it touches one array instead of a Map and a region record.
   */
  readonly l2ptrs: number[];

  constructor(
    readonly s1cdmax: number,
    readonly linear: boolean,
  ) {
    this.maxContexts = 2 ** s1cdmax;
    this.numL1Ents = linear ? 0 : Math.ceil(this.maxContexts / CTXDESC_L2_ENTRIES);
    this.l2ptrs = new Array<number>(this.numL1Ents).fill(0);
  }

  /** L1 indexes whose 64 KB L2 leaf has been allocated, ascending (2-level only). */
  get l2(): number[] {
    return [...this.l2Regions.keys()].sort((a, b) => a - b);
  }

  /** 2^s1cdmax: CDs the table can hold. */
  readonly maxContexts: number;
  /** L1 descriptors of a 2-level table (0 for a linear one). */
  readonly numL1Ents: number;
}

const NO_PCI_CAPS = Object.freeze({ ats: false, pri: false });

/** struct arm_smmu_master (§5.2). */
export class ArmSmmuMaster {
  cdTable: CdTable | null = null;
  ste: Ste = { config: 'abort' };
  /** The domain attached to the RID (SSID 0 / no SSID). */
  ridDomain: IommuDomain | null = null;
  /**
   * master->ats_enabled: ATS is on at the PCI function (pci_enable_ats) and in its STE (EATS). The endpoint issues
   * ATS Translation Requests only while it is set.
   */
  atsEnabled = false;
  /** The endpoint's ATC (ATS-capable PCI functions only), reached by the SMMU through CMD_ATC_INV. */
  readonly atc: Atc | null;
  /** Page Request Groups this endpoint has sent (the PRG index of the next one, 9 bits). */
  nextPrg = 0;
  /** The lab step that last installed this master's STE (write attribution); null at boot. */
  steBy: StepTag | null = null;

  constructor(
    readonly dev: Device,
    readonly smmu: ArmSmmuDevice,
    readonly sid: number,
    readonly ssidBits: number,
    readonly stallEnabled: boolean,
    /** PCI capabilities: ATS (behind a root complex with ATS), and PRI enabled (see DeviceConfig.pri). */
    readonly pciCaps: { ats: boolean; pri: boolean } = NO_PCI_CAPS,
  ) {
    this.atc = dev.isPci && pciCaps.ats ? new Atc(sid) : null;
  }

  get label(): string {
    return `master:${this.dev.name}`;
  }

  /** cd_table.in_ste: the installed STE points at the CD table. */
  get cdTableInSte(): boolean {
    return this.ste.config === 's1';
  }
}

/**
 * arm_smmu_probe_device(): master->ssid_bits and stall_enabled (§5.2). PCI PASID enabling (arm_smmu_enable_pasid)
 * is assumed to succeed whenever the capability is present.
 */
export function armSmmuProbeDevice(smmu: ArmSmmuDevice, dev: Device, pciCaps: { ats: boolean; pri: boolean } = NO_PCI_CAPS): ArmSmmuMaster {
  let ssidBits = 0;
  if (!dev.isPci && dev.pasidBits !== null) ssidBits = Math.min(smmu.ssidBits, dev.pasidBits); // "pasid-num-bits"
  if (dev.isPci && dev.pasidBits !== null) ssidBits = Math.min(dev.pasidBits, smmu.ssidBits); // ilog2(pci_max_pasids)
  if (!smmu.features.twoLvlCdtab) ssidBits = Math.min(ssidBits, CTXDESC_LINEAR_CDMAX);
  const stallEnabled = (smmu.features.stalls && !dev.isPci && dev.dmaCanStall) || smmu.features.stallForce;
  // pci_prepare_ats(): nothing to model; the ATC exists with the capability.
  return new ArmSmmuMaster(dev, smmu, dev.sid, ssidBits, stallEnabled, dev.isPci ? pciCaps : NO_PCI_CAPS);
}

/** arm_smmu_insert_master(): -ERANGE for a SID outside the stream table, -ENODEV for an aliased SID (§5.3). */
export function armSmmuInsertMaster(master: ArmSmmuMaster): KResult {
  const smmu = master.smmu;
  if (master.sid >= 2 ** smmu.sidBits) return err('ERANGE', `SID ${hex(master.sid)} is outside ${smmu.name}'s ${smmu.sidBits}-bit stream table`);
  if (smmu.streams.has(master.sid)) return err('ENODEV', `SID ${hex(master.sid)} is already used by ${smmu.streams.get(master.sid)!.dev.name}`);
  smmu.streams.set(master.sid, master);
  smmu.ensureL2Strtab(master.sid);
  if (master.atc) smmu.hw.endpoints.set(master.sid, master.atc);
  return OK;
}

/**
 * arm_smmu_ats_supported(): ARM_SMMU_FEAT_ATS, the root complex's ATS support (IOMMU_FWSPEC_PCI_RC_ATS) and the
 * function's ATS capability (pci_ats_supported); the last two are the device's `ats` configuration.
 */
export function armSmmuAtsSupported(master: ArmSmmuMaster): boolean {
  return master.smmu.features.ats && master.dev.isPci && master.pciCaps.ats;
}

/** fls_long(): the position of the most significant set bit, 1-based; 0 for 0. */
function flsLong(x: number): number {
  return x === 0 ? 0 : Math.floor(Math.log2(x)) + 1;
}

/**
 * arm_smmu_atc_inv_to_cmd(): CMD_ATC_INV for `ssid` (SSV = ssid != IOMMU_NO_PASID) over [iova, iova + size); size 0
 * is everything (ATC_INV_SIZE_ALL). A range becomes the smallest naturally aligned power-of-two span of 4 KiB pages
 * that covers it.
 */
export function atcInvCmd(sid: number, ssid: number, iova: number, size: number): Cmd {
  if (!size) return { op: 'ATC_INV', sid, ssid, ssv: ssid !== 0, size: ATC_INV_SIZE_ALL, addr: 0 };
  let pageStart = Math.floor(iova / 4096);
  const pageEnd = Math.floor((iova + size - 1) / 4096);
  const log2Span = flsLong(xor53(pageStart, pageEnd));
  pageStart -= pageStart % 2 ** log2Span;
  return { op: 'ATC_INV', sid, ssid, ssv: ssid !== 0, size: log2Span, addr: pageStart * 4096 };
}

/** a ^ b for non-negative integers below 2^53 (JS ^ is 32-bit). */
function xor53(a: number, b: number): number {
  const hi = (Math.floor(a / 2 ** 32) ^ Math.floor(b / 2 ** 32)) >>> 0;
  const lo = ((a >>> 0) ^ (b >>> 0)) >>> 0;
  return hi * 2 ** 32 + lo;
}

/** arm_smmu_atc_inv_master(): the whole ATC of the master for `ssid` (IOMMU_NO_PASID: every entry), then CMD_SYNC. */
function armSmmuAtcInvMaster(k: Kernel, master: ArmSmmuMaster, ssid: number): void {
  armSmmuCmd(k, master.smmu, atcInvCmd(master.sid, ssid, 0, 0));
  armSmmuCmd(k, master.smmu, CMD_SYNC);
}

/**
 * arm_smmu_atc_inv_domain(): nothing without ARM_SMMU_FEAT_ATS or without an ATS-enabled master on the domain
 * (nr_ats_masters); otherwise one CMD_ATC_INV per (ATS-enabled master, SSID) the domain is attached at, then
 * CMD_SYNC. size 0: everything.
 */
export function armSmmuAtcInvDomain(k: Kernel, sd: ArmSmmuDomain, iova: number, size: number): void {
  if (!sd.smmu.features.ats) return;
  let n = 0;
  for (let md = sd.devices; md; md = md.next) {
    if (!md.master.atsEnabled) continue;
    armSmmuCmd(k, sd.smmu, atcInvCmd(md.master.sid, md.ssid, iova, size));
    n++;
  }
  if (n) armSmmuCmd(k, sd.smmu, CMD_SYNC);
}

/**
 * The ATS half of arm_smmu_attach_prepare()/arm_smmu_attach_commit(): pci_disable_ats() before the STE changes when
 * ATS goes off; after it, arm_smmu_enable_ats() (a full ATC invalidation, then pci_enable_ats()) when it comes on,
 * an invalidation of `ssid` when it stays on (the translation changed), a full one when it went off.
 */
function armSmmuAttachCommitAts(k: Kernel, master: ArmSmmuMaster, atsEnabled: boolean, ssid: number): void {
  if (atsEnabled && !master.atsEnabled) {
    armSmmuAtcInvMaster(k, master, 0);
    if (k.tr.on) k.tr.note(`pci_enable_ats(${master.dev.name}): ATS on, STE.EATS = TRANS`);
  } else if (atsEnabled && master.atsEnabled) {
    armSmmuAtcInvMaster(k, master, ssid);
  } else if (!atsEnabled && master.atsEnabled) {
    if (k.tr.on) k.tr.note(`pci_disable_ats(${master.dev.name}): ATS off`);
    armSmmuAtcInvMaster(k, master, 0);
  }
  if (master.atsEnabled !== atsEnabled) k.dirty.masters.add(master);
  master.atsEnabled = atsEnabled;
}

/** arm_smmu_cmdq_issue_cmd(): the command goes to the queue; the trace shows it. */
export function armSmmuCmd(k: Kernel, smmu: ArmSmmuDevice, c: Cmd): void {
  smmu.hw.command(c);
  // An ATS Invalidate Request changes the endpoint's ATC, which the device view shows.
  if (c.op === 'ATC_INV') {
    const m = smmu.streams.get(c.sid ?? 0);
    if (m) k.dirty.masters.add(m);
  }
  if (k.tr.on) k.tr.note(`cmdq ${smmu.name}: ${cmdText(c)}`);
}

/** The sync after a structure write: the invalidation, then CMD_SYNC (arm_smmu_cmdq_batch_submit). */
function syncCmd(k: Kernel, smmu: ArmSmmuDevice, c: Cmd): void {
  armSmmuCmd(k, smmu, c);
  armSmmuCmd(k, smmu, CMD_SYNC);
}

/** Every CMD_SYNC is the same command: one shared, frozen object (the command log only reads it). */
const CMD_SYNC: Cmd = Object.freeze({ op: 'CMD_SYNC' });

export function cmdText(c: Cmd): string {
  const parts: string[] = [c.op];
  if (c.sid !== undefined) parts.push(`sid=${hex(c.sid)}`);
  if (c.ssid !== undefined) parts.push(`ssid=${c.ssid}`);
  if (c.leaf !== undefined) parts.push(`leaf=${c.leaf ? 1 : 0}`);
  if (c.asid !== undefined) parts.push(`asid=${c.asid}`);
  if (c.addr !== undefined) parts.push(`addr=${hex(c.addr)}`);
  if (c.ssv !== undefined) parts.push(`ssv=${c.ssv ? 1 : 0}`);
  if (c.size !== undefined) parts.push(c.size >= ATC_INV_SIZE_ALL ? 'size=all' : `size=2^${c.size}p`);
  if (c.grpid !== undefined) parts.push(`grpid=${c.grpid}`);
  if (c.stag !== undefined) parts.push(`stag=${c.stag}`);
  if (c.resp !== undefined) parts.push(`resp=${c.resp}`);
  return parts.join(' ');
}

/** arm_smmu_alloc_cd_tables(): linear if !CD2L or max_contexts <= 1024, else 2-level with 64 KB leaves (§5.4). */
function armSmmuAllocCdTables(k: Kernel, master: ArmSmmuMaster): CdTable {
  if (master.cdTable) return master.cdTable;
  const s1cdmax = master.ssidBits;
  const linear = !master.smmu.features.twoLvlCdtab || 2 ** s1cdmax <= CTXDESC_L2_ENTRIES;
  const t = new CdTable(s1cdmax, linear);
  t.region = linear
    ? k.mem.alloc(t.maxContexts * 64, `cd-table:${master.dev.name}`)
    : k.mem.alloc(t.numL1Ents * 8, `cd-l1:${master.dev.name}`);
  master.cdTable = t;
  if (k.tr.on) k.tr.set(master.label, 'cd_table', { s1cdmax, fmt: linear ? 'linear' : '64k-l2', l1_ents: t.numL1Ents });
  return t;
}

/**
 * arm_smmu_write_cd_entry() through arm_smmu_get_cd_ptr()/arm_smmu_alloc_cd_ptr(): writes (or clears, with null) the
 * CD at `ssid` and keeps used_ssids. Like the kernel there is no bounds check: an SSID at or past 2^s1cdmax lands
 * outside the table (the §5.2 mismatch, R4); the invariant checker reports it.
 */
export function armSmmuWriteCdEntry(k: Kernel, master: ArmSmmuMaster, ssid: number, cd: Cd | null): void {
  const t = master.cdTable ?? armSmmuAllocCdTables(k, master);
  if (!t.linear && cd) {
    const l1 = Math.floor(ssid / CTXDESC_L2_ENTRIES);
    if (l1 < t.numL1Ents && t.l2ptrs[l1] === 0) {
      // arm_smmu_alloc_cd_ptr(): a 64 KB leaf, its L1 descriptor, then a non-leaf CFGI_CD (an invalid L1CD can be cached).
      const r = k.mem.alloc(CTXDESC_L2_ENTRIES * 64, `cd-l2:${master.dev.name}[${l1}]`);
      t.l2Regions.set(l1, r);
      t.l2ptrs[l1] = r.base;
      k.mem.writeWords(t.region.base + l1 * 8, encodeCdL1(r.base, true));
      if (k.tr.on) k.tr.set(master.label, `l1[${l1}]`, 'valid');
      syncCmd(k, master.smmu, { op: 'CFGI_CD', sid: master.sid, ssid, leaf: false });
    }
  }
  if (cd) cd.by = k.mem.attribution.current;
  writeCdBytes(k, master, t, ssid, cd);
  const old = t.cds.get(ssid);
  if (cd) t.cds.set(ssid, cd);
  else t.cds.delete(ssid);
  if (ssid !== 0) {
    if (!old && cd) t.usedSsids++;
    else if (old && !cd) t.usedSsids--;
  }
  k.dirty.masters.add(master);
  k.dirty.cd(master, ssid);
  if (k.tr.on) {
    k.tr.set(master.label, `cd[${ssid}]`, cd ? cdJson(cd) : null, old ? cdJson(old) : null);
    if (cd && ssid >= t.maxContexts) k.tr.note(`CD ${ssid} written past the end of ${master.dev.name}'s ${t.maxContexts}-entry CD table`);
  }
}

/**
 * arm_smmu_get_cd_ptr(): where CD `ssid` lives. No bounds check, as in the kernel: past a linear table the address
 * simply runs on into whatever follows. For a 2-level table an L1 index past the end reads cd_table.l2.l2ptrs[]
 * out of bounds in the kernel [I]; the model has no address to write there and returns null.
 */
export function armSmmuCdPa(t: CdTable, ssid: number): number | null {
  if (t.linear) return t.region.base + ssid * 64;
  const l2 = t.l2ptrs[Math.floor(ssid / CTXDESC_L2_ENTRIES)];
  return l2 ? l2 + (ssid % CTXDESC_L2_ENTRIES) * 64 : null;
}

/** The CD's 64 bytes as the driver builds them (arm_smmu_make_s1_cd, arm_smmu_make_sva_cd, the release CD). */
export function cdWords(cd: Cd | null): Uint32Array {
  return cdWordsInto(new Uint32Array(CD_WORDS), cd);
}

/**
 * The constant part of each CD kind (encodeCd of the fields that do not depend on the CD), for cdWordsInto's fast
 * path: R, S, ASET, ASID and TTB0 are all zero in these, so OR-ing them in equals encodeCd's FIELD_PREP.
 */
const CD_TRANS_BASE = encodeCd({ v: true, aa64: true, a: true, epd1: true, t0sz: 16, tg0: TG0.SZ_4K, irgn0: TCR_RGN.WBWA, orgn0: TCR_RGN.WBWA, sh0: TCR_SH.IS, ips: 5, mairLo: 0x000004ff, mairHi: 0 });
const CD_FAULT_BASE = encodeCd({ v: true, aa64: true, a: true, aset: true, epd1: true, epd0: true });

/**
 * encodeCd() of a CD with the variable fields given, without building a fields object; false (nothing written) when
 * a value is outside what the shortcut handles exactly, so that the caller takes encodeCd's path (and its errors).
 */
function encodeCdFast(out: Uint32Array, base: Uint32Array, record: boolean, stall: boolean, aset: boolean, asid: number, ttb0: number): boolean {
  if (!Number.isInteger(asid) || asid < 0 || !(ttb0 >= 0 && ttb0 <= Number.MAX_SAFE_INTEGER)) return false;
  out.set(base);
  // Dword 0, high word: S [44], R [45], ASET [47], ASID [63:48] (CD_FIELD).
  out[1] = (base[1]! | (stall ? 1 << 12 : 0) | (record ? 1 << 13 : 0) | (aset ? 1 << 15 : 0) | ((asid % 2 ** 16) << 16)) >>> 0;
  // Dword 1: TTB0 [51:4], straddling the two words.
  const v = Math.floor(ttb0 / 2 ** 4) % 2 ** 48;
  out[2] = (v % 2 ** 28) * 2 ** 4;
  out[3] = Math.floor(v / 2 ** 28);
  return true;
}

/** cdWords() into `out` (16 words, overwritten). Returns `out`. */
function cdWordsInto(out: Uint32Array, cd: Cd | null): Uint32Array {
  if (!cd) return out.fill(0); // arm_smmu_clear_cd(): all zero, V = 0 (what encodeCd({}) gives)
  if (cd.kind === 'fault') {
    if (encodeCdFast(out, CD_FAULT_BASE, !!cd.record, !!cd.stall, true, cd.asid, 0)) return out;
  } else {
    const ttb0 = cd.kind === 'sva' ? (cd.domain.mm?.pgd ?? 0) : (cd.domain.pgtable?.root ?? 0);
    if (cdIps(cd) === CD_TRANS_BASE_IPS && encodeCdFast(out, CD_TRANS_BASE, !!cd.record, !!cd.stall, cd.kind !== 's1', cd.asid, ttb0)) return out;
  }
  return cdWordsSlow(out, cd);
}

/** The IPS encoding in CD_TRANS_BASE. */
const CD_TRANS_BASE_IPS = ipsEncoding(CPU_PA_BITS);

/**
 * CD.IPS as the driver writes it. arm_smmu_make_sva_cd: the CPU's PARange (ID_AA64MMFR0_EL1), whatever the SMMU's
 * OAS (FEAT_SVA guarantees OAS >= it). arm_smmu_make_s1_cd: tcr->ips from io-pgtable, whose oas is smmu->ias
 * (arm_smmu_domain_finalise), i.e. the SMMU's OAS.
 */
function cdIps(cd: Cd): number {
  if (cd.kind === 's1') return ipsEncoding(cd.domain.smmuDomain?.smmu.ias ?? CPU_PA_BITS);
  return CD_TRANS_BASE_IPS;
}

/** cdWordsInto() through encodeCd's field-by-field path (the reference the fast path must equal). */
export function cdWordsSlow(out: Uint32Array, cd: Cd | null): Uint32Array {
  if (!cd) return out.fill(0);
  // One object literal per case: spreading a shared base is very slow on Node 20 and this runs on every CD write.
  if (cd.kind === 'fault') return encodeCdInto(out, { v: true, aa64: true, r: cd.record, s: cd.stall, a: true, aset: true, asid: cd.asid, epd1: true, epd0: true }); // TTB0 ignored
  const ttb0 = cd.kind === 'sva' ? (cd.domain.mm?.pgd ?? 0) : (cd.domain.pgtable?.root ?? 0);
  return encodeCdInto(out, {
    v: true,
    aa64: true,
    r: cd.record,
    s: cd.stall,
    a: true,
    aset: cd.kind !== 's1',
    asid: cd.asid,
    epd1: true,
    t0sz: 16, // 64 - vabits_actual (48)
    tg0: TG0.SZ_4K,
    irgn0: TCR_RGN.WBWA,
    orgn0: TCR_RGN.WBWA,
    sh0: TCR_SH.IS,
    ips: cdIps(cd), // SVA: the CPU's PARange; S1 DMA: the SMMU's OAS
    ttb0,
    mairLo: 0x000004ff, // MAIR_EL1: Attr0 normal WB, Attr1 device-nGnRE [I]
    mairHi: 0,
  });
}

const CD_CUR = new Uint32Array(CD_WORDS);
const CD_TARGET = new Uint32Array(CD_WORDS);
const CD_UNUSED = new Uint32Array(CD_WORDS);
const CD_PLAN: EntryWritePlan = { kind: 'unchanged', step1: 0, step2: 0, step3: 0 };

/**
 * arm_smmu_write_cd_entry() -> arm_smmu_write_entry() with the CD writer ops: the kernel's plan of 64-bit stores, each
 * step followed by CFGI_CD(leaf) + CMD_SYNC (arm_smmu_cd_writer_sync_entry). The stores reach simulated memory as the
 * entry they leave behind, in one block write after the plan: nothing in the model reads a CD between two of them (the
 * SMMU fetches CDs for a transaction, and no transaction runs inside a driver call), so what the SMMU next fetches is
 * the same, and the syncs go out in the kernel's number and order. The steps of one CD write issue the same CFGI_CD:
 * one object, logged in each of its command-ring slots (commands are never changed once issued).
 */
function writeCdBytes(k: Kernel, master: ArmSmmuMaster, t: CdTable, ssid: number, cd: Cd | null): void {
  const pa = armSmmuCdPa(t, ssid);
  if (pa === null) {
    if (k.tr.on && cd) k.tr.note(`CD ${ssid} of ${master.dev.name}: L1 index past the ${t.numL1Ents}-entry L1 table; the kernel would dereference l2ptrs[] out of bounds`);
    return;
  }
  const cur = k.mem.readWordsInto(pa, CD_CUR);
  const target = cdWordsInto(CD_TARGET, cd);
  const plan = planEntryWrite(cur, target, cdUsedBitsShared(cur), cdUsedBitsShared(target), CD_UNUSED, CD_PLAN);
  const syncs = planSyncs(plan);
  if (syncs > 0) {
    k.mem.writeBlock(pa, target);
    const cfgi: Cmd = { op: 'CFGI_CD', sid: master.sid, ssid, leaf: true };
    for (let i = 0; i < syncs; i++) syncCmd(k, master.smmu, cfgi);
  }
  if (k.tr.on && cd && ssid >= t.maxContexts) {
    const r = k.mem.regionAt(pa);
    k.tr.note(`the write of CD ${ssid} landed at PA 0x${pa.toString(16)}, in ${r ? r.owner : 'unallocated memory'}`);
  }
}

/** The STE's 64 bytes for the driver's record (arm_smmu_make_{abort,bypass,cdtable,s2_domain}_ste). */
export function steWords(master: ArmSmmuMaster, ste: Ste): Uint32Array {
  switch (ste.config) {
    case 'abort':
      return encodeSte({ v: true, config: STE_CONFIG.ABORT });
    case 'bypass':
      return encodeSte({ v: true, config: STE_CONFIG.BYPASS, shcfg: 1 });
    case 's2':
      // arm_smmu_make_s2_domain_ste: VTCR.PS from io-pgtable's S2 cfg, whose oas is smmu->oas.
      return encodeSte({ v: true, config: STE_CONFIG.S2_TRANS, s2vmid: ste.vmid, s2aa64: true, s2r: true, s2t0sz: 16, s2tg: 0, s2ps: ipsEncoding(master.smmu.oas), eats: ste.eats ? EATS.TRANS : EATS.ABT });
    case 's1': {
      const t = master.cdTable!;
      return encodeSte({
        v: true,
        config: STE_CONFIG.S1_TRANS,
        s1fmt: ste.s1fmt === 'linear' ? S1FMT.LINEAR : S1FMT.L2_64K,
        s1ContextPtr: t.region.base,
        s1CdMax: ste.s1cdmax,
        s1dss: ste.s1dss === 'terminate' ? S1DSS_BITS.TERMINATE : ste.s1dss === 'bypass' ? S1DSS_BITS.BYPASS : S1DSS_BITS.SSID0,
        s1cir: S1C_CACHE.WBRA,
        s1cor: S1C_CACHE.WBRA,
        s1csh: ARM_SMMU_SH.ISH,
        s1stalld: ste.s1stalld,
        eats: ste.eats ? EATS.TRANS : EATS.ABT,
        strw: STRW.NSEL1,
      });
    }
  }
}

function cdJson(cd: Cd): { asid: number; kind: string; s: boolean; r: boolean; domain: string } {
  return { asid: cd.asid, kind: cd.kind, s: cd.stall, r: cd.record, domain: cd.domain.label };
}

/** arm_smmu_install_ste_for_dev(): the STE changes (and, with hardware, a CFGI_STE + CMD_SYNC). */
function installSte(k: Kernel, master: ArmSmmuMaster, ste: Ste): void {
  const from = steLabel(master.ste);
  master.ste = ste;
  master.steBy = k.mem.attribution.current;
  const smmu = master.smmu;
  const pa = smmu.stePa(master.sid);
  // arm_smmu_write_ste() -> arm_smmu_write_entry(): hitless where it can be, each part followed by CFGI_STE + CMD_SYNC.
  writeEntry(smmu.mem.readWords(pa, 16), steWords(master, ste), steUsedBits, (next) => smmu.mem.writeWords(pa, next), () => syncCmd(k, smmu, { op: 'CFGI_STE', sid: master.sid, leaf: true }));
  k.dirty.masters.add(master);
  if (k.tr.on && from !== steLabel(ste)) k.tr.set(master.label, 'ste', steLabel(ste), from);
}

export function steLabel(ste: Ste): string {
  switch (ste.config) {
    case 's1':
      return `cdtable/${ste.s1dss}`;
    case 's2':
      return 's2';
    default:
      return ste.config;
  }
}

/** arm_smmu_make_cdtable_ste() (§5.5). */
function makeCdtableSte(master: ArmSmmuMaster, s1dss: 'terminate' | 'bypass' | 'ssid0', ats: boolean): Ste {
  const t = master.cdTable!;
  const ste: Ste = {
    config: 's1',
    s1dss,
    s1cdmax: t.s1cdmax,
    s1fmt: t.linear ? 'linear' : '64k-l2',
    s1stalld: master.smmu.features.stalls && !master.stallEnabled,
  };
  if (ats) ste.eats = true;
  return ste;
}

/** Whether the installed STE has EATS = TRANS (master->ste_ats_enabled). */
function steAtsEnabled(ste: Ste): boolean {
  return (ste.config === 's1' || ste.config === 's2') && !!ste.eats;
}

/**
 * Puts (master, ssid) on the domain's devices list or takes it off: the list half of arm_smmu_attach_prepare()
 * (`list_add(&master_domain->devices_elm, &smmu_domain->devices)`: at the head, with no search, so re-attaching the
 * same domain would list it twice, as the kernel's comment there says) and of arm_smmu_remove_master_domain() (the
 * first entry arm_smmu_find_master_domain() meets for (master, ssid) is unlinked). Exported for tests.
 */
export function setMasterDomain(master: ArmSmmuMaster, domain: IommuDomain, ssid: number, on: boolean): void {
  const sd = domain.smmuDomain;
  if (!sd) return;
  if (on) {
    const e = new ArmSmmuMasterDomain(master, ssid);
    e.next = sd.devices;
    sd.devices = e;
    return;
  }
  let prev: ArmSmmuMasterDomain | null = null;
  for (let md = sd.devices; md; prev = md, md = md.next) {
    if (md.master !== master || md.ssid !== ssid) continue;
    if (prev) prev.next = md.next;
    else sd.devices = md.next;
    return;
  }
}

/** arm_smmu_attach_dev() and the identity/blocked attach_dev (RID attach, §5.5-§5.6). */
export function armSmmuAttachDev(k: Kernel, domain: IommuDomain, dev: Device): KResult {
  const master = dev.master;
  const fn = 'arm_smmu_attach_dev';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, domain: domain.label });
  const sd = domain.smmuDomain;
  if (sd && sd.smmu !== master.smmu) return k.tr.leave(fn, err('EINVAL', `${domain.label} belongs to ${sd.smmu.name}, ${dev.name} sits behind ${master.smmu.name}`));
  const inUse = (master.cdTable?.usedSsids ?? 0) > 0; // arm_smmu_ssids_in_use()
  if (domain.type === 'S2' && inUse) return k.tr.leave(fn, err('EBUSY', `${dev.name} has ${master.cdTable!.usedSsids} PASID(s) in use; the RID cannot move to an S2 domain`));
  if (domain.type === 'SVA') return k.tr.leave(fn, err('EINVAL', 'an SVA domain cannot be attached to a RID'));
  const old = master.ridDomain;
  if (old) setMasterDomain(master, old, 0, false);
  // arm_smmu_attach_prepare(): ATS for a paging domain, or for identity/blocked while a CD table must stay
  // (cd_needs_ats: a PASID may be using ATS); never for a plain bypass/abort STE.
  const ats = (domain.type === 'DMA' || domain.type === 'S2' || inUse) && armSmmuAtsSupported(master);
  switch (domain.type) {
    case 'DMA':
      armSmmuWriteCdEntry(k, master, 0, new Cd(sd!.asid, domain, 's1', master.stallEnabled, true));
      installSte(k, master, makeCdtableSte(master, 'ssid0', ats));
      setMasterDomain(master, domain, 0, true);
      break;
    case 'IDENTITY':
    case 'BLOCKED':
      if (master.cdTable?.cds.has(0)) armSmmuWriteCdEntry(k, master, 0, null);
      if (inUse) installSte(k, master, makeCdtableSte(master, domain.type === 'IDENTITY' ? 'bypass' : 'terminate', ats));
      else installSte(k, master, { config: domain.type === 'IDENTITY' ? 'bypass' : 'abort' });
      break;
    case 'S2': {
      if (master.cdTable?.cds.has(0)) armSmmuWriteCdEntry(k, master, 0, null);
      const ste: Ste = { config: 's2', vmid: sd!.vmid };
      if (ats) ste.eats = true;
      installSte(k, master, ste);
      setMasterDomain(master, domain, 0, true);
      break;
    }
  }
  armSmmuAttachCommitAts(k, master, ats, 0);
  master.ridDomain = domain;
  return k.tr.leave(fn, OK);
}

/** arm_smmu_set_pasid() (§5.6): shared by S1 paging domains and SVA domains. */
function armSmmuSetPasid(k: Kernel, master: ArmSmmuMaster, domain: IommuDomain, pasid: number, cd: Cd, old: IommuDomain | null): KResult {
  const fn = 'arm_smmu_set_pasid';
  if (k.tr.on) k.tr.enter(fn, { master: master.dev.name, domain: domain.label, pasid });
  const sd = domain.smmuDomain!;
  if (sd.smmu !== master.smmu) return k.tr.leave(fn, err('EINVAL', `${domain.label} belongs to ${sd.smmu.name}, ${master.dev.name} sits behind ${master.smmu.name}`));
  const rid = master.ridDomain?.type;
  if (!master.cdTableInSte && rid !== 'IDENTITY' && rid !== 'BLOCKED') {
    return k.tr.leave(fn, err('EINVAL', `${master.dev.name}'s STE is not a CD-table STE and its RID domain is ${rid ?? 'none'}`));
  }
  // arm_smmu_attach_prepare() -> arm_smmu_enable_iopf(): 0 without stall; -EOPNOTSUPP with more than one stream.
  // Every modelled master has exactly one stream, so that path cannot be taken here.
  // arm_smmu_attach_prepare(): a paging or SVA domain gets ATS whenever the master supports it.
  const ats = armSmmuAtsSupported(master);
  setMasterDomain(master, domain, pasid, true); // arm_smmu_attach_prepare(): list_add
  armSmmuWriteCdEntry(k, master, pasid, cd);
  // arm_smmu_update_ste(): nothing when the CD table is installed with the right EATS.
  if (!master.cdTableInSte || steAtsEnabled(master.ste) !== ats) installSte(k, master, makeCdtableSte(master, rid === 'IDENTITY' ? 'bypass' : 'terminate', ats));
  armSmmuAttachCommitAts(k, master, ats, pasid);
  // arm_smmu_attach_commit(): arm_smmu_remove_master_domain(master, state->old_domain, state->ssid). A replace (or the
  // core's err_revert back to `old`) leaves no entry for this SSID on the domain it left.
  if (old) setMasterDomain(master, old, pasid, false);
  return k.tr.leave(fn, OK);
}

/** arm_smmu_blocking_set_dev_pasid(): the blocked domain's set_dev_pasid, i.e. the detach of one PASID (§5.6). */
export function armSmmuBlockingSetDevPasid(k: Kernel, dev: Device, pasid: number, old: IommuDomain | null): KResult {
  const master = dev.master;
  const fn = 'arm_smmu_blocking_set_dev_pasid';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, pasid, old: old?.label ?? null });
  if (master.cdTable?.cds.has(pasid)) armSmmuWriteCdEntry(k, master, pasid, null);
  if (master.atsEnabled) armSmmuAtcInvMaster(k, master, pasid);
  if (old) setMasterDomain(master, old, pasid, false);
  const rid = master.ridDomain;
  if (master.cdTable && master.cdTable.usedSsids === 0 && rid && (rid.type === 'IDENTITY' || rid.type === 'BLOCKED')) {
    armSmmuAttachDev(k, rid, dev); // downgrades the STE back to plain bypass/abort
  }
  return k.tr.leave(fn, OK);
}

/**
 * Whether `domain` has a set_dev_pasid op (iommu_domain_ops::set_dev_pasid).
 * arm_smmu_identity_ops has only .attach_dev [V: arm-smmu-v3.c], so an identity domain at a PASID is -EOPNOTSUPP in
 * the core. [I] Paging domains share arm_smmu_domain_ops; its s1 set_dev_pasid refuses an S2 stage with -EINVAL.
 */
export function hasSetDevPasid(domain: IommuDomain): boolean {
  return domain.type !== 'IDENTITY';
}

/** domain->ops->set_dev_pasid(domain, dev, pasid, old), for a domain with one (hasSetDevPasid). */
export function setDevPasid(k: Kernel, domain: IommuDomain, dev: Device, pasid: number, old: IommuDomain | null): KResult {
  switch (domain.type) {
    case 'SVA':
      return armSmmuSvaSetDevPasid(k, domain, dev, pasid, old);
    case 'DMA':
    case 'S2':
      return armSmmuS1SetDevPasid(k, domain, dev, pasid, old);
    case 'BLOCKED':
      return armSmmuBlockingSetDevPasid(k, dev, pasid, old);
    case 'IDENTITY':
      throw new Error('setDevPasid: the identity domain has no set_dev_pasid');
  }
}

/** arm_smmu_s1_set_dev_pasid(): a paging (DMA) domain at a PASID, as idxd's kernel PASID uses. */
function armSmmuS1SetDevPasid(k: Kernel, domain: IommuDomain, dev: Device, pasid: number, old: IommuDomain | null): KResult {
  const sd = domain.smmuDomain!;
  if (sd.stage !== 's1') return err('EINVAL', `${domain.label} is not a stage-1 domain`);
  const master = dev.master;
  return armSmmuSetPasid(k, master, domain, pasid, new Cd(sd.asid, domain, 's1', master.stallEnabled, true), old);
}

/** arm_smmu_sva_set_dev_pasid() (§5.6). */
function armSmmuSvaSetDevPasid(k: Kernel, domain: IommuDomain, dev: Device, pasid: number, old: IommuDomain | null): KResult {
  const fn = 'arm_smmu_sva_set_dev_pasid';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, domain: domain.label, pasid });
  const master = dev.master;
  if (!master.smmu.features.sva) return k.tr.leave(fn, err('EOPNOTSUPP', `${master.smmu.name} lacks FEAT_SVA`));
  if (!domain.mm || domain.mm.mmUsers === 0) return k.tr.leave(fn, err('EINVAL', `mmget_not_zero(${domain.mm?.label}) failed: the process has exited`));
  // arm_smmu_make_sva_cd(): V, AA64, R, A, ASET, EPD1, S = stall_enabled, the domain's ASID, TTB0 = mm->pgd.
  const cd = new Cd(domain.smmuDomain!.asid, domain, 'sva', master.stallEnabled, true);
  return k.tr.leave(fn, armSmmuSetPasid(k, master, domain, pasid, cd, old));
}

/** The driver-global ASID allocator: xa_alloc(&arm_smmu_asid_xa, ..., XA_LIMIT(1, 2^asid_bits - 1)) (§5.7). */
function armSmmuAllocAsid(k: Kernel, smmu: ArmSmmuDevice): number {
  const asid = k.asidXa.allocRange(1, 2 ** smmu.asidBits - 1);
  if (asid >= 0 && k.tr.on) k.tr.set('arm_smmu_asid_xa', String(asid), 'allocated');
  return asid;
}

/** arm_smmu_sva_domain_alloc() (§5.7): -EOPNOTSUPP without FEAT_SVA, -EBUSY when the ASID space is full. */
export function armSmmuSvaDomainAlloc(k: Kernel, dev: Device, mm: MmStruct): KResult<{ domain: ArmSmmuDomain }> {
  const smmu = dev.master.smmu;
  if (!smmu.features.sva) return err('EOPNOTSUPP', `${smmu.name} lacks FEAT_SVA`);
  const asid = armSmmuAllocAsid(k, smmu);
  if (asid < 0) return err('EBUSY', `arm_smmu_asid_xa is full (${smmu.asidBits}-bit ASIDs on ${smmu.name}); mm ${mm.label} gets no domain`);
  return { ok: true, domain: new ArmSmmuDomain(k.nextId('domain'), 'SVA', mm, smmu, 's1', asid, 0) };
}

/** arm_smmu_domain_alloc_paging(): an S1 (DMA) domain takes an ASID from the same global xarray; S2 takes a VMID. */
export function armSmmuDomainAllocPaging(k: Kernel, smmu: ArmSmmuDevice, stage: 's1' | 's2'): KResult<{ domain: ArmSmmuDomain }> {
  if (stage === 's2') {
    const vmid = smmu.allocVmid();
    return { ok: true, domain: new ArmSmmuDomain(k.nextId('domain'), 'S2', null, smmu, 's2', 0, vmid) };
  }
  const asid = armSmmuAllocAsid(k, smmu);
  if (asid < 0) return err('EBUSY', `arm_smmu_asid_xa is full (${smmu.asidBits}-bit ASIDs on ${smmu.name})`);
  return { ok: true, domain: new ArmSmmuDomain(k.nextId('domain'), 'DMA', null, smmu, 's1', asid, 0) };
}

/** arm_smmu_domain_free*(): TLBI by ASID, xa_erase of the ASID (and mmu_notifier_put for SVA). */
export function armSmmuDomainFree(k: Kernel, domain: IommuDomain): void {
  const sd = domain.smmuDomain;
  if (!sd || sd.asid === 0) return;
  syncCmd(k, sd.smmu, { op: 'TLBI_NH_ASID', asid: sd.asid });
  k.asidXa.free(sd.asid);
  if (k.tr.on) k.tr.set('arm_smmu_asid_xa', String(sd.asid), null, 'allocated');
}

/** CMDQ_MAX_TLBI_OPS = 1 << (PAGE_SHIFT - 3) (arm-smmu-v3-sva.c): more pages than this become a TLBI by ASID. */
const CMDQ_MAX_TLBI_OPS = 1 << (12 - 3);

/**
 * arm_smmu_mm_arch_invalidate_secondary_tlbs() (arm-smmu-v3-sva.c), the mmu notifier of one SVA domain, for an
 * unmapped range [start, start + size): without ARM_SMMU_FEAT_RANGE_INV, one TLBI_NH_VA per page
 * (arm_smmu_tlb_inv_range_asid, leaf = false) then CMD_SYNC, or TLBI_NH_ASID + CMD_SYNC for CMDQ_MAX_TLBI_OPS
 * pages or more; then arm_smmu_atc_inv_domain() over the same range (everything after a TLBI by ASID).
 */
export function armSmmuMmArchInvalidateSecondaryTlbs(k: Kernel, domain: IommuDomain, start: number, size: number): void {
  const sd = domain.smmuDomain!;
  if (size >= CMDQ_MAX_TLBI_OPS * 4096) size = 0;
  if (!size) syncCmd(k, sd.smmu, { op: 'TLBI_NH_ASID', asid: sd.asid });
  else {
    const first = start - (start % 4096);
    for (let va = first; va < start + size; va += 4096) armSmmuCmd(k, sd.smmu, { op: 'TLBI_NH_VA', asid: sd.asid, addr: va, leaf: false });
    armSmmuCmd(k, sd.smmu, CMD_SYNC);
  }
  armSmmuAtcInvDomain(k, sd, start, size);
}

/**
 * arm_smmu_mm_release(): the mmu-notifier release at exit_mmap. Every CD of the SVA domain becomes a valid
 * fault-everything CD (EPD0); unless the SMMU is STALL_FORCE, S = 0 and R = 0, so faults are neither stalled nor
 * recorded (§5.7). Then TLBI by ASID and a full ATC invalidation (which is nothing without ATS masters).
 */
export function armSmmuMmRelease(k: Kernel, domain: IommuDomain): void {
  const sd = domain.smmuDomain!;
  const fn = 'arm_smmu_mm_release';
  if (k.tr.on) k.tr.enter(fn, { domain: domain.label });
  const force = sd.smmu.features.stallForce;
  for (let md = sd.devices; md; md = md.next) armSmmuWriteCdEntry(k, md.master, md.ssid, new Cd(sd.asid, domain, 'fault', force, force));
  // arm_smmu_tlb_inv_asid() (TLBI_NH_ASID with its CMD_SYNC), then arm_smmu_atc_inv_domain(smmu_domain, 0, 0).
  syncCmd(k, sd.smmu, { op: 'TLBI_NH_ASID', asid: sd.asid });
  armSmmuAtcInvDomain(k, sd, 0, 0);
  k.tr.leave(fn, OK);
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}
