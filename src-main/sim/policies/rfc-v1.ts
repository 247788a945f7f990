/**
 * `rfc-v1`: "[PATCH RFC] iommu: Enable per-device SSID space for SVA" (Joonwon Kang, 2026-04-24), exactly as posted
 * (shared/seed/rfc-per-device-ssid-thread.txt; kernel-semantics.md §10), flaws included:
 * - arm_smmu_capable(IOMMU_CAP_PER_DEV_PASID_SPACE) is true for every SMMUv3 master;
 * - iommu_alloc_mm_data: the cap of the device bound first decides for the mm forever (pasid 0, pasid_global false);
 * - iommu_attach_device_pasid_any: xa_alloc of the lowest free index in [1, dev->iommu->max_pasids - 1] (u32, so
 *   max_pasids 0 gives [1, 0xFFFFFFFF]) with no per-group-device max_pasids check; it writes the per-device PASID
 *   into iommu_mm->pasid;
 * - mm_pasid_drop frees into the IDA only if pasid_global.
 */
import { IOMMU_FIRST_GLOBAL_PASID, IOMMU_NO_PASID, IOMMU_PASID_INVALID, u32 } from '../kernel/constants.js';
import { err, type KResult } from '../kernel/errno.js';
import { attachPrechecks, iommuAllocGlobalPasid, iommuAttachDevicePasid, iommuFreeGlobalPasid, iommuSetGroupPasid, makePasidArrayEntry, paAlloc, paErase, paStore } from '../kernel/iommu.js';
import { iommuSvaGetPasid, iommuSvaUnbindDevice, newBond, svaAttachExistingDomain, svaAttachNewDomain, svaBondLive, svaLookupBond } from '../kernel/iommu-sva.js';
import type { Kernel } from '../kernel/kernel.js';
import { setMmIommuMm, setMmPasid } from '../kernel/mm.js';
import { IommuMmData, XA_ZERO_ENTRY, type Device, type IommuDomain, type IommuSva, type MmStruct } from '../kernel/structs.js';
import type { Policy } from './policy.js';

/** arm-smmu-v3.c arm_smmu_capable(dev, IOMMU_CAP_PER_DEV_PASID_SPACE), RFC: true. `rfcCap: false` models another IOMMU driver. */
function capable(dev: Device): boolean {
  return dev.smmu.rfcCap;
}

/** iommu-sva.c iommu_alloc_mm_data(), as patched by the RFC. */
function rfcAllocMmData(k: Kernel, mm: MmStruct, dev: Device): KResult<{ iommuMm: IommuMmData }> {
  const fn = 'iommu_alloc_mm_data';
  if (k.tr.on) k.tr.enter(fn, { mm: mm.label, dev: dev.name });
  const existing = mm.iommuMm;
  if (existing) {
    if (existing.pasid >= dev.maxPasids) {
      return k.tr.leave(fn, err('EOVERFLOW', `${mm.label} already owns PASID ${existing.pasid}, >= max_pasids ${dev.maxPasids} of ${dev.name}`));
    }
    return k.tr.leave(fn, { ok: true as const, iommuMm: existing });
  }
  let im: IommuMmData;
  if (capable(dev)) {
    im = new IommuMmData(IOMMU_NO_PASID, false);
  } else {
    const pasid = iommuAllocGlobalPasid(k, dev);
    if (pasid === IOMMU_PASID_INVALID) return k.tr.leave(fn, err('ENOSPC', `global PASID IDA has no free id in [1, ${dev.maxPasids - 1}] for ${dev.name}`));
    im = new IommuMmData(pasid, true);
  }
  setMmIommuMm(k, mm, im);
  return k.tr.leave(fn, { ok: true as const, iommuMm: im });
}

