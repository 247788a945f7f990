/**
 * The kernel's global state for one simulated SoC: the allocators, the devices and groups, the processes and mms,
 * and the trace. Functions of iommu.ts, iommu-sva.ts, mm.ts and the SMMUv3 driver take it as their first argument,
 * the way kernel functions reach their globals.
 */
import { IdSet, IndexMap } from '../index-map.js';
import { Ida } from './ida.js';
import { removeFirst } from './list.js';
import { PhysMemory } from '../hw/memory.js';
import type { EventRecord } from '../hw/events.js';
import { Dirty, Tracer } from './trace.js';
import type { ArmSmmuDevice, ArmSmmuMaster } from '../smmuv3/driver.js';
import type { Policy } from '../policies/policy.js';
import {
  IommuDomain,
  type Device,
  type IommuGroup,
  type IommuSva,
  type KernelPasid,
  type MmStruct,
  type Process,
} from './structs.js';

export type Arch = 'arm64' | 'x86';

export class Kernel {
  readonly tr = new Tracer();
  /** The SoC's physical memory: SMMU tables, page tables, process pages. */
  readonly mem = new PhysMemory();
  /** Events the driver's event-queue threads consumed, newest last (bounded). */
  readonly smmuEvents: { smmu: string; record: EventRecord }[] = [];
  readonly dirty = new Dirty<IommuGroup, MmStruct, IommuDomain, IommuSva, ArmSmmuMaster, Process>();

  /** drivers/iommu/iommu.c: DEFINE_IDA(iommu_global_pasid_ida), over the 20-bit PASID space. */
  readonly globalPasidIda = new Ida(20);
  /** arm-smmu-v3.c: the driver-global arm_smmu_asid_xa (shared by every SMMUv3 instance, §5.7). */
  readonly asidXa = new Ida(16);

  readonly smmus = new Map<string, ArmSmmuDevice>();
  readonly devices = new Map<string, Device>();
  readonly groups: IommuGroup[] = [];
  readonly processes = new Map<string, Process>();
  /** mms whose struct is still allocated (mm_count > 0). */
  readonly mms = new Set<MmStruct>();
  readonly kernelPasids = new Map<string, KernelPasid>();
  /** Index: PASID value -> kernel PASID users holding it. Kept by drivers.ts. */
  readonly kernelPasidsByPasid = new IndexMap<KernelPasid[]>();
  /** Live (not yet freed) paging and SVA domains. */
  readonly domains = new Set<IommuDomain>();
  /** Live bonds, in id order (an IdSet: bonds come and go on every bind+unbind). */
  readonly handles = new IdSet<IommuSva>();

  /** The static identity and blocked domains (arm_smmu_identity_domain, arm_smmu_blocked_domain). */
  readonly identityDomain = new IommuDomain(0, 'IDENTITY', null);
  readonly blockedDomain = new IommuDomain(0, 'BLOCKED', null);

  /**
   * Index: PASID value -> mms whose iommu_mm->pasid holds it (global or not). Kept by mm.ts setMmIommuMm/setMmPasid
   * while checkerIndexes is on.
   */
  readonly mmsByPasid = new IndexMap<MmStruct[]>();
  /** Index: mm -> its live SVA domains (each holds an mm_count reference). Kept while checkerIndexes is on. */
  readonly svaDomainsByMm = new Map<MmStruct, IommuDomain[]>();
  /**
   * Whether the indexes that only the invariant checker reads are kept: groupsByPasid, mmsByPasid, svaDomainsByMm
   * and each bond's `files`. A lab that does not check turns them off (Lab): it saves their upkeep on every attach,
   * detach, open and close, and a Set per mm twice over.
   */
  checkerIndexes = true;
  /**
   * Index: PASID value -> groups with a pasid_array entry there. Kept by the pasid_array helpers of iommu.ts while
   * checkerIndexes is on.
   */
  readonly groupsByPasid = new IndexMap<IommuGroup[]>();

  /** The next id of each kind of object (one field each: nextId's switch reads a constant-offset field). */
  private readonly ids = new IdCounters();

  constructor(
    readonly arch: Arch,
    /** The architecture has an ENQCMD-like instruction taking the PASID from per-thread state (CONFIG_ARCH_HAS_CPU_PASID). */
    readonly enqcmd: boolean,
    public policy: Policy,
  ) {}

  /** Stops keeping the checker-only indexes (and empties them: nothing reads them from now on). */
  dropCheckerIndexes(): void {
    this.checkerIndexes = false;
    this.groupsByPasid.clear();
    this.mmsByPasid.clear();
    this.svaDomainsByMm.clear();
    for (const h of this.handles) h.files = null;
  }

  nextId(kind: IdKind): number {
    const c = this.ids;
    switch (kind) {
      case 'domain':
        return c.domain++;
      case 'handle':
        return c.handle++;
      case 'mm':
        return c.mm++;
      case 'pid':
        return c.pid++;
      case 'file':
        return c.file++;
      case 'group':
        return c.group++;
      case 'kpasid':
        return c.kpasid++;
    }
  }
}

export type IdKind = 'domain' | 'handle' | 'mm' | 'pid' | 'file' | 'group' | 'kpasid';

/**
 * Id counters, one field per kind. (It was an object indexed by the kind's name: a keyed access whose key varies by
 * call site, which V8 left megamorphic and which showed up on every bind.)
 */
class IdCounters {
  domain = 1;
  handle = 1;
  mm = 1;
  pid = 1;
  file = 1;
  group = 0;
  kpasid = 1;
}

/** The part of Map that indexSet uses: a Map, or an IndexMap for PASID-keyed indexes. */
interface SetIndex<K, V> {
  get(key: K): V[] | undefined;
  set(key: K, s: V[]): unknown;
  delete(key: K): boolean;
}

/**
 * Adds or removes `v` under key `key` of an index of sets, each held as an array without duplicates: a key has one or
 * two members (the groups a PASID is attached in, an mm's SVA domains), and a bind+unbind adds and removes one. A V8
 * Set there rebuilt its table every few pairs (deleted entries stay in it until then). Together with StepIndex's
 * iterator made an array's (trace.ts), a checked mainline pair ran ~10% faster: medians of eight alternating runs of
 * bench section 2, 115k against 104k pairs/s.
 */
export function indexSet<K, V>(m: SetIndex<K, V>, key: K, v: V, on: boolean): void {
  const s = m.get(key);
  if (on) {
    if (!s) m.set(key, [v]);
    else if (!s.includes(v)) s.push(v);
  } else if (s) {
    removeFirst(s, v);
    if (s.length === 0) m.delete(key);
  }
}
