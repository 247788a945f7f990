/**
 * drivers/iommu/iommu.c, Linux 6.17 (kernel-semantics.md §3.1-§3.6, §3.13): the global PASID IDA, PASID attach and
 * detach over a group's pasid_array, attach handles, RID attach. Checks run in the kernel's order and return its
 * errnos.
 */
import { IOMMU_FIRST_GLOBAL_PASID, IOMMU_NO_PASID, IOMMU_PASID_INVALID } from './constants.js';
import { err, OK, type KResult } from './errno.js';
import { indexSet, type Kernel } from './kernel.js';
import {
  DomainEntry,
  HandleEntry,
  XA_ZERO_ENTRY,
  type Device,
  type DomainType,
  type IommuDomain,
  type IommuGroup,
  type IommuSva,
  type KernelPasid,
  type PasidEntry,
} from './structs.js';
import { armSmmuAttachDev, armSmmuBlockingSetDevPasid, hasSetDevPasid, setDevPasid } from '../smmuv3/driver.js';

// ---------------------------------------------------------------------------------------------------------------
// The global PASID IDA
// ---------------------------------------------------------------------------------------------------------------

/**
 * iommu.c iommu_alloc_global_pasid(): the lowest free id in [1, dev->iommu->max_pasids - 1] of the one global IDA,
 * or IOMMU_PASID_INVALID when max_pasids is 0, the range is empty (max_pasids 1) or it is exhausted (§3.2).
 */
export function iommuAllocGlobalPasid(k: Kernel, dev: Device): number {
  const fn = 'iommu_alloc_global_pasid';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, range: [IOMMU_FIRST_GLOBAL_PASID, dev.maxPasids - 1] });
  if (dev.maxPasids === 0) return k.tr.leave(fn, IOMMU_PASID_INVALID);
  const id = k.globalPasidIda.allocRange(IOMMU_FIRST_GLOBAL_PASID, dev.maxPasids - 1);
  if (id < 0) return k.tr.leave(fn, IOMMU_PASID_INVALID);
  k.dirty.pasids.add(id);
  if (k.tr.on) k.tr.set('ida', String(id), 'allocated');
  return k.tr.leave(fn, id);
}

/** iommu.c iommu_free_global_pasid(): WARN on INVALID; ida_free (which WARNs on an id not allocated). */
export function iommuFreeGlobalPasid(k: Kernel, pasid: number): void {
  const fn = 'iommu_free_global_pasid';
  if (k.tr.on) k.tr.enter(fn, { pasid });
  if (pasid === IOMMU_PASID_INVALID) {
    if (k.tr.on) k.tr.note('WARN_ON(pasid == IOMMU_PASID_INVALID)');
  } else if (!k.globalPasidIda.free(pasid)) {
    if (k.tr.on) k.tr.note(`WARN: ida_free called for id=${pasid} which is not allocated`);
  } else {
    k.dirty.pasids.add(pasid);
    if (k.tr.on) k.tr.set('ida', String(pasid), null, 'allocated');
  }
  k.tr.leave(fn, null);
}

// ---------------------------------------------------------------------------------------------------------------
// group->pasid_array helpers: every mutation goes through here so that the indexes, the dirty set and the trace
// stay in step with the xarray.
// ---------------------------------------------------------------------------------------------------------------

export function entryLabel(e: PasidEntry | undefined): string | null {
  if (!e) return null;
  if (e.tag === 'ZERO') return 'reserved';
  if (e.tag === 'HANDLE') return e.handle.domain.mm?.label ?? '?';
  return e.owner ? e.owner.label : e.domain.label;
}

function entryDomain(e: PasidEntry | undefined): IommuDomain | null {
  if (!e || e.tag === 'ZERO') return null;
  return e.tag === 'HANDLE' ? e.handle.domain : e.domain;
}

