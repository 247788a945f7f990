/**
 * drivers/iommu/iommu-sva.c, Linux 6.17 (kernel-semantics.md §3.7-§3.12): mainline SVA. The pieces that the RFC
 * patch leaves untouched (the bond lookup, the domain loop, domain allocation and free) are exported for the
 * policies that patch the rest.
 */
import { IOMMU_PASID_INVALID } from './constants.js';
import { err, type KErr, type KResult } from './errno.js';
import { iommuAllocGlobalPasid, iommuAttachDevicePasid, iommuAttachHandleGet, iommuAttachHandleLookup, iommuDetachDevicePasid, iommuFreeGlobalPasid, forgetDomain } from './iommu.js';
import { indexSet, type Kernel } from './kernel.js';
import { mmdrop, mmgrab, setMmIommuMm } from './mm.js';
import { IommuDomain, IommuMmData, IommuSva, type Device, type MmStruct } from './structs.js';
import { armSmmuDomainFree, armSmmuSvaDomainAlloc } from '../smmuv3/driver.js';

/**
 * iommu-sva.c iommu_alloc_mm_data() (§3.7), mainline: reuse the mm's PASID (-EOVERFLOW if this device cannot
 * address it) or take one from the global IDA (-ENOSPC).
 */
export function iommuAllocMmData(k: Kernel, mm: MmStruct, dev: Device): KResult<{ iommuMm: IommuMmData }> {
  const fn = 'iommu_alloc_mm_data';
  if (k.tr.on) k.tr.enter(fn, { mm: mm.label, dev: dev.name });
  // arch_pgtable_dma_compat(): true on arm64; on x86 false only with LAM enabled, which the model does not enable.
  const existing = mm.iommuMm;
  if (existing) {
    if (existing.pasid >= dev.maxPasids) {
      return k.tr.leave(fn, err('EOVERFLOW', `${mm.label} already owns PASID ${existing.pasid}, >= max_pasids ${dev.maxPasids} of ${dev.name}`));
    }
    return k.tr.leave(fn, { ok: true as const, iommuMm: existing });
  }
  const pasid = iommuAllocGlobalPasid(k, dev);
  if (pasid === IOMMU_PASID_INVALID) {
    return k.tr.leave(fn, err('ENOSPC', dev.maxPasids <= 1 ? `${dev.name} has max_pasids ${dev.maxPasids}: no PASID can be allocated for it` : `global PASID IDA has no free id in [1, ${dev.maxPasids - 1}] for ${dev.name}`));
  }
  const iommuMm = new IommuMmData(pasid, true);
  setMmIommuMm(k, mm, iommuMm);
  return k.tr.leave(fn, { ok: true as const, iommuMm });
}

/** iommu-sva.c iommu_sva_domain_alloc() (§3.8): the driver's domain_alloc_sva, then mmgrab. */
export function iommuSvaDomainAlloc(k: Kernel, dev: Device, mm: MmStruct): KResult<{ domain: IommuDomain }> {
  const fn = 'iommu_sva_domain_alloc';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, mm: mm.label });
  const r = armSmmuSvaDomainAlloc(k, dev, mm);
  if (!r.ok) return k.tr.leave(fn, r);
  const domain = r.domain;
  mmgrab(k, mm);
  k.domains.add(domain);
  if (k.checkerIndexes) indexSet(k.svaDomainsByMm, mm, domain, true);
  k.dirty.domains.add(domain);
  if (k.tr.on) k.tr.set(domain.label, 'asid', r.domain.asid);
  return k.tr.leave(fn, { ok: true as const, domain });
}

/** iommu_domain_free() of an SVA domain: the driver's free (ASID, TLBI), then mmdrop(domain->mm). */
export function iommuSvaDomainFree(k: Kernel, domain: IommuDomain): void {
  armSmmuDomainFree(k, domain);
  forgetDomain(k, domain);
  if (k.checkerIndexes) indexSet(k.svaDomainsByMm, domain.mm!, domain, false);
  mmdrop(k, domain.mm!);
}

export function newBond(k: Kernel, dev: Device): IommuSva {
  return new IommuSva(k.nextId('handle'), dev);
}

/**
 * Steps 3-5 of iommu_sva_bind_device(): the "bond exists" lookup keyed by (group, PASID). Returns the existing handle
 * (its users bumped), an -EBUSY error, or null to go on.
 */
export function svaLookupBond(k: Kernel, dev: Device, mm: MmStruct, pasid: number): KResult<{ handle: IommuSva }> | null {
  // iommu_attach_handle_get(); its error text is built only when the error is returned.
  const got = iommuAttachHandleLookup(dev.group, pasid, 'SVA');
  if (got === 'ENOENT') return null; // continue
  if (got === 'EBUSY') return iommuAttachHandleGet(dev.group, pasid, 'SVA') as KErr;
  if (got.domain.mm !== mm) {
    return err('EBUSY', `${dev.group.label} pasid ${pasid} is bound to ${got.domain.mm?.label}, not ${mm.label}`);
  }
  got.users++;
  k.dirty.handles.add(got);
  if (k.tr.on) k.tr.set(got.label, 'users', got.users, got.users - 1);
  return { ok: true, handle: got };
}

