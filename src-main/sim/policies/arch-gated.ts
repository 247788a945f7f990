/**
 * `arch-gated`: Jason Gunthorpe's suggestion in the RFC thread (kernel-semantics.md §11.1). Whether SVA PASIDs are
 * global is decided by the architecture, not by an IOMMU capability:
 * - with an ENQCMD-like instruction (CONFIG_ARCH_HAS_CPU_PASID; x86, or an arm64 SoC declared to load ACCDATA_EL1
 *   from the mm's PASID): exactly mainline;
 * - otherwise PASIDs are per bond: allocated in the group's pasid_array, bounded by the smallest max_pasids of the
 *   group's PASID-capable devices, stored in the bond and freed at its last unbind.
 *
 * No code for this exists upstream; the choices below are the lab's and are marked [choice]:
 * - [choice] An existing bond is found by (group, mm) instead of (group, mm's PASID): repeated binds of one mm to one
 *   group return the same handle, as in mainline.
 * - [choice] A group with no PASID-capable device, or a full range, fails with -ENOSPC (mainline's errno for "no
 *   PASID for this device").
 * - [choice] The mm still gets an iommu_mm (with pasid IOMMU_PASID_INVALID, pasid_global false) to hold its
 *   sva_domains list, so one SVA domain per (mm, SMMU) is kept; mm_pasid_drop frees nothing into the IDA for it.
 * - [choice] Kernel PASIDs (idxd style) still come from the global IDA, but the lowest id that is also free in the
 *   device's own group, so a per-bond PASID taken first cannot make the kernel's attach fail (the R5 ordering
 *   problem, which §11.1 says this policy must avoid).
 */
import { IOMMU_FIRST_GLOBAL_PASID, IOMMU_PASID_INVALID } from '../kernel/constants.js';
import { err, type KResult } from '../kernel/errno.js';
import { attachPrechecks, iommuSetGroupPasid, makePasidArrayEntry, paAlloc, paErase, paStore } from '../kernel/iommu.js';
import { newBond, svaBondLive, svaBondPut, svaDetachBond, svaAttachNewDomain } from '../kernel/iommu-sva.js';
import type { Kernel } from '../kernel/kernel.js';
import { setMmIommuMm } from '../kernel/mm.js';
import { IommuMmData, XA_ZERO_ENTRY, type Device, type IommuDomain, type IommuGroup, type IommuSva, type MmStruct } from '../kernel/structs.js';
import { mainline } from './mainline.js';
import type { Policy } from './policy.js';

/** The smallest max_pasids among the group's PASID-capable devices, or 0 when none can issue PASIDs. */
export function groupMinMaxPasids(group: IommuGroup): number {
  let min = 0;
  for (const d of group.devices) if (d.maxPasids > 0 && (min === 0 || d.maxPasids < min)) min = d.maxPasids;
  return min;
}

/** The per-mm holder of sva_domains for per-bond PASIDs. */
export function ensureLocalIommuMm(k: Kernel, mm: MmStruct): IommuMmData {
  if (!mm.iommuMm) setMmIommuMm(k, mm, new IommuMmData(IOMMU_PASID_INVALID, false));
  return mm.iommuMm!;
}

/**
 * Attaches `handle` for `mm` at `pasid`, already reserved in the group's array: first through one of the mm's SVA
 * domains (one per SMMU), else through a new one. On failure the reservation is released.
 */
export function attachReservedBond(k: Kernel, dev: Device, mm: MmStruct, pasid: number, handle: IommuSva): KResult {
  const group = dev.group;
  let domain: IommuDomain | null = null;
  for (let d = mm.iommuMm!.svaDomains; d; d = d.next) {
    if (iommuSetGroupPasid(k, d, group, pasid, null).ok) {
      domain = d;
      d.users++;
      k.dirty.domains.add(d);
      break;
    }
  }
  if (!domain) {
    const n = svaAttachNewDomain(k, dev, mm, handle, (d) => iommuSetGroupPasid(k, d, group, pasid, null));
    if (!n.ok) {
      paErase(k, group, pasid);
      return n;
    }
    domain = n.domain;
  }
  paStore(k, group, pasid, makePasidArrayEntry(domain, handle, null));
  handle.pasid = pasid;
  group.bondsByMm.set(mm.id, handle);
  return { ok: true };
}

/** The (group, mm) lookup: an existing bond gets one more user. */
export function reuseBond(k: Kernel, group: IommuGroup, mm: MmStruct): IommuSva | null {
  const h = group.bondsByMm.get(mm.id);
  if (!h) return null;
  h.users++;
  k.dirty.handles.add(h);
  if (k.tr.on) k.tr.set(h.label, 'users', h.users, h.users - 1);
  return h;
}

