/**
 * mm_struct reference counting, kernel/fork.c (Linux 6.17): mm_users (mmget/mmput, the address space) and mm_count
 * (mmgrab/mmdrop, the struct). mm_pasid_drop runs from __mmdrop, when mm_count reaches 0 (§3.12), so a PASID
 * outlives unbind and lives until every SVA domain that mmgrab'ed the mm is gone (§4).
 */
import { indexSet, type Kernel } from './kernel.js';
import { MmStruct, type IommuMmData, type Process } from './structs.js';
import { armSmmuMmRelease } from '../smmuv3/driver.js';
import { AddressSpace } from '../hw/address-space.js';

export function newMm(k: Kernel, owner: Process): MmStruct {
  const mm = new MmStruct(k.nextId('mm'), `${owner.name}/mm${owner.mmGen++}`, owner);
  mm.as = new AddressSpace(k.mem, mm.label); // mm_alloc_pgd()
  mm.pgd = mm.as.pt.root;
  k.mms.add(mm); // mm_init() -> mm_pasid_init(): iommu_mm = NULL
  k.dirty.mms.add(mm);
  if (k.tr.on) k.tr.set(`mm:${mm.label}`, 'created', { mm_users: 1, mm_count: 1 });
  return mm;
}

/** Publishes (smp_store_release) or clears mm->iommu_mm, keeping the PASID -> mm index. */
export function setMmIommuMm(k: Kernel, mm: MmStruct, im: IommuMmData | null): void {
  const old = mm.iommuMm;
  if (old && k.checkerIndexes) indexSet(k.mmsByPasid, old.pasid, mm, false);
  mm.iommuMm = im;
  if (im && k.checkerIndexes) indexSet(k.mmsByPasid, im.pasid, mm, true);
  k.dirty.mms.add(mm);
  if (old) k.dirty.pasids.add(old.pasid);
  if (im) k.dirty.pasids.add(im.pasid);
  if (k.tr.on) k.tr.set(`mm:${mm.label}`, 'iommu_mm', im ? { pasid: im.pasid, pasid_global: im.pasidGlobal } : null, old ? { pasid: old.pasid } : null);
}

/** Writes iommu_mm->pasid in place (the RFC's attach_any stores the per-device PASID there). */
export function setMmPasid(k: Kernel, mm: MmStruct, pasid: number): void {
  const im = mm.iommuMm!;
  if (k.checkerIndexes) indexSet(k.mmsByPasid, im.pasid, mm, false);
  const from = im.pasid;
  im.pasid = pasid;
  if (k.checkerIndexes) indexSet(k.mmsByPasid, pasid, mm, true);
  k.dirty.mms.add(mm);
  k.dirty.pasids.add(from);
  k.dirty.pasids.add(pasid);
  if (k.tr.on) k.tr.set(`mm:${mm.label}`, 'iommu_mm->pasid', pasid, from);
}

/** mmgrab() */
export function mmgrab(k: Kernel, mm: MmStruct): void {
  mm.mmCount++;
  k.dirty.mms.add(mm);
  if (k.tr.on) k.tr.set(`mm:${mm.label}`, 'mm_count', mm.mmCount, mm.mmCount - 1);
}

/** mmdrop(): at zero, __mmdrop() -> mm_pasid_drop() and the struct is freed. */
export function mmdrop(k: Kernel, mm: MmStruct): void {
  mm.mmCount--;
  k.dirty.mms.add(mm);
  if (k.tr.on) k.tr.set(`mm:${mm.label}`, 'mm_count', mm.mmCount, mm.mmCount + 1);
  if (mm.mmCount === 0) {
    const fn = '__mmdrop';
    if (k.tr.on) k.tr.enter(fn, { mm: mm.label });
    k.policy.mmPasidDrop(k, mm);
    mm.freed = true;
    k.mms.delete(mm);
    k.tr.leave(fn, null);
  }
}

/**
 * mmput(): at zero mm_users, __mmput() -> exit_mmap() runs the mmu-notifier release of every SVA domain of the mm
 * (arm_smmu_mm_release, §5.7), then drops the users' mm_count reference.
 */
export function mmput(k: Kernel, mm: MmStruct): void {
  mm.mmUsers--;
  k.dirty.mms.add(mm);
  if (mm.iommuMm) k.dirty.pasids.add(mm.iommuMm.pasid); // liveness decides enqcmd-pasid-unique
  if (k.tr.on) k.tr.set(`mm:${mm.label}`, 'mm_users', mm.mmUsers, mm.mmUsers + 1);
  if (mm.mmUsers === 0) {
    const fn = '__mmput';
    if (k.tr.on) k.tr.enter(fn, { mm: mm.label });
    // exit_mmap(): mmu_notifier_release() first (the SMMU stops using the page table), then the pages and tables go.
    for (let d = mm.iommuMm?.svaDomains ?? null; d; d = d.next) armSmmuMmRelease(k, d);
    mm.as?.destroy();
    mm.as = null;
    mm.pgd = 0;
    if (k.tr.on) k.tr.set(`mm:${mm.label}`, 'pgd', null, 'allocated');
    mmdrop(k, mm);
    k.tr.leave(fn, null);
  }
}
