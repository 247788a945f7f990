/**
 * `driver-pasid`: Kevin Tian's suggestion, agreed by Jason Gunthorpe for drivers without an ENQCMD-like programming
 * model, and the shape of the RFC's v2 (kernel-semantics.md §11.2). A device whose driver owns its PASID space
 * (`driver_pasid: true`) binds with iommu_sva_bind_device_pasid(dev, mm, pasid), the driver allocating from its own
 * IDA; every other device binds the mainline way.
 *
 * The choices the thread and the v2 summary leave open, marked [choice]:
 * - [choice] The driver's IDA covers [1, dev->iommu->max_pasids - 1] of its own device (the driver knows only its
 *   device); the core's per-group-device check then refuses a PASID a smaller group sibling cannot address (-EINVAL).
 * - [choice] Mixing on one process is refused with -EBUSY, both ways: iommu_sva_bind_device_pasid on an mm that
 *   holds a global PASID, and iommu_sva_bind_device on an mm with live driver-PASID bonds. (v2 forbids the mix; its
 *   errno is unknown.) A second driver-PASID device for the same mm is refused with -EBUSY too (v2: not supported).
 * - [choice] A repeated open by the same mm on the same device returns the existing bond (users + 1), found by
 *   (group, mm); the driver frees the PASID it had just allocated.
 * - [choice] The mm's iommu_mm holds pasid IOMMU_PASID_INVALID for driver-PASID bonds: mm_valid_pasid() is false
 *   for ENQCMD, and mm_pasid_drop frees nothing into the global IDA.
 */
import { IOMMU_PASID_INVALID } from '../kernel/constants.js';
import { err, type KResult } from '../kernel/errno.js';
import { Ida } from '../kernel/ida.js';
import { attachPrechecks, paInsert } from '../kernel/iommu.js';
import { iommuSvaBindDevice, newBond, svaBondLive } from '../kernel/iommu-sva.js';
import type { Kernel } from '../kernel/kernel.js';
import { setMmIommuMm } from '../kernel/mm.js';
import { XA_ZERO_ENTRY, type Device, type IommuSva, type MmStruct } from '../kernel/structs.js';
import { attachReservedBond, ensureLocalIommuMm, reuseBond, unbindPerBond } from './arch-gated.js';
import { mainline } from './mainline.js';
import type { Policy } from './policy.js';
import { entryLabel } from '../kernel/iommu.js';

/** The proposed iommu_sva_bind_device_pasid(dev, mm, pasid) (§11.2). */
export function iommuSvaBindDevicePasid(k: Kernel, dev: Device, mm: MmStruct, pasid: number): KResult<{ handle: IommuSva }> {
  const fn = 'iommu_sva_bind_device_pasid';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, mm: mm.label, pasid });
  if (!dev.group) return k.tr.leave(fn, err('ENODEV', `${dev.name} has no IOMMU group`));
  const im = mm.iommuMm;
  if (im && im.pasidGlobal) return k.tr.leave(fn, err('EBUSY', `${mm.label} holds global PASID ${im.pasid}: mixing iommu_sva_bind_device and iommu_sva_bind_device_pasid is refused`));
  if (im && im.svaDomains) return k.tr.leave(fn, err('EBUSY', `${mm.label} is already bound to another driver-PASID device (v2 supports one)`));
  // The checks of iommu_attach_device_pasid, in its order.
  const pre = attachPrechecks(k, k.blockedDomain, dev);
  if (!pre.ok) return k.tr.leave(fn, pre);
  if (pasid === 0) return k.tr.leave(fn, err('EINVAL', 'pasid == IOMMU_NO_PASID'));
  for (const d of dev.group.devices) {
    if (d.maxPasids > 0 && pasid >= d.maxPasids) return k.tr.leave(fn, err('EINVAL', `PASID ${pasid} >= max_pasids ${d.maxPasids} of ${d.name} in ${dev.group.label}`));
  }
  if (!paInsert(k, dev.group, pasid, XA_ZERO_ENTRY)) {
    return k.tr.leave(fn, err('EBUSY', `${dev.group.label} pasid_array[${pasid}] is occupied by ${entryLabel(dev.group.pasidArray.raw(pasid))}`));
  }
  ensureLocalIommuMm(k, mm);
  const handle = newBond(k, dev);
  const r = attachReservedBond(k, dev, mm, pasid, handle);
  if (!r.ok) return k.tr.leave(fn, r);
  return k.tr.leave(fn, svaBondLive(k, handle));
}