function noteSlot(k: Kernel, group: IommuGroup, pasid: number, from: PasidEntry | undefined, to: PasidEntry | undefined): void {
  const a = entryDomain(from);
  const b = entryDomain(to);
  if (a !== b) {
    // A slot holds at most one domain, so counting the transitions counts the slots.
    if (a) {
      a.attachedSlots--;
      k.dirty.domains.add(a);
    }
    if (b) {
      b.attachedSlots++;
      k.dirty.domains.add(b);
    }
  }
  if (from?.tag === 'HANDLE') k.dirty.handles.add(from.handle);
  if (to?.tag === 'HANDLE') k.dirty.handles.add(to.handle);
  if (k.checkerIndexes) indexSet(k.groupsByPasid, pasid, group, to !== undefined && to.tag !== 'ZERO');
  k.dirty.groups.add(group);
  k.dirty.slot(group, pasid);
  k.dirty.pasids.add(pasid);
  if (k.tr.on) {
    const f = entryLabel(from);
    const t = entryLabel(to);
    if (f !== t) k.tr.set(group.label, `pasid_array[${pasid}]`, t, f);
  }
}

/** xa_insert(&group->pasid_array, pasid, entry): false when anything, a reservation included, is there. */
export function paInsert(k: Kernel, group: IommuGroup, pasid: number, e: PasidEntry): boolean {
  if (!group.pasidArray.insert(pasid, e)) return false;
  noteSlot(k, group, pasid, undefined, e);
  return true;
}

/** xa_alloc(&group->pasid_array, &id, entry, XA_LIMIT(min, max)): -1 when the range is full. */
export function paAlloc(k: Kernel, group: IommuGroup, min: number, max: number, e: PasidEntry): number {
  const id = group.pasidArray.alloc(min, max, e);
  if (id >= 0) noteSlot(k, group, id, undefined, e);
  return id;
}

export function paStore(k: Kernel, group: IommuGroup, pasid: number, e: PasidEntry): void {
  const old = group.pasidArray.raw(pasid);
  group.pasidArray.store(pasid, e);
  noteSlot(k, group, pasid, old, e);
}

/** xa_erase / xa_release */
export function paErase(k: Kernel, group: IommuGroup, pasid: number): void {
  const old = group.pasidArray.erase(pasid);
  if (old) noteSlot(k, group, pasid, old, undefined);
}

export function makePasidArrayEntry(domain: IommuDomain, handle: IommuSva | null, owner: KernelPasid | null): PasidEntry {
  // iommu_make_pasid_array_entry(): a handle gets handle->domain = domain and the HANDLE tag; else the DOMAIN tag.
  if (handle) {
    handle.domain = domain;
    return new HandleEntry(handle);
  }
  return new DomainEntry(domain, owner);
}

// ---------------------------------------------------------------------------------------------------------------
// PASID attach / detach (§3.3 - §3.6)
// ---------------------------------------------------------------------------------------------------------------

/** iommu_remove_dev_pasid(): the blocked domain's set_dev_pasid with old = domain. */
function iommuRemoveDevPasid(k: Kernel, dev: Device, pasid: number, domain: IommuDomain): void {
  const r = armSmmuBlockingSetDevPasid(k, dev, pasid, domain);
  if (!r.ok && k.tr.on) k.tr.note(`WARN_ON(remove_dev_pasid ${dev.name} pasid ${pasid}: ${r.errno})`);
}

/**
 * __iommu_set_group_pasid(): set_dev_pasid on every group device with max_pasids > 0; on the first failure roll the
 * programmed ones back (to `old` when replacing, else remove) and return the driver's errno.
 */
export function iommuSetGroupPasid(k: Kernel, domain: IommuDomain, group: IommuGroup, pasid: number, old: IommuDomain | null): KResult {
  const fn = '__iommu_set_group_pasid';
  if (k.tr.on) k.tr.enter(fn, { domain: domain.label, group: group.name, pasid });
  const devs = group.devices;
  for (let i = 0; i < devs.length; i++) {
    const d = devs[i]!;
    if (d.maxPasids === 0) {
      if (k.tr.on) k.tr.note(`${d.name}: max_pasids == 0, skipped`);
      continue;
    }
    const r = setDevPasid(k, domain, d, pasid, old);
    if (!r.ok) {
      // err_revert: the devices programmed before this one (those before it with max_pasids > 0).
      for (let j = 0; j < i; j++) {
        const p = devs[j]!;
        if (p.maxPasids === 0) continue;
        if (old) setDevPasid(k, old, p, pasid, domain);
        else iommuRemoveDevPasid(k, p, pasid, domain);
      }
      return k.tr.leave(fn, r);
    }
  }
  return k.tr.leave(fn, OK);
}

