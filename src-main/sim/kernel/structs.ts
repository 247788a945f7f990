/**
 * The kernel's data structures that PASID/SVA decisions read and write (kernel-semantics.md §2), named as in
 * include/linux/iommu.h, include/linux/mm_types.h and drivers/iommu/iommu.c. Plain classes: behaviour lives in the
 * files named after the kernel files that implement it (iommu.ts, iommu-sva.ts, mm.ts, ../smmuv3/driver.ts).
 */
import { IOMMU_PASID_INVALID } from './constants.js';
import { IdBitmap } from './idbitmap.js';
import { IndexMap } from '../index-map.js';
import type { Ida } from './ida.js';
import type { AddressSpace } from '../hw/address-space.js';
import type { StepTag } from '../hw/attribution.js';
import type { PageTable } from '../hw/pagetable.js';
import type { ArmSmmuDevice, ArmSmmuDomain, ArmSmmuMaster } from '../smmuv3/driver.js';

/** include/linux/iommu.h IOMMU_DOMAIN_* (only the types the model uses). */
export type DomainType = 'SVA' | 'DMA' | 'IDENTITY' | 'BLOCKED' | 'S2';

/**
 * struct iommu_domain (§2.3). The driver's domains embed it, as `struct arm_smmu_domain` embeds `struct iommu_domain`
 * in arm-smmu-v3.h: a paging or SVA domain is an ArmSmmuDomain (smmuv3/driver.ts), a subclass, and `smmuDomain` is the
 * kernel's to_smmu_domain() (container_of): the same object. The static identity and blocked domains are plain
 * IommuDomains, with no driver part (null).
 */
export class IommuDomain {
  /** Number of (group, PASID) attachments that use this domain (SVA only; `iommu_sva_lock`). */
  users = 0;
  freed = false;
  /**
   * How many (group, PASID) pasid_array slots hold this domain: kept by the pasid_array helpers (iommu.ts noteSlot),
   * compared with `users` by the refcount invariant, and read when a replaced DMA domain may be freed.
   */
  attachedSlots = 0;
  /** A DMA (S1 paging) domain's io-pgtable: what non-PASID DMA and kernel PASIDs translate through. */
  pgtable: PageTable | null = null;
  /** domain->next: the next SVA domain on its mm's iommu_mm->sva_domains list. */
  next: IommuDomain | null = null;

  constructor(
    readonly id: number,
    readonly type: DomainType,
    /** The mm an SVA domain pins with mmgrab (IOMMU_COOKIE_SVA); null for the others. */
    readonly mm: MmStruct | null,
  ) {}

  /** to_smmu_domain(): the arm_smmu_domain this domain is part of (ASID, owning SMMU, attached masters); null here. */
  get smmuDomain(): ArmSmmuDomain | null {
    return null;
  }

  get label(): string {
    if (this.type === 'SVA') return `sva${this.id}(${this.mm?.label ?? '?'})`;
    return `${this.type.toLowerCase()}${this.smmuDomain ? this.id : ''}`;
  }
}

/** struct iommu_sva (§2.2): the bond handle. It embeds the attach handle, whose only field is `domain`. */
export class IommuSva {
  /** refcount_t: successful iommu_sva_bind_device() calls that returned this handle. */
  users = 1;
  /**
   * The PASID of this bond, for policies where a bond has its own PASID (arch-gated on an arch without an ENQCMD-like
   * instruction, driver-pasid). Mainline and the RFC leave it INVALID: their PASID is the mm's.
   */
  pasid = IOMMU_PASID_INVALID;
  /**
   * Open files whose driver holds this bond (each successful bind is one open). Bookkeeping for the invariants only:
   * kept while Kernel.checkerIndexes is on, created with the first file (null: none).
   */
  files: Set<OpenFile> | null = null;

  /** handle->handle.domain, set by the attach (iommu_make_pasid_array_entry). */
  domain!: IommuDomain;

  constructor(
    readonly id: number,
    /** The device passed to the first bind (§2.2). */
    readonly dev: Device,
  ) {}