function driverOwned(k: Kernel, dev: Device): boolean {
  return dev.driverPasid && dev.driverIda !== null;
}

export const driverPasid: Policy = {
  name: 'driver-pasid',
  summary: "Kevin Tian's suggestion: drivers that own their PASID space bind with iommu_sva_bind_device_pasid from their own IDA",
  probeDevice(_k, dev) {
    if (dev.driverPasid) dev.driverIda = new Ida(20);
  },
  driverBind(k, dev, mm) {
    if (driverOwned(k, dev)) {
      if (dev.maxPasids <= 1) return err('ENOSPC', `${dev.name} has max_pasids ${dev.maxPasids}: its driver has no PASID to give`);
      const again = reuseBond(k, dev.group, mm);
      if (again) return { ok: true, handle: again };
      const pasid = dev.driverIda!.allocRange(1, dev.maxPasids - 1);
      if (k.tr.on) k.tr.set(`${dev.name}:driver_ida`, String(pasid), pasid < 0 ? 'full' : 'allocated');
      if (pasid < 0) return err('ENOSPC', `${dev.name}'s driver has no free PASID in [1, ${dev.maxPasids - 1}]`);
      const r = iommuSvaBindDevicePasid(k, dev, mm, pasid);
      if (!r.ok) dev.driverIda!.free(pasid);
      return r;
    }
    const im = mm.iommuMm;
    if (im && !im.pasidGlobal) {
      if (im.svaDomains) return err('EBUSY', `${mm.label} has driver-PASID bonds: mixing iommu_sva_bind_device and iommu_sva_bind_device_pasid is refused`);
      setMmIommuMm(k, mm, null); // no live driver-PASID bond left: the mm may take a global PASID
    }
    return iommuSvaBindDevice(k, dev, mm);
  },
  driverUnbind(k, handle, dev) {
    if (handle.pasid === IOMMU_PASID_INVALID) return mainline.driverUnbind(k, handle, dev);
    const fn = 'iommu_sva_unbind_device';
    if (k.tr.on) k.tr.enter(fn, { handle: handle.label, pasid: handle.pasid });
    const pasid = handle.pasid;
    if (unbindPerBond(k, handle)) {
      dev.driverIda?.free(pasid);
      if (k.tr.on) k.tr.set(`${dev.name}:driver_ida`, String(pasid), null, 'allocated');
    }
    k.tr.leave(fn, null);
  },
  getPasid: (handle) => (handle.pasid !== IOMMU_PASID_INVALID ? handle.pasid : mainline.getPasid(handle)),
  mmPasidDrop(k, mm) {
    if (mm.iommuMm && !mm.iommuMm.pasidGlobal) setMmIommuMm(k, mm, null);
    else mainline.mmPasidDrop(k, mm);
  },
  // §11.2 R5: "the driver owns the whole space, so it can reserve its kernel PASIDs in the same IDA".
  allocKernelPasid(k, dev) {
    if (!driverOwned(k, dev)) return mainline.allocKernelPasid(k, dev);
    const pasid = dev.driverIda!.allocRange(1, dev.maxPasids - 1);
    if (k.tr.on && pasid >= 0) k.tr.set(`${dev.name}:driver_ida`, String(pasid), 'allocated');
    return { pasid: pasid < 0 ? IOMMU_PASID_INVALID : pasid, source: 'driver' };
  },
  freeKernelPasid(k, dev, pasid, source) {
    if (source === 'global') return mainline.freeKernelPasid(k, dev, pasid, source);
    dev.driverIda?.free(pasid);
    if (k.tr.on) k.tr.set(`${dev.name}:driver_ida`, String(pasid), null, 'allocated');
  },
  mmEnqcmdPasid: (mm) => (mm.iommuMm && mm.iommuMm.pasidGlobal ? mm.iommuMm.pasid : null),
  // Driver-owned numbers (bonds, and kernel PASIDs from the driver's IDA) are device-local by design.
  claimsGlobalNumber: (_group, e) => !((e.tag === 'HANDLE' && e.handle.pasid !== IOMMU_PASID_INVALID) || (e.tag === 'DOMAIN' && e.owner?.source === 'driver')),
};