/** iommu.c iommu_attach_device_pasid_any() as posted. */
export function iommuAttachDevicePasidAny(k: Kernel, domain: IommuDomain, dev: Device, mm: MmStruct, handle: IommuSva | null): KResult {
  const fn = 'iommu_attach_device_pasid_any';
  if (k.tr.on) k.tr.enter(fn, { domain: domain.label, dev: dev.name, handle: handle?.label ?? null });
  const pre = attachPrechecks(k, domain, dev);
  if (!pre.ok) return k.tr.leave(fn, pre);
  const group = dev.group;
  // mutex_lock(&group->mutex); group->resetting_domain is never set in the model (no PCI reset in progress).
  const entry = makePasidArrayEntry(domain, handle, null);
  const max = u32(dev.maxPasids - 1); // .max = dev->iommu->max_pasids - 1, computed in u32
  const pasid = paAlloc(k, group, IOMMU_FIRST_GLOBAL_PASID, max, XA_ZERO_ENTRY);
  if (pasid < 0) return k.tr.leave(fn, err('EBUSY', `${group.label} pasid_array has no free index in [1, ${max}] (xa_alloc)`));
  const r = iommuSetGroupPasid(k, domain, group, pasid, null);
  if (!r.ok) {
    paErase(k, group, pasid); // xa_release
    return k.tr.leave(fn, r);
  }
  paStore(k, group, pasid, entry);
  setMmPasid(k, mm, pasid); // *pasid = new_pasid, with pasid == &iommu_mm->pasid
  return k.tr.leave(fn, { ok: true as const, pasid });
}

/** iommu-sva.c iommu_sva_bind_device(), as patched by the RFC. */
function rfcBind(k: Kernel, dev: Device, mm: MmStruct): KResult<{ handle: IommuSva }> {
  const fn = 'iommu_sva_bind_device';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, mm: mm.label });
  if (!dev.group) return k.tr.leave(fn, err('ENODEV', `${dev.name} has no IOMMU group`));
  const md = rfcAllocMmData(k, mm, dev);
  if (!md.ok) return k.tr.leave(fn, md);
  const im = md.iommuMm;
  const found = svaLookupBond(k, dev, mm, im.pasid);
  if (found) return k.tr.leave(fn, found);
  const handle = newBond(k, dev);
  if (im.pasid !== IOMMU_NO_PASID && svaAttachExistingDomain(k, dev, mm, im.pasid, handle)) return k.tr.leave(fn, svaBondLive(k, handle));
  const n = svaAttachNewDomain(k, dev, mm, handle, (domain) =>
    im.pasid !== IOMMU_NO_PASID ? iommuAttachDevicePasid(k, domain, dev, im.pasid, handle) : iommuAttachDevicePasidAny(k, domain, dev, mm, handle),
  );
  if (!n.ok) return k.tr.leave(fn, n);
  return k.tr.leave(fn, svaBondLive(k, handle));
}

export const rfcV1: Policy = {
  name: 'rfc-v1',
  summary: 'the per-device SSID RFC as posted: an SMMUv3 device bound first gives the mm a PASID from its own group array',
  probeDevice() {},
  driverBind: rfcBind,
  driverUnbind: (k, handle) => iommuSvaUnbindDevice(k, handle), // unchanged: detaches at iommu_mm->pasid
  getPasid: (handle) => iommuSvaGetPasid(handle),
  mmPasidDrop(k, mm) {
    const fn = 'mm_pasid_drop';
    if (k.tr.on) k.tr.enter(fn, { mm: mm.label });
    const im = mm.iommuMm;
    if (im) {
      if (im.pasidGlobal) iommuFreeGlobalPasid(k, im.pasid);
      setMmIommuMm(k, mm, null);
    }
    k.tr.leave(fn, null);
  },
  allocKernelPasid: (k, dev) => ({ pasid: iommuAllocGlobalPasid(k, dev), source: 'global' }),
  freeKernelPasid: (k, _dev, pasid) => iommuFreeGlobalPasid(k, pasid),
  mmEnqcmdPasid: (mm) => (mm.iommuMm ? mm.iommuMm.pasid : null),
  claimsGlobalNumber: () => true,
};