  get label(): string {
    return `bond${this.id}`;
  }
}

/** A kernel (non-SVA) PASID user in the style of idxd's system PASID: a DOMAIN-tagged pasid_array entry. */
export class KernelPasid {
  constructor(
    readonly name: string,
    readonly dev: Device,
    readonly pasid: number,
    /**
     * Where the number came from: the global IDA (iommu_alloc_global_pasid, idxd), the driver's own IDA (driver-pasid
     * policy, §11.2 R5), or a number the driver chose without any allocator (S8.3).
     */
    readonly source: 'global' | 'driver' | 'chosen',
    readonly domain: IommuDomain,
  ) {}

  /** Held in the global IDA. */
  get fromIda(): boolean {
    return this.source === 'global';
  }

  get label(): string {
    return `kernel:${this.name}`;
  }
}

/**
 * A DOMAIN-tagged pasid_array entry (IOMMU_PASID_ARRAY_DOMAIN): a domain attached without a handle, e.g. a kernel
 * PASID's DMA domain, and who owns the PASID.
 *
 * The entries are classes, not object literals, for the garbage collector (docs/performance.md, "Pretenuring"): an
 * entry lives as long as its attachment, so when a lab first binds thousands of processes in a row V8 would decide to
 * allocate a literal site's entries in the old generation for good; in the steady bind+unbind that follows they die
 * within the step there, and keep the young handles they point to alive through every scavenge until a full
 * collection. V8 never does that to the objects of `new`.
 */
export class DomainEntry {
  readonly tag = 'DOMAIN';
  constructor(
    readonly domain: IommuDomain,
    readonly owner: KernelPasid | null,
  ) {}
}

/** A HANDLE-tagged pasid_array entry (IOMMU_PASID_ARRAY_HANDLE): an attach handle (an SVA bond). A class: see DomainEntry. */
export class HandleEntry {
  readonly tag = 'HANDLE';
  constructor(readonly handle: IommuSva) {}
}

/** xarray pointer tags of group->pasid_array (IOMMU_PASID_ARRAY_DOMAIN / _HANDLE), plus XA_ZERO_ENTRY. */
export type PasidEntry = DomainEntry | HandleEntry | { readonly tag: 'ZERO' };

export const XA_ZERO_ENTRY: PasidEntry = Object.freeze({ tag: 'ZERO' }) as PasidEntry;

/**
 * group->pasid_array: a plain xarray in mainline, XA_FLAGS_ALLOC in the RFC. Occupancy is mirrored in an IdBitmap so
 * that `xa_alloc` finds the lowest free index in logarithmic time over a 32-bit index space. The mirror is built at
 * the first xa_alloc and kept from then on: an array only ever used with xa_insert/xa_store (mainline's) never pays
 * for it.
 */
export class PasidArray {
  private readonly entries = new IndexMap<PasidEntry>();
  private used: IdBitmap | null = null;

  /** xa_load(): a reservation (XA_ZERO_ENTRY) reads as empty. */
  load(pasid: number): PasidEntry | undefined {
    const e = this.entries.get(pasid);
    return e && e.tag !== 'ZERO' ? e : undefined;
  }

  /** The raw slot, reservations included (for views and invariants). */
  raw(pasid: number): PasidEntry | undefined {
    return this.entries.get(pasid);
  }

  /** xa_insert(): false (-EBUSY) if anything, a reservation included, is at `pasid`. */
  insert(pasid: number, e: PasidEntry): boolean {
    if (this.entries.has(pasid)) return false;
    this.entries.set(pasid, e);
    this.used?.set(pasid);
    return true;
  }

  /** xa_alloc(): lowest free index in [min, max] (u32), or -1 (-EBUSY in lib/xarray.c when the range is full). */
  alloc(min: number, max: number, e: PasidEntry): number {
    const used = this.occupancy();
    const id = used.findFirstClear(min, max);
    if (id < 0) return -1;
    this.entries.set(id, e);
    used.set(id);
    return id;
  }

