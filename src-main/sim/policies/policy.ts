/**
 * A PASID policy: the decisions that differ between mainline, the per-device SSID RFC and the reviewers'
 * alternatives (design.md "Policies are strategies"). Everything else (the core's attach/detach, the SMMUv3 driver,
 * mm lifetimes) is shared. Adding a policy means adding a file here and a line in index.ts.
 */
import type { KResult } from '../kernel/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Device, IommuGroup, IommuSva, MmStruct, PasidEntry } from '../kernel/structs.js';

import { POLICY_NAMES, type PolicyName } from '../../../shared/steps.js';
export { POLICY_NAMES, type PolicyName };

export interface Policy {
  readonly name: PolicyName;
  /** One line for --help and the UI. */
  readonly summary: string;
  /** Called once per device at probe, after dev->iommu->max_pasids is known. */
  probeDevice(k: Kernel, dev: Device): void;
  /** What a device's SVA driver does at open to bind the opener's mm (iommu_sva_bind_device, or a variant). */
  driverBind(k: Kernel, dev: Device, mm: MmStruct): KResult<{ handle: IommuSva }>;
  /** What the driver does at release: iommu_sva_unbind_device (and freeing a driver-owned PASID). */
  driverUnbind(k: Kernel, handle: IommuSva, dev: Device): void;
  /** iommu_sva_get_pasid(): the PASID the driver programs into its device for this bond. */
  getPasid(handle: IommuSva): number;
  /** mm_pasid_drop(), from __mmdrop. */
  mmPasidDrop(k: Kernel, mm: MmStruct): void;
  /**
   * The PASID a kernel PASID user (idxd_enable_system_pasid) gets for `dev`: iommu_alloc_global_pasid() in mainline.
   * `pasid` is IOMMU_PASID_INVALID on failure; `source` says which allocator it must go back to.
   */
  allocKernelPasid(k: Kernel, dev: Device): { pasid: number; source: 'global' | 'driver' };
  /** Gives a kernel PASID back to the allocator it came from (iommu_free_global_pasid in mainline). */
  freeKernelPasid(k: Kernel, dev: Device, pasid: number, source: 'global' | 'driver'): void;
  /** The PASID the ENQCMD #GP fixup would load into IA32_PASID, or null when mm_valid_pasid() is false. */
  mmEnqcmdPasid(mm: MmStruct): number | null;
  /**
   * Whether this pasid_array entry claims a number from the single global namespace, so that a global-IDA PASID
   * held by someone else at the same number is an aliasing violation. Per-bond and driver-owned PASIDs are
   * device-local by design; the RFC's are not: it keeps the global IDA and its callers in the same number space.
   */
  claimsGlobalNumber(group: IommuGroup, e: PasidEntry): boolean;
}
