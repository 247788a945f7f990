/**
 * The device drivers that own PASIDs in the model:
 * - an SVA character device in the style of uacce (drivers/misc/uacce/uacce.c uacce_fops_open/uacce_fops_release)
 *   and of idxd's cdev (drivers/dma/idxd/cdev.c idxd_cdev_open/idxd_cdev_release): open binds the opener's mm and
 *   programs iommu_sva_get_pasid() into the device; the last close unbinds;
 * - idxd's kernel PASID (drivers/dma/idxd/init.c idxd_enable_system_pasid/idxd_disable_system_pasid, §8.1).
 * How the bind itself happens is the policy's (mainline iommu_sva_bind_device, or a driver-owned PASID).
 */
import { IOMMU_PASID_INVALID } from './constants.js';
import { err, type KResult } from './errno.js';
import { iommuAttachDevicePasid, iommuDetachDevicePasid, iommuGetDomainForDev } from './iommu.js';
import { indexSet, type Kernel } from './kernel.js';
import { KernelPasid, OpenFile, type Device, type Process, type WorkQueue } from './structs.js';

/** open() of the device's SVA char device (or of one of its idxd work queues). */
export function svaCdevOpen(k: Kernel, p: Process, dev: Device, wq: WorkQueue | null): KResult<{ file: OpenFile; pasid: number }> {
  const fn = wq ? 'idxd_cdev_open' : 'uacce_fops_open';
  if (k.tr.on) k.tr.enter(fn, { process: p.name, dev: dev.name, wq: wq?.name ?? null });
  if (wq && wq.mode === 'dedicated' && wq.owner) {
    return k.tr.leave(fn, err('EBUSY', `dedicated WQ ${dev.name}/${wq.name} is already open (${wq.owner.label})`));
  }
  const b = k.policy.driverBind(k, dev, p.mm);
  if (!b.ok) return k.tr.leave(fn, b);
  const pasid = k.policy.getPasid(b.handle);
  if (pasid === IOMMU_PASID_INVALID) {
    k.policy.driverUnbind(k, b.handle, dev);
    return k.tr.leave(fn, err(wq ? 'EINVAL' : 'ENODEV', 'iommu_sva_get_pasid() returned IOMMU_PASID_INVALID'));
  }
  const file = new OpenFile(k.nextId('file'), dev, b.handle, pasid, wq);
  p.fds.push(file);
  if (k.checkerIndexes) (b.handle.files ??= new Set()).add(file);
  k.dirty.processes.add(p);
  if (wq && wq.mode === 'dedicated') {
    wq.owner = file;
    wq.wqcfgPasid = pasid; // idxd_wq_set_pasid(): disable, write WQCFG.pasid/pasid_en, enable
    if (k.tr.on) k.tr.set(`${dev.name}/${wq.name}`, 'WQCFG.pasid', pasid);
  }
  if (k.tr.on) k.tr.set(`process:${p.name}`, `fd:${file.label}`, { pasid, bond: b.handle.label });
  return k.tr.leave(fn, { ok: true as const, file, pasid });
}

/** fput(): the last holder's close runs the driver's release, which unbinds. */
export function fput(k: Kernel, file: OpenFile): void {
  file.refs--;
  if (file.refs > 0) return;
  const fn = file.wq ? 'idxd_cdev_release' : 'uacce_fops_release';
  if (k.tr.on) k.tr.enter(fn, { file: file.label });
  if (file.wq && file.wq.owner === file) {
    file.wq.owner = null;
    file.wq.wqcfgPasid = IOMMU_PASID_INVALID;
  }
  file.handle.files?.delete(file);
  k.dirty.handles.add(file.handle);
  k.policy.driverUnbind(k, file.handle, file.dev);
  k.tr.leave(fn, null);
}

/** idxd_enable_system_pasid() (§8.1): a global PASID with the DMA domain attached at it, without a handle. */
export function idxdEnableSystemPasid(k: Kernel, dev: Device, name: string): KResult<{ kp: KernelPasid }> {
  const fn = 'idxd_enable_system_pasid';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, as: name });
  const domain = iommuGetDomainForDev(dev);
  if (!domain) return k.tr.leave(fn, err('EPERM', `${dev.name} has no domain`));
  const { pasid, source } = k.policy.allocKernelPasid(k, dev);
  if (pasid === IOMMU_PASID_INVALID) return k.tr.leave(fn, err('ENOSPC', `no ${source === 'global' ? 'global' : "driver-owned"} PASID free in [1, ${dev.maxPasids - 1}] for ${dev.name}`));
  const kp = new KernelPasid(name, dev, pasid, source, domain);
  const r = iommuAttachDevicePasid(k, domain, dev, pasid, null, kp);
  if (!r.ok) {
    k.policy.freeKernelPasid(k, dev, pasid, source);
    return k.tr.leave(fn, r);
  }
  k.kernelPasids.set(name, kp);
  indexSet(k.kernelPasidsByPasid, kp.pasid, kp, true);
  if (k.tr.on) k.tr.set(`${dev.name}`, 'idxd->pasid', pasid);
  return k.tr.leave(fn, { ok: true as const, kp });
}

/**
 * A kernel driver attaching its DMA domain at a PASID it chose itself, without the IDA (the hazard of S8.3):
 * iommu_attach_device_pasid(domain, dev, pasid, NULL).
 */
export function driverAttachKernelPasid(k: Kernel, dev: Device, pasid: number, name: string): KResult<{ kp: KernelPasid }> {
  const domain = iommuGetDomainForDev(dev);
  if (!domain) return err('EPERM', `${dev.name} has no domain`);
  const kp = new KernelPasid(name, dev, pasid, 'chosen', domain);
  const r = iommuAttachDevicePasid(k, domain, dev, pasid, null, kp);
  if (!r.ok) return r;
  k.kernelPasids.set(name, kp);
  indexSet(k.kernelPasidsByPasid, kp.pasid, kp, true);
  return { ok: true, kp };
}

/** idxd_disable_system_pasid(): detach, then free the global PASID at once (a driver-chosen number is only detached). */
export function idxdDisableSystemPasid(k: Kernel, kp: KernelPasid): void {
  const fn = 'idxd_disable_system_pasid';
  if (k.tr.on) k.tr.enter(fn, { dev: kp.dev.name, pasid: kp.pasid });
  iommuDetachDevicePasid(k, kp.domain, kp.dev, kp.pasid);
  if (kp.source !== 'chosen') k.policy.freeKernelPasid(k, kp.dev, kp.pasid, kp.source);
  k.kernelPasids.delete(kp.name);
  indexSet(k.kernelPasidsByPasid, kp.pasid, kp, false);
  k.tr.leave(fn, null);
}