  /** xa_store() over an existing slot (the reservation taken by insert/alloc). */
  store(pasid: number, e: PasidEntry): void {
    if (!this.entries.has(pasid)) this.used?.set(pasid);
    this.entries.set(pasid, e);
  }

  /** xa_erase() / xa_release(): returns the old entry. */
  erase(pasid: number): PasidEntry | undefined {
    const e = this.entries.get(pasid);
    if (e) {
      this.entries.delete(pasid);
      this.used?.clear(pasid);
    }
    return e;
  }

  /** The occupancy bitmap, built from the entries on first use. */
  private occupancy(): IdBitmap {
    if (!this.used) {
      this.used = new IdBitmap(32);
      for (const id of this.entries.keys()) this.used.set(id);
    }
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries in index order. */
  list(): [number, PasidEntry][] {
    return [...this.entries].sort((a, b) => a[0] - b[0]);
  }
}

/** struct iommu_group (§2.5). */
export class IommuGroup {
  readonly devices: Device[] = [];
  readonly pasidArray = new PasidArray();
  /** group->domain: the domain the RIDs of the group are attached to. */
  domain: IommuDomain | null = null;
  defaultDomain: IommuDomain | null = null;
  /**
   * Per-policy index for policies whose bonds are found by (group, mm) rather than (group, mm's PASID), keyed by the
   * mm's id: an IndexMap, because one process binding and unbinding a device over and over sets and deletes the same
   * key (index-map.ts says why a Map slows down on that).
   */
  readonly bondsByMm = new IndexMap<IommuSva>();

  constructor(
    readonly id: number,
    readonly name: string,
  ) {}

  get label(): string {
    return `group:${this.name}`;
  }
}

export type DeviceKind = 'platform' | 'pci' | 'dsa' | 'iaa';

/** An idxd work queue (drivers/dma/idxd: WQCFG mode and, for a dedicated WQ, the PASID programmed at open). */
export interface WorkQueue {
  name: string;
  mode: 'dedicated' | 'shared';
  /** Dedicated WQ: the file that has it open (a second opener gets -EBUSY, S13). */
  owner: OpenFile | null;
  /** WQCFG.pasid for a dedicated WQ; INVALID while closed. */
  wqcfgPasid: number;
}

/** struct device with its struct dev_iommu (§2.4) and the firmware/PCI facts the kernel reads at probe. */
export class Device {
  /** dev->iommu->max_pasids, computed once by iommu_init_device (§3.1). */
  maxPasids = 0;
  group!: IommuGroup;
  master!: ArmSmmuMaster;
  /** A driver-owned PASID allocator (driver-pasid policy, §11.2), sized at probe. */
  driverIda: Ida | null = null;
  readonly wqs: WorkQueue[] = [];
  /** The accelerator's hardware contexts and SSID registers (devices/accel.ts AccelState), created on first use. */
  accel: object | null = null;

  constructor(
    readonly name: string,
    readonly kind: DeviceKind,
    readonly smmu: ArmSmmuDevice,
    readonly sid: number,
    /** Firmware "pasid-num-bits" (platform) or PCI PASID capability width (pci/dsa/iaa); null when absent. */
    readonly pasidBits: number | null,
    /** Firmware "dma-can-stall" (platform devices only). */
    readonly dmaCanStall: boolean,
    /** Its driver owns its PASID space and binds with iommu_sva_bind_device_pasid (driver-pasid policy). */
    readonly driverPasid: boolean,
  ) {}

  get isPci(): boolean {
    return this.kind !== 'platform';
  }

  get label(): string {
    return this.name;
  }
}

/** struct iommu_mm_data (§2.1), with the RFC's `pasid_global` field (mainline: always true). */
export class IommuMmData {
  /**
   * iommu_mm->sva_domains: the first of the mm's SVA domains (one per SMMU instance), linked through
   * IommuDomain.next as the kernel links them, in the order they were made [choice: list_add puts a new one first;
   * with one SMMU per mm there is one domain and the order never shows]. A list rather than an array: a bind walks
   * it cold, and an array is two more objects on that walk.
   */
  svaDomains: IommuDomain | null = null;
  constructor(
    public pasid: number,
    public pasidGlobal: boolean,
  ) {}