/** Tears a per-bond handle down at its last user: detach at the bond's own PASID. */
export function unbindPerBond(k: Kernel, handle: IommuSva): boolean {
  if (!svaBondPut(k, handle)) return false;
  handle.dev.group.bondsByMm.delete(handle.domain.mm!.id);
  svaDetachBond(k, handle, handle.pasid);
  return true;
}

function perBondBind(k: Kernel, dev: Device, mm: MmStruct): KResult<{ handle: IommuSva }> {
  const fn = 'iommu_sva_bind_device';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, mm: mm.label, pasids: 'per-bond' });
  if (!dev.group) return k.tr.leave(fn, err('ENODEV', `${dev.name} has no IOMMU group`));
  // Like mainline, whose iommu_alloc_mm_data fails before the bond lookup, a device that cannot issue a PASID other
  // than 0 is refused even when a group sibling can (and even when the mm is bound to that sibling).
  if (dev.maxPasids <= 1) return k.tr.leave(fn, err('ENOSPC', `${dev.name} has max_pasids ${dev.maxPasids}: no PASID can be allocated for it`));
  const group = dev.group;
  const again = reuseBond(k, group, mm);
  if (again) return k.tr.leave(fn, { ok: true as const, handle: again });
  ensureLocalIommuMm(k, mm);
  const handle = newBond(k, dev);
  const min = groupMinMaxPasids(group);
  // The prechecks of iommu_attach_device_pasid, against a placeholder: every SVA domain shares the same ops.
  const pre = attachPrechecks(k, k.blockedDomain, dev);
  if (!pre.ok) return k.tr.leave(fn, pre);
  const pasid = min > 1 ? paAlloc(k, group, IOMMU_FIRST_GLOBAL_PASID, min - 1, XA_ZERO_ENTRY) : -1;
  if (pasid < 0) return k.tr.leave(fn, err('ENOSPC', min <= 1 ? `${group.label} has no device that can use a PASID other than 0` : `${group.label} has no free PASID in [1, ${min - 1}]`));
  const r = attachReservedBond(k, dev, mm, pasid, handle);
  if (!r.ok) return k.tr.leave(fn, r);
  return k.tr.leave(fn, svaBondLive(k, handle));
}

/** The lowest id free both in the global IDA and in `dev`'s group, taken from the IDA. */
function allocKernelPasidAvoidingGroup(k: Kernel, dev: Device): number {
  if (dev.maxPasids === 0) return IOMMU_PASID_INVALID;
  const max = dev.maxPasids - 1;
  let c = IOMMU_FIRST_GLOBAL_PASID;
  for (;;) {
    c = k.globalPasidIda.peek(c, max);
    if (c < 0) return IOMMU_PASID_INVALID;
    if (!dev.group.pasidArray.raw(c)) break;
    c++;
  }
  k.globalPasidIda.take(c);
  k.dirty.pasids.add(c);
  if (k.tr.on) k.tr.set('ida', String(c), 'allocated');
  return c;
}

export const archGated: Policy = {
  name: 'arch-gated',
  summary: "Jason Gunthorpe's suggestion: global per-mm PASIDs only where the arch has an ENQCMD-like instruction, per-bond PASIDs otherwise",
  probeDevice() {},
  driverBind: (k, dev, mm) => (k.enqcmd ? mainline.driverBind(k, dev, mm) : perBondBind(k, dev, mm)),
  driverUnbind(k, handle, dev) {
    if (handle.pasid === IOMMU_PASID_INVALID) return mainline.driverUnbind(k, handle, dev);
    const fn = 'iommu_sva_unbind_device';
    if (k.tr.on) k.tr.enter(fn, { handle: handle.label, pasid: handle.pasid });
    unbindPerBond(k, handle);
    k.tr.leave(fn, null);
  },
  getPasid: (handle) => (handle.pasid !== IOMMU_PASID_INVALID ? handle.pasid : mainline.getPasid(handle)),
  mmPasidDrop(k, mm) {
    if (mm.iommuMm && !mm.iommuMm.pasidGlobal) setMmIommuMm(k, mm, null);
    else mainline.mmPasidDrop(k, mm);
  },
  allocKernelPasid: (k, dev) => (k.enqcmd ? mainline.allocKernelPasid(k, dev) : { pasid: allocKernelPasidAvoidingGroup(k, dev), source: 'global' }),
  freeKernelPasid: (k, dev, pasid, source) => mainline.freeKernelPasid(k, dev, pasid, source),
  mmEnqcmdPasid: (mm) => (mm.iommuMm && mm.iommuMm.pasidGlobal ? mm.iommuMm.pasid : null),
  claimsGlobalNumber: (_group, e) => !(e.tag === 'HANDLE' && e.handle.pasid !== IOMMU_PASID_INVALID),
};