/** Steps 1-3 of iommu_attach_device_pasid(), shared by the functions that copy them (§3.3, RFC attach_any). */
export function attachPrechecks(k: Kernel, domain: IommuDomain, dev: Device): KResult {
  if (!dev.group) return err('ENODEV', `${dev.name} has no IOMMU group`);
  if (!hasSetDevPasid(domain)) return err('EOPNOTSUPP', `${domain.label} has no set_dev_pasid`);
  // domain_iommu_ops_compatible(): every SMMUv3 instance shares arm_smmu_ops (and the static identity and blocked
  // domains are always compatible), so this check never fails in a model with one IOMMU driver.
  return OK;
}

/**
 * iommu.c iommu_attach_device_pasid(domain, dev, pasid, handle) (§3.3). `owner` only labels a DOMAIN-tagged entry
 * for the views (the kernel stores the bare domain pointer).
 */
export function iommuAttachDevicePasid(
  k: Kernel,
  domain: IommuDomain,
  dev: Device,
  pasid: number,
  handle: IommuSva | null,
  owner: KernelPasid | null = null,
): KResult {
  const fn = 'iommu_attach_device_pasid';
  if (k.tr.on) k.tr.enter(fn, { domain: domain.label, dev: dev.name, pasid, handle: handle?.label ?? null });
  const pre = attachPrechecks(k, domain, dev);
  if (!pre.ok) return k.tr.leave(fn, pre);
  if (pasid === IOMMU_NO_PASID) return k.tr.leave(fn, err('EINVAL', 'pasid == IOMMU_NO_PASID'));
  const group = dev.group;
  // mutex_lock(&group->mutex)
  for (const d of group.devices) {
    if (d.maxPasids > 0 && pasid >= d.maxPasids) {
      return k.tr.leave(fn, err('EINVAL', `PASID ${pasid} >= max_pasids ${d.maxPasids} of ${d.name} in ${group.label}`));
    }
  }
  const entry = makePasidArrayEntry(domain, handle, owner);
  if (!paInsert(k, group, pasid, XA_ZERO_ENTRY)) {
    return k.tr.leave(fn, err('EBUSY', `${group.label} pasid_array[${pasid}] is occupied by ${entryLabel(group.pasidArray.raw(pasid))}`));
  }
  const r = iommuSetGroupPasid(k, domain, group, pasid, null);
  if (!r.ok) {
    paErase(k, group, pasid); // xa_release
    return k.tr.leave(fn, r);
  }
  paStore(k, group, pasid, entry);
  return k.tr.leave(fn, OK);
}

/**
 * iommu.c iommu_replace_device_pasid() (§3.4): no per-device max_pasids check; the slot must hold something else.
 */
export function iommuReplaceDevicePasid(k: Kernel, domain: IommuDomain, dev: Device, pasid: number, handle: IommuSva | null): KResult {
  const fn = 'iommu_replace_device_pasid';
  if (k.tr.on) k.tr.enter(fn, { domain: domain.label, dev: dev.name, pasid, handle: handle?.label ?? null });
  const pre = attachPrechecks(k, domain, dev);
  if (!pre.ok) return k.tr.leave(fn, pre);
  if (pasid === IOMMU_NO_PASID || !handle) return k.tr.leave(fn, err('EINVAL', pasid === IOMMU_NO_PASID ? 'pasid == IOMMU_NO_PASID' : 'handle == NULL'));
  const group = dev.group;
  const cur = group.pasidArray.raw(pasid);
  if (!cur) return k.tr.leave(fn, err('EINVAL', `nothing attached at ${group.label} pasid ${pasid} to replace`));
  if (cur.tag === 'ZERO') return k.tr.leave(fn, err('EBUSY', `pasid ${pasid} is reserved by an attach in progress`));
  if (cur.tag === 'HANDLE' && cur.handle === handle) return k.tr.leave(fn, err('EINVAL', 'WARN: replacing a handle with itself'));
  const curDomain = entryDomain(cur)!;
  if (curDomain !== domain) {
    const r = iommuSetGroupPasid(k, domain, group, pasid, curDomain);
    if (!r.ok) return k.tr.leave(fn, r);
  }
  paStore(k, group, pasid, makePasidArrayEntry(domain, handle, null));
  return k.tr.leave(fn, OK);
}