  /** The sva_domains list as an array, in list order. */
  svaDomainList(): IommuDomain[] {
    const out: IommuDomain[] = [];
    for (let d = this.svaDomains; d; d = d.next) out.push(d);
    return out;
  }

  /** list_add(&domain->next, &iommu_mm->sva_domains) (iommu_sva_bind_device): at the head. */
  addSvaDomain(domain: IommuDomain): void {
    domain.next = this.svaDomains;
    this.svaDomains = domain;
  }

  /** list_del(&domain->next). */
  removeSvaDomain(domain: IommuDomain): void {
    if (this.svaDomains === domain) this.svaDomains = domain.next;
    else {
      for (let d = this.svaDomains; d; d = d.next) {
        if (d.next === domain) {
          d.next = domain.next;
          break;
        }
      }
    }
    domain.next = null;
  }
}

/** struct mm_struct: mm_users (address-space users) and mm_count (struct references, mmgrab), and mm->iommu_mm. */
export class MmStruct {
  /** The lab step that last gave this mm its PASID (write attribution, hw/attribution.ts). */
  pasidBy: StepTag | null = null;
  mmUsers = 1;
  mmCount = 1;
  iommuMm: IommuMmData | null = null;
  /** Set by __mmdrop: the struct is gone; anything still pointing here is a use-after-free. */
  freed = false;
  /** The address space (VMAs, page table pgd = CD.TTB0 for SVA); null once exit_mmap tore it down. */
  as: AddressSpace | null = null;
  /**
   * mm->pgd: the physical address of the page table root (`as.pt.root`, what an SVA CD's TTB0 holds); 0 once
   * exit_mmap tore the address space down. Kept here as the kernel keeps it in mm_struct, so a CD write reads it
   * without walking to the address space.
   */
  pgd = 0;

  constructor(
    readonly id: number,
    readonly label: string,
    readonly owner: Process,
  ) {}
}

/** A thread's ENQCMD state (x86: IA32_PASID MSR and task_struct::pasid_activated, §7.1). */
export interface Thread {
  name: string;
  pasidActivated: boolean;
  /** The PASID field of IA32_PASID when its VALID bit is set, else null. */
  ia32Pasid: number | null;
}

/** An open device file whose driver holds an SVA bond (uacce / idxd cdev); shared by fork, released at last close. */
export class OpenFile {
  refs = 1;
  /** The lab step that handed this file its PASID (write attribution, hw/attribution.ts); null outside a step. */
  pasidBy: StepTag | null = null;
  /** file->private_data: the driver's per-file state (the accelerator's hardware context, devices/accel.ts). */
  privateData: object | null = null;
  constructor(
    readonly id: number,
    readonly dev: Device,
    readonly handle: IommuSva,
    /** The PASID the driver got from iommu_sva_get_pasid() at open and programs into its device. */
    readonly pasid: number,
    readonly wq: WorkQueue | null,
  ) {}

  get label(): string {
    return `file${this.id}:${this.dev.name}${this.wq ? '/' + this.wq.name : ''}`;
  }
}

/** A process: a task group sharing one mm, its threads, and its file table. */
export class Process {
  alive = true;
  readonly threads = new Map<string, Thread>();
  /** Open files in open order (the file table). */
  fds: OpenFile[] = [];
  /** Files another process still holds after this one exited (`exit: { files_kept: true }`, S5). */
  kept: OpenFile[] = [];
  mm!: MmStruct;
  /** mm generations: exec gives a new mm. */
  mmGen = 0;

  constructor(
    readonly name: string,
    readonly pid: number,
  ) {}

  get label(): string {
    return this.name;
  }
}

export type { ArmSmmuDevice, ArmSmmuDomain, ArmSmmuMaster };