/** Step 7: try each of the mm's SVA domains at `pasid`; errors are ignored. Returns the domain that attached. */
export function svaAttachExistingDomain(k: Kernel, dev: Device, mm: MmStruct, pasid: number, handle: IommuSva): IommuDomain | null {
  for (let domain = mm.iommuMm!.svaDomains; domain; domain = domain.next) {
    const r = iommuAttachDevicePasid(k, domain, dev, pasid, handle);
    if (r.ok) {
      domain.users++;
      k.dirty.domains.add(domain);
      if (k.tr.on) k.tr.set(domain.label, 'users', domain.users, domain.users - 1);
      return domain;
    }
  }
  return null;
}

/** Steps 8-9 with the attach step supplied by the caller. On success the domain joins mm->iommu_mm->sva_domains. */
export function svaAttachNewDomain(
  k: Kernel,
  dev: Device,
  mm: MmStruct,
  handle: IommuSva,
  attach: (domain: IommuDomain) => KResult,
): KResult<{ domain: IommuDomain }> {
  const d = iommuSvaDomainAlloc(k, dev, mm);
  if (!d.ok) return d;
  const r = attach(d.domain);
  if (!r.ok) {
    iommuSvaDomainFree(k, d.domain); // out_free_domain: this mmdrops
    return r;
  }
  d.domain.users = 1;
  mm.iommuMm!.addSvaDomain(d.domain);
  if (k.tr.on) k.tr.set(d.domain.label, 'users', 1, 0);
  return d;
}

/** Step 10: the handle goes live. */
export function svaBondLive(k: Kernel, handle: IommuSva): KResult<{ handle: IommuSva }> {
  handle.users = 1;
  k.handles.add(handle);
  k.dirty.handles.add(handle);
  if (k.tr.on) k.tr.set(handle.label, 'users', 1);
  return { ok: true, handle };
}

/** iommu-sva.c iommu_sva_bind_device(dev, mm) (§3.9), mainline. */
export function iommuSvaBindDevice(k: Kernel, dev: Device, mm: MmStruct): KResult<{ handle: IommuSva }> {
  const fn = 'iommu_sva_bind_device';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, mm: mm.label });
  if (!dev.group) return k.tr.leave(fn, err('ENODEV', `${dev.name} has no IOMMU group`));
  // mutex_lock(&iommu_sva_lock)
  const md = iommuAllocMmData(k, mm, dev);
  if (!md.ok) return k.tr.leave(fn, md);
  const pasid = md.iommuMm.pasid;
  const found = svaLookupBond(k, dev, mm, pasid);
  if (found) return k.tr.leave(fn, found);
  const handle = newBond(k, dev);
  if (svaAttachExistingDomain(k, dev, mm, pasid, handle)) return k.tr.leave(fn, svaBondLive(k, handle));
  const n = svaAttachNewDomain(k, dev, mm, handle, (domain) => iommuAttachDevicePasid(k, domain, dev, pasid, handle));
  if (!n.ok) return k.tr.leave(fn, n);
  return k.tr.leave(fn, svaBondLive(k, handle));
}

/**
 * Steps 2-4 of iommu_sva_unbind_device() once the handle's last user is gone: detach at `pasid`, drop the domain's
 * user, free it at zero (which mmdrops and may run mm_pasid_drop synchronously, §3.10).
 */
export function svaDetachBond(k: Kernel, handle: IommuSva, pasid: number): void {
  const domain = handle.domain;
  iommuDetachDevicePasid(k, domain, handle.dev, pasid);
  domain.users--;
  k.dirty.domains.add(domain);
  if (k.tr.on) k.tr.set(domain.label, 'users', domain.users, domain.users + 1);
  if (domain.users === 0) {
    domain.mm!.iommuMm?.removeSvaDomain(domain); // list_del
    iommuSvaDomainFree(k, domain);
  }
  k.handles.delete(handle);
  k.dirty.handles.add(handle);
}

/** Step 1: refcount_dec_and_test(&handle->users). True when the bond must be torn down. */
export function svaBondPut(k: Kernel, handle: IommuSva): boolean {
  handle.users--;
  k.dirty.handles.add(handle);
  if (k.tr.on) k.tr.set(handle.label, 'users', handle.users, handle.users + 1);
  return handle.users === 0;
}

/** iommu-sva.c iommu_sva_unbind_device(handle) (§3.10), mainline: the PASID is read from the mm, never freed here. */
export function iommuSvaUnbindDevice(k: Kernel, handle: IommuSva): void {
  const fn = 'iommu_sva_unbind_device';
  if (k.tr.on) k.tr.enter(fn, { handle: handle.label });
  if (svaBondPut(k, handle)) svaDetachBond(k, handle, handle.domain.mm!.iommuMm!.pasid);
  k.tr.leave(fn, null);
}

/** iommu-sva.c iommu_sva_get_pasid() (§3.11): mm_get_enqcmd_pasid(handle->handle.domain->mm). */
export function iommuSvaGetPasid(handle: IommuSva): number {
  return mmGetEnqcmdPasid(handle.domain.mm!);
}

/** include/linux/iommu.h mm_get_enqcmd_pasid() */
export function mmGetEnqcmdPasid(mm: MmStruct): number {
  return mm.iommuMm ? mm.iommuMm.pasid : IOMMU_PASID_INVALID;
}

/** iommu-sva.c mm_pasid_drop() (§3.12), mainline: free the global PASID and the iommu_mm. */
export function mmPasidDrop(k: Kernel, mm: MmStruct): void {
  const fn = 'mm_pasid_drop';
  if (k.tr.on) k.tr.enter(fn, { mm: mm.label });
  const im = mm.iommuMm;
  if (im) {
    iommuFreeGlobalPasid(k, im.pasid);
    setMmIommuMm(k, mm, null);
  }
  k.tr.leave(fn, null);
}