/**
 * iommu.c iommu_detach_device_pasid() (§3.5): blocks `pasid` on every group device with max_pasids > 0 and erases
 * the slot, without checking that `domain` is what is attached there.
 */
export function iommuDetachDevicePasid(k: Kernel, domain: IommuDomain, dev: Device, pasid: number): void {
  const fn = 'iommu_detach_device_pasid';
  if (k.tr.on) k.tr.enter(fn, { domain: domain.label, dev: dev.name, pasid });
  const group = dev.group;
  const present = entryDomain(group.pasidArray.raw(pasid));
  if (present !== domain && k.tr.on) k.tr.note(`detaching ${domain.label} at ${pasid}, but the slot holds ${present?.label ?? 'nothing'}`);
  for (const d of group.devices) if (d.maxPasids > 0) iommuRemoveDevPasid(k, d, pasid, domain); // max_pasids == 0: cannot issue PASID transactions
  paErase(k, group, pasid);
  k.tr.leave(fn, null);
}

/**
 * iommu_attach_handle_get()'s decision without its error text: the handle, or the errno it would return. For callers
 * on the bind path, where -ENOENT is the common case and only means "go on".
 */
export function iommuAttachHandleLookup(group: IommuGroup, pasid: number, type: DomainType | 0): IommuSva | 'ENOENT' | 'EBUSY' {
  const e = group.pasidArray.load(pasid);
  if (!e || e.tag !== 'HANDLE') return 'ENOENT';
  if (type !== 0 && e.handle.domain.type !== type) return 'EBUSY';
  return e.handle;
}

/** iommu.c iommu_attach_handle_get(group, pasid, type) (§3.6). */
export function iommuAttachHandleGet(group: IommuGroup, pasid: number, type: DomainType | 0): KResult<{ handle: IommuSva }> {
  const got = iommuAttachHandleLookup(group, pasid, type);
  if (typeof got !== 'string') return { ok: true, handle: got };
  const e = group.pasidArray.load(pasid);
  if (got === 'EBUSY') return err('EBUSY', `${group.label} pasid ${pasid} holds a ${e?.tag === 'HANDLE' ? e.handle.domain.type : '?'} handle`);
  return err('ENOENT', e ? `${group.label} pasid ${pasid} holds a domain without a handle` : `${group.label} pasid ${pasid} is empty`);
}

/** iommu_get_domain_for_dev(): the group's RID domain. */
export function iommuGetDomainForDev(dev: Device): IommuDomain | null {
  return dev.group?.domain ?? null;
}

/**
 * __iommu_attach_group() for a RID domain change: attach_dev on every device of the group, rolling back to the
 * previous domain on failure. (Models a domain change driven from outside, e.g. VFIO/iommufd or a sysfs default
 * domain change; the DMA-ownership -EBUSY of §3.13 gives the same errno as the driver's S2 check.)
 */
export function iommuAttachGroup(k: Kernel, domain: IommuDomain, group: IommuGroup): KResult {
  const fn = '__iommu_attach_group';
  if (k.tr.on) k.tr.enter(fn, { domain: domain.label, group: group.name });
  const old = group.domain;
  const done: Device[] = [];
  for (const d of group.devices) {
    const r = armSmmuAttachDev(k, domain, d);
    if (!r.ok) {
      if (old) for (const p of done) armSmmuAttachDev(k, old, p);
      return k.tr.leave(fn, r);
    }
    done.push(d);
  }
  group.domain = domain;
  k.dirty.groups.add(group);
  if (k.tr.on) k.tr.set(group.label, 'domain', domain.label, old?.label ?? null);
  return k.tr.leave(fn, OK);
}

/** iommu_domain_free() of a paging or SVA domain: the driver frees its ASID; SVA's cookie mmdrops (done by caller). */
export function forgetDomain(k: Kernel, domain: IommuDomain): void {
  domain.freed = true;
  k.domains.delete(domain);
  k.dirty.domains.add(domain);
  if (k.tr.on) k.tr.set(domain.label, 'freed', true);
}
