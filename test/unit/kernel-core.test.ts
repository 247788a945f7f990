/**
 * The IOMMU core (iommu.c / iommu-sva.c models): errno paths in the kernel's order and the lifetime rules of
 * kernel-semantics.md §3.2-§3.10 and §4. Steps drive the lab where they can reach a path; the kernel functions are
 * called directly (on lab.kernel) where a step cannot.
 */
import { describe, expect, it } from 'vitest';
import { IOMMU_PASID_INVALID } from '../../src-main/sim/kernel/constants.js';
import {
  iommuAllocGlobalPasid,
  iommuAttachDevicePasid,
  iommuAttachHandleGet,
  iommuDetachDevicePasid,
  iommuFreeGlobalPasid,
  paInsert,
} from '../../src-main/sim/kernel/iommu.js';
import { iommuSvaBindDevice, iommuSvaUnbindDevice, newBond } from '../../src-main/sim/kernel/iommu-sva.js';
import { Device, IommuDomain, IommuMmData, XA_ZERO_ENTRY } from '../../src-main/sim/kernel/structs.js';
import { armSmmuProbeDevice } from '../../src-main/sim/smmuv3/driver.js';
import { spawnProcess } from '../../src-main/sim/kernel/process.js';
import { checkDirty, markAll } from '../../src-main/lab/invariants.js';
import type { Lab } from '../../src-main/lab/lab.js';
import { attachRid, bind, dev, exec, exit, idaIds, kpasid, mkLab, proc, step, unbind, view } from './helpers.js';

const SMALL = { name: 'small', smmu: 'smmu0', sid: 0x10, pasid_bits: 2 };
const BIG = { name: 'big', smmu: 'smmu0', sid: 0x20, pasid_bits: 20 };
const DSA = { name: 'dsa0', kind: 'dsa' as const, smmu: 'smmu0', sid: 0x100, pasid_bits: 20 };
const FN0 = { name: 'fn0', kind: 'pci' as const, smmu: 'smmu0', sid: 0x200, pasid_bits: 4 }; // max_pasids 16
const FN1 = { name: 'fn1', kind: 'pci' as const, smmu: 'smmu0', sid: 0x201, pasid_bits: 2 }; // max_pasids 4

function basic(): Lab {
  return mkLab([SMALL, BIG, DSA, FN0, FN1], { groups: [['fn0', 'fn1']] });
}

function orphanDevice(l: Lab): Device {
  const smmu = l.kernel.smmus.get('smmu0')!;
  const d = new Device('orphan', 'platform', smmu, 0x77, 4, false, false);
  d.master = armSmmuProbeDevice(smmu, d);
  d.maxPasids = 16;
  return d;
}

describe('§3.3 iommu_attach_device_pasid: checks in order', () => {
  it('-ENODEV for a device without an IOMMU group comes before the op and PASID checks', () => {
    const l = basic();
    const k = l.kernel;
    const orphan = orphanDevice(l);
    // The identity domain (no set_dev_pasid) at PASID 0 would fail checks 2 and 3; check 1 answers first.
    expect(iommuAttachDevicePasid(k, k.identityDomain, orphan, 0, null)).toMatchObject({ ok: false, errno: 'ENODEV' });
    // iommu_sva_bind_device checks the group before it allocates anything: no PASID is taken.
    const p = spawnProcess(k, 'lone');
    const r = iommuSvaBindDevice(k, orphan, p.mm);
    expect(r).toMatchObject({ ok: false, errno: 'ENODEV' });
    expect(p.mm.iommuMm).toBeNull();
    expect(idaIds(l)).toEqual([]);
  });

  it('-EOPNOTSUPP for the identity domain (no set_dev_pasid), before the PASID 0 check', () => {
    const l = basic();
    const k = l.kernel;
    const big = dev(l, 'big');
    expect(iommuAttachDevicePasid(k, k.identityDomain, big, 0, null)).toMatchObject({ ok: false, errno: 'EOPNOTSUPP' });
    expect(iommuAttachDevicePasid(k, k.identityDomain, big, 1, null)).toMatchObject({ ok: false, errno: 'EOPNOTSUPP' });
    expect(big.group.pasidArray.size).toBe(0);
    expect(big.master.cdTable!.cds.has(1)).toBe(false);
  });

  it('idxd_enable_system_pasid on an identity RID: -EOPNOTSUPP, and the global PASID goes back to the IDA', () => {
    const l = mkLab([{ ...DSA, kernel_pasid: true, rid_domain: 'identity' }, { ...BIG, name: 'dsa1', kind: 'dsa', sid: 0x108, kernel_pasid: true }]);
    expect(l.boot.problems.map((p) => p.device)).toEqual(['dsa0']);
    expect(l.boot.problems[0]!.why).toContain('EOPNOTSUPP');
    expect(idaIds(l)).toEqual([1]); // dsa1's; dsa0's PASID 1 was freed before dsa1 took it
    expect(l.kernel.kernelPasids.get('dsa1-kernel')?.pasid).toBe(1);
    expect(kpasid(l, 'dsa0', 'again')).toMatchObject({ ok: false, errno: 'EOPNOTSUPP' });
    expect(idaIds(l)).toEqual([1]);
  });

  it('-EINVAL from the driver for a domain of another SMMU instance; the reservation is released', () => {
    const l = mkLab([BIG, { name: 'far', smmu: 'smmu1', sid: 0x20, pasid_bits: 20 }], { smmus: [{ name: 'smmu0' }, { name: 'smmu1' }] });
    const farDma = dev(l, 'far').group.defaultDomain!;
    const big = dev(l, 'big');
    expect(iommuAttachDevicePasid(l.kernel, farDma, big, 3, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(big.group.pasidArray.raw(3)).toBeUndefined();
    expect(big.master.cdTable!.cds.has(3)).toBe(false);
  });

  it('-EINVAL for PASID 0 (IOMMU_NO_PASID), before the occupancy check', () => {
    const l = basic();
    const k = l.kernel;
    const big = dev(l, 'big');
    const dma = big.group.defaultDomain!;
    expect(dma.type).toBe('DMA');
    expect(iommuAttachDevicePasid(k, dma, big, 0, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(big.group.pasidArray.size).toBe(0);
    // Even with something sitting at index 0, the answer is -EINVAL, not -EBUSY.
    paInsert(k, big.group, 0, XA_ZERO_ENTRY);
    expect(iommuAttachDevicePasid(k, dma, big, 0, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
    // The DMA domain at a real PASID works.
    expect(iommuAttachDevicePasid(k, dma, big, 7, null)).toMatchObject({ ok: true });
    expect(big.master.cdTable!.cds.get(7)?.domain).toBe(dma);
  });

  it('-EINVAL when the PASID is >= max_pasids of ANY device of the group', () => {
    const l = basic();
    const k = l.kernel;
    const fn0 = dev(l, 'fn0');
    const fn1 = dev(l, 'fn1');
    expect(fn0.maxPasids).toBe(16);
    expect(fn1.maxPasids).toBe(4);
    expect(fn0.group).toBe(fn1.group);
    const dma = fn0.group.defaultDomain!;
    // Through the wide function: fn1 (max 4) refuses 4 and above.
    expect(iommuAttachDevicePasid(k, dma, fn0, 4, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(iommuAttachDevicePasid(k, dma, fn0, 15, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(fn0.group.pasidArray.size).toBe(0);
    expect(fn0.master.cdTable!.cds.has(4)).toBe(false);
    // 3 < 4 <= 16: attached on the whole group, both functions programmed.
    expect(iommuAttachDevicePasid(k, dma, fn1, 3, null)).toMatchObject({ ok: true });
    expect(fn0.master.cdTable!.cds.get(3)?.domain).toBe(dma);
    expect(fn1.master.cdTable!.cds.get(3)?.domain).toBe(dma);
    // The group check comes before the occupancy check: a reservation at 6 still gives -EINVAL.
    paInsert(k, fn0.group, 6, XA_ZERO_ENTRY);
    expect(iommuAttachDevicePasid(k, dma, fn0, 6, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('skips group devices with max_pasids 0 in the check and when programming', () => {
    const l = mkLab(
      [
        { name: 'fnx', kind: 'pci', smmu: 'smmu0', sid: 0x300, pasid_bits: 4 },
        { name: 'fnz', kind: 'pci', smmu: 'smmu0', sid: 0x301 }, // no PASID capability
      ],
      { groups: [['fnx', 'fnz']] },
    );
    const k = l.kernel;
    const fnx = dev(l, 'fnx');
    const fnz = dev(l, 'fnz');
    expect(fnz.maxPasids).toBe(0);
    const dma = fnx.group.defaultDomain!;
    expect(iommuAttachDevicePasid(k, dma, fnx, 9, null)).toMatchObject({ ok: true });
    expect(fnx.master.cdTable!.cds.get(9)?.domain).toBe(dma);
    expect(fnz.master.cdTable?.cds.has(9) ?? false).toBe(false);
    expect(fnz.master.cdTable?.usedSsids ?? 0).toBe(0);
    // The limit of the PASID-capable device still applies.
    expect(iommuAttachDevicePasid(k, dma, fnz, 16, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('-EBUSY when the slot is occupied, a reservation (XA_ZERO_ENTRY) included', () => {
    const l = basic();
    const k = l.kernel;
    const big = dev(l, 'big');
    const dma = big.group.defaultDomain!;
    expect(paInsert(k, big.group, 2, XA_ZERO_ENTRY)).toBe(true);
    expect(big.group.pasidArray.load(2)).toBeUndefined(); // xa_load sees a reservation as empty ...
    expect(iommuAttachDevicePasid(k, dma, big, 2, null)).toMatchObject({ ok: false, errno: 'EBUSY' }); // ... xa_insert does not
    expect(big.group.pasidArray.raw(2)).toBe(XA_ZERO_ENTRY); // the failed attach did not release someone else's reservation
    expect(big.master.cdTable!.cds.has(2)).toBe(false);
    // A real entry: p1's SVA bond at 1.
    expect(bind(l, 'p1', 'big')).toMatchObject({ ok: true, pasid: 1 });
    const sva = big.master.cdTable!.cds.get(1)!.domain;
    expect(sva.type).toBe('SVA');
    expect(iommuAttachDevicePasid(k, dma, big, 1, null)).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(big.master.cdTable!.cds.get(1)!.domain).toBe(sva);
    expect(view(l).groups.big.pasid_array).toEqual({ 1: 'p1/mm0', 2: 'reserved' });
  });

  it("returns the driver's errno and releases the reservation when set_dev_pasid fails", () => {
    const l = basic();
    const k = l.kernel;
    const big = dev(l, 'big');
    const dma = big.group.defaultDomain!;
    attachRid(l, 'big', 's2'); // arm_smmu_set_pasid refuses a PASID while the RID is on S2
    expect(iommuAttachDevicePasid(k, dma, big, 5, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(big.group.pasidArray.raw(5)).toBeUndefined();
    // The slot is usable again once the RID is back on a DMA domain.
    attachRid(l, 'big', 'dma');
    expect(iommuAttachDevicePasid(k, dma, big, 5, null)).toMatchObject({ ok: true });
  });
});

describe('§3.5 iommu_detach_device_pasid', () => {
  it('tears down whatever is at the PASID without checking the domain passed in', () => {
    const l = basic();
    const k = l.kernel;
    const small = dev(l, 'small');
    expect(bind(l, 'p1', 'small')).toMatchObject({ ok: true, pasid: 1 });
    const sva = small.master.cdTable!.cds.get(1)!.domain;
    expect(small.master.cdTable!.usedSsids).toBe(1);
    // A wrong domain (the group's DMA domain, never attached at 1): the SVA attachment is torn down anyway.
    iommuDetachDevicePasid(k, small.group.defaultDomain!, small, 1);
    expect(small.group.pasidArray.raw(1)).toBeUndefined();
    expect(small.master.cdTable!.cds.has(1)).toBe(false);
    expect(small.master.cdTable!.usedSsids).toBe(0);
    expect(sva.attachedSlots).toBe(0);
    // The bond and its SVA domain still believe they are attached: the checker sees the damage.
    markAll(k);
    const names = new Set(checkDirty(k).violations.map((v) => v.invariant));
    expect(names.has('refcount')).toBe(true);
    expect(names.has('bond-pasid')).toBe(true);
  });
});

describe('§3.6 iommu_attach_handle_get', () => {
  it('-ENOENT for an empty slot, a reservation and a DOMAIN-tagged entry; -EBUSY for another domain type', () => {
    const l = mkLab([{ ...DSA, kernel_pasid: true }, SMALL, BIG]);
    const k = l.kernel;
    const dsa = dev(l, 'dsa0');
    // The idxd kernel PASID: a DOMAIN-tagged entry at 1.
    expect(dsa.group.pasidArray.load(1)?.tag).toBe('DOMAIN');
    expect(iommuAttachHandleGet(dsa.group, 1, 'SVA')).toMatchObject({ ok: false, errno: 'ENOENT' });
    expect(iommuAttachHandleGet(dsa.group, 1, 0)).toMatchObject({ ok: false, errno: 'ENOENT' });
    expect(iommuAttachHandleGet(dsa.group, 2, 'SVA')).toMatchObject({ ok: false, errno: 'ENOENT' });
    paInsert(k, dsa.group, 3, XA_ZERO_ENTRY);
    expect(iommuAttachHandleGet(dsa.group, 3, 'SVA')).toMatchObject({ ok: false, errno: 'ENOENT' });

    // A HANDLE-tagged entry whose domain is a DMA domain (iommufd style).
    const small = dev(l, 'small');
    const h = newBond(k, small);
    expect(iommuAttachDevicePasid(k, small.group.defaultDomain!, small, 2, h)).toMatchObject({ ok: true });
    expect(iommuAttachHandleGet(small.group, 2, 'SVA')).toMatchObject({ ok: false, errno: 'EBUSY' });
    const any = iommuAttachHandleGet(small.group, 2, 0);
    expect(any.ok && any.handle).toBe(h);
    const typed = iommuAttachHandleGet(small.group, 2, 'DMA');
    expect(typed.ok && typed.handle).toBe(h);

    // An SVA bond is found by type SVA.
    expect(bind(l, 'p1', 'big')).toMatchObject({ ok: true, pasid: 2 });
    const got = iommuAttachHandleGet(dev(l, 'big').group, 2, 'SVA');
    expect(got.ok && got.handle.domain.mm).toBe(proc(l, 'p1').mm);
  });

  it('iommu_sva_bind_device returns -EBUSY when a non-SVA handle sits at the PASID, and the mm keeps it', () => {
    const l = mkLab([SMALL, BIG]);
    const k = l.kernel;
    const small = dev(l, 'small');
    const h = newBond(k, small);
    expect(iommuAttachDevicePasid(k, small.group.defaultDomain!, small, 1, h)).toMatchObject({ ok: true });
    const asids = view(l).asids;
    expect(bind(l, 'p1', 'small')).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(view(l).processes.p1.pasid).toBe(1);
    expect(idaIds(l)).toEqual([1]);
    expect(Object.values(view(l).domains).filter((d: any) => d.type === 'SVA')).toHaveLength(0);
    expect(view(l).asids).toEqual(asids); // no SVA domain was even allocated: the lookup failed first
  });
});

describe('S8.3 a driver-chosen kernel PASID outside the IDA', () => {
  it('the IDA hands the same number to a process, whose bind then fails with -EBUSY and keeps the PASID', () => {
    const l = mkLab([SMALL, BIG]);
    // The driver attaches its DMA domain at 1 without the IDA: a DOMAIN-tagged entry the IDA knows nothing about.
    expect(l.apply({ op: 'attach_kernel_pasid', args: { device: 'small', pasid: 1, as: 'drv' } }).result).toMatchObject({ ok: true, pasid: 1 });
    expect(idaIds(l)).toEqual([]);
    const r = l.apply({ op: 'bind', args: { process: 'p1', device: 'small' } });
    // iommu_attach_handle_get sees a DOMAIN entry (-ENOENT, go on), then xa_insert finds the slot occupied.
    expect(r.result).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(view(l).processes.p1.pasid).toBe(1);
    expect(r.findings.map((f) => f.invariant)).toContain('global-pasid-exclusive');
    // The same process binds elsewhere under the same number.
    expect(bind(l, 'p1', 'big')).toMatchObject({ ok: true, pasid: 1 });
  });
});

describe('§3.2 the global PASID IDA', () => {
  it('hands out the lowest free id in [1, max_pasids - 1], shared by every caller', () => {
    const l = mkLab([SMALL, BIG, { ...DSA, kernel_pasid: true }]);
    const k = l.kernel;
    const big = dev(l, 'big');
    expect(idaIds(l)).toEqual([1]); // dsa0's kernel PASID, taken at probe
    expect(iommuAllocGlobalPasid(k, big)).toBe(2);
    expect(iommuAllocGlobalPasid(k, big)).toBe(3);
    expect(iommuAllocGlobalPasid(k, big)).toBe(4);
    iommuFreeGlobalPasid(k, 3);
    expect(iommuAllocGlobalPasid(k, big)).toBe(3);
    expect(iommuAllocGlobalPasid(k, big)).toBe(5);
    // A bind draws from the same IDA.
    expect(bind(l, 'p1', 'big')).toMatchObject({ ok: true, pasid: 6 });
  });

  it("bounds the range by the calling device's max_pasids", () => {
    const l = mkLab([SMALL, BIG]);
    const k = l.kernel;
    for (const want of [1, 2, 3]) expect(iommuAllocGlobalPasid(k, dev(l, 'big'))).toBe(want);
    expect(iommuAllocGlobalPasid(k, dev(l, 'small'))).toBe(IOMMU_PASID_INVALID); // [1, 3] is full
    expect(iommuAllocGlobalPasid(k, dev(l, 'big'))).toBe(4);
    expect(idaIds(l)).toEqual([1, 2, 3, 4]);
  });

  it('max_pasids 0 and max_pasids 1 give IOMMU_PASID_INVALID and take nothing', () => {
    const l = mkLab(
      [
        { name: 'none', smmu: 'smmu0', sid: 0x10 }, // no "pasid-num-bits": max_pasids 0
        { name: 'zero', smmu: 'smmu0', sid: 0x11, pasid_bits: 0 }, // 1 << 0: only PASID 0
        { name: 'nossid', smmu: 'smmu1', sid: 0x12, pasid_bits: 20 }, // SSIDSIZE 0: max_pasids min(2^20, 1)
      ],
      { smmus: [{ name: 'smmu0', ssidsize: 20 }, { name: 'smmu1', ssidsize: 0 }] },
    );
    const k = l.kernel;
    expect(dev(l, 'none').maxPasids).toBe(0);
    expect(dev(l, 'zero').maxPasids).toBe(1);
    expect(dev(l, 'nossid').maxPasids).toBe(1);
    for (const n of ['none', 'zero', 'nossid']) expect(iommuAllocGlobalPasid(k, dev(l, n))).toBe(IOMMU_PASID_INVALID);
    expect(k.globalPasidIda.size).toBe(0);
  });

  it('freeing an id that is not allocated (or INVALID) WARNs and changes nothing', () => {
    const l = mkLab([BIG]);
    const k = l.kernel;
    iommuAllocGlobalPasid(k, dev(l, 'big'));
    iommuAllocGlobalPasid(k, dev(l, 'big'));
    k.tr.drain();
    iommuFreeGlobalPasid(k, 7);
    iommuFreeGlobalPasid(k, IOMMU_PASID_INVALID);
    expect(idaIds(l)).toEqual([1, 2]);
    const notes = k.tr.drain().filter((r) => r.t === 'note').map((r) => (r.t === 'note' ? r.msg : ''));
    expect(notes.some((m) => m.includes('not allocated'))).toBe(true);
    expect(notes.some((m) => m.includes('IOMMU_PASID_INVALID'))).toBe(true);
    expect(iommuAllocGlobalPasid(k, dev(l, 'big'))).toBe(3);
  });
});

describe('§3.7 iommu_alloc_mm_data', () => {
  it('-ENOSPC for a fresh mm when the device range is exhausted; the mm gets no iommu_mm', () => {
    const l = mkLab([SMALL, BIG]);
    for (const p of ['p1', 'p2', 'p3']) bind(l, p, 'big');
    expect(bind(l, 'p4', 'small')).toMatchObject({ ok: false, errno: 'ENOSPC' });
    expect(proc(l, 'p4').mm.iommuMm).toBeNull();
    expect(idaIds(l)).toEqual([1, 2, 3]);
  });

  it('-EOVERFLOW uses >=: PASID == max_pasids is refused, max_pasids - 1 is accepted', () => {
    const l = mkLab([SMALL, BIG]);
    for (const p of ['p1', 'p2', 'p3', 'p4']) bind(l, p, 'big');
    expect(view(l).processes.p4.pasid).toBe(4);
    expect(bind(l, 'p4', 'small')).toMatchObject({ ok: false, errno: 'EOVERFLOW' }); // 4 >= 4
    expect(bind(l, 'p3', 'small')).toMatchObject({ ok: true, pasid: 3 }); // 3 < 4
    // The refused mm keeps its PASID; a new PASID is not allocated for it.
    expect(view(l).processes.p4.pasid).toBe(4);
    expect(idaIds(l)).toEqual([1, 2, 3, 4]);
  });

  it('compares against the device being bound only (the group check comes later, with -EINVAL)', () => {
    const l = basic();
    for (const p of ['p1', 'p2', 'p3', 'p4']) bind(l, p, 'big');
    // p5 gets 5 from fn0's range [1, 15]; 5 < 16 passes iommu_alloc_mm_data; fn1 (max 4) then refuses it.
    expect(bind(l, 'p5', 'fn0')).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(view(l).processes.p5.pasid).toBe(5); // S6: the PASID stays with the mm
    expect(bind(l, 'p5', 'fn0')).toMatchObject({ ok: false, errno: 'EINVAL' }); // and is reused
    expect(idaIds(l)).toEqual([1, 2, 3, 4, 5]);
    expect(dev(l, 'fn0').group.pasidArray.size).toBe(0);
    // No domain survives the failed attaches.
    expect(Object.values(view(l).domains).filter((d: any) => d.type === 'SVA')).toHaveLength(4);
  });

  it('a device without PASID support: -ENOSPC for a fresh mm, -EOVERFLOW once the mm has a PASID (S7)', () => {
    const l = mkLab([BIG, { name: 'none', smmu: 'smmu0', sid: 0x30 }]);
    expect(bind(l, 'p1', 'none')).toMatchObject({ ok: false, errno: 'ENOSPC' });
    bind(l, 'p1', 'big');
    expect(bind(l, 'p1', 'none')).toMatchObject({ ok: false, errno: 'EOVERFLOW' });
  });
});

describe('§3.9 iommu_sva_bind_device', () => {
  it('a repeated bind returns the same handle with users 2; the domain users stay 1', () => {
    const l = mkLab([SMALL, BIG]);
    const k = l.kernel;
    expect(bind(l, 'p1', 'small')).toMatchObject({ ok: true, pasid: 1 });
    const asids = view(l).asids;
    const cds = JSON.stringify(view(l).devices.small.cds);
    expect(bind(l, 'p1', 'small')).toMatchObject({ ok: true, pasid: 1 });
    expect(k.handles.size).toBe(1);
    const [h] = [...k.handles];
    expect(h!.users).toBe(2);
    expect(h!.domain.users).toBe(1);
    const files = proc(l, 'p1').fds;
    expect(files).toHaveLength(2);
    expect(files[0]!.handle).toBe(files[1]!.handle);
    expect(view(l).asids).toEqual(asids);
    expect(JSON.stringify(view(l).devices.small.cds)).toBe(cds);
    // Called directly, the function returns the very same object.
    const again = iommuSvaBindDevice(k, dev(l, 'small'), proc(l, 'p1').mm);
    expect(again.ok && again.handle).toBe(h);
    expect(h!.users).toBe(3);
    iommuSvaUnbindDevice(k, h!);
    expect(h!.users).toBe(2);
  });

  it("binding a second device of the same group returns the first device's handle", () => {
    const l = basic();
    const k = l.kernel;
    expect(bind(l, 'p1', 'fn0')).toMatchObject({ ok: true, pasid: 1 });
    expect(bind(l, 'p1', 'fn1')).toMatchObject({ ok: true, pasid: 1 });
    expect(k.handles.size).toBe(1);
    const [h] = [...k.handles];
    expect(h!.dev.name).toBe('fn0');
    expect(h!.users).toBe(2);
    expect(h!.domain.users).toBe(1);
    expect(view(l).groups['fn0+fn1'].pasid_array).toEqual({ 1: 'p1/mm0' });
    // Closing the fn0 file keeps the attachment (one user left); closing fn1's tears it down.
    unbind(l, 'p1', 'fn0');
    expect(dev(l, 'fn1').master.cdTable!.cds.has(1)).toBe(true);
    unbind(l, 'p1', 'fn1');
    expect(dev(l, 'fn1').master.cdTable!.cds.has(1)).toBe(false);
    expect(dev(l, 'fn0').group.pasidArray.size).toBe(0);
  });

  it('one mm on two devices behind one SMMU shares one SVA domain (users 2, one ASID); another SMMU gets its own (S4)', () => {
    const l = mkLab([SMALL, BIG, { name: 'far', smmu: 'smmu1', sid: 0x10, pasid_bits: 8 }], {
      smmus: [{ name: 'smmu0' }, { name: 'smmu1' }],
    });
    bind(l, 'p1', 'big');
    bind(l, 'p1', 'small');
    const v = view(l);
    const sva = Object.values(v.domains).filter((d: any) => d.type === 'SVA') as any[];
    expect(sva).toHaveLength(1);
    expect(sva[0].users).toBe(2);
    expect(v.devices.big.cds[1].asid).toBe(v.devices.small.cds[1].asid);
    expect(bind(l, 'p1', 'far')).toMatchObject({ ok: true, pasid: 1 });
    const v2 = view(l);
    const sva2 = Object.values(v2.domains).filter((d: any) => d.type === 'SVA') as any[];
    expect(sva2).toHaveLength(2);
    expect(v2.devices.far.cds[1].asid).not.toBe(v2.devices.big.cds[1].asid);
    expect(v2.mms['p1/mm0'].sva_domains).toHaveLength(2);
  });
});

describe('§3.10 iommu_sva_unbind_device and §4 lifetimes', () => {
  it('unbind never frees the PASID: the mm keeps it and gets it back on rebind', () => {
    const l = mkLab([SMALL, BIG]);
    expect(bind(l, 'p1', 'small')).toMatchObject({ ok: true, pasid: 1 });
    unbind(l, 'p1', 'small');
    expect(idaIds(l)).toEqual([1]);
    expect(view(l).processes.p1.pasid).toBe(1);
    expect(dev(l, 'small').group.pasidArray.size).toBe(0);
    expect(Object.values(view(l).domains).filter((d: any) => d.type === 'SVA')).toHaveLength(0);
    expect(bind(l, 'p2', 'small')).toMatchObject({ ok: true, pasid: 2 }); // no one else can take 1 meanwhile
    expect(bind(l, 'p1', 'small')).toMatchObject({ ok: true, pasid: 1 });
  });

  it('after an exit with the files kept, the PASID is freed at the last unbind (the last domain), not before (S5)', () => {
    const l = mkLab([SMALL, BIG]);
    bind(l, 'p1', 'small');
    bind(l, 'p1', 'big');
    const mm = proc(l, 'p1').mm;
    exit(l, 'p1', true);
    expect(mm.mmUsers).toBe(0);
    expect(idaIds(l)).toEqual([1]);
    expect(l.kernel.mms.has(mm)).toBe(true);
    unbind(l, 'p1', 'small');
    expect(idaIds(l)).toEqual([1]); // the shared domain still has users 1
    expect(l.kernel.mms.has(mm)).toBe(true);
    unbind(l, 'p1', 'big');
    expect(idaIds(l)).toEqual([]);
    expect(l.kernel.mms.has(mm)).toBe(false);
    expect(mm.freed).toBe(true);
    expect(l.findings()).toEqual([]);
  });

  it('exit without kept files frees the PASID at once; exec frees the old mm PASID when its bond goes', () => {
    const l = mkLab([SMALL, BIG]);
    bind(l, 'p1', 'small');
    exit(l, 'p1');
    expect(idaIds(l)).toEqual([]);
    expect(l.kernel.mms.size).toBe(0);

    bind(l, 'p2', 'small'); // PASID 1 again
    exec(l, 'p2'); // the file (and the old mm's bond) survives the exec
    expect(idaIds(l)).toEqual([1]);
    expect(view(l).processes.p2.pasid).toBeNull(); // the new mm has none
    expect(bind(l, 'p2', 'big')).toMatchObject({ ok: true, pasid: 2 });
    unbind(l, 'p2', 'small'); // the old mm's last domain goes: its PASID is freed
    expect(idaIds(l)).toEqual([2]);
    expect(l.findings()).toEqual([]);
  });

  it('fork: the child has no PASID but shares the file; the parent PASID lives until the last holder closes it (§4 rules 3-4)', () => {
    const l = mkLab([SMALL, BIG]);
    bind(l, 'p1', 'small');
    step(l, { op: 'fork', args: { process: 'p1', child: 'c' } });
    const v = view(l);
    expect(v.processes.c.pasid).toBeNull();
    expect(v.processes.c.files).toEqual([{ device: 'small', wq: null, pasid: 1, bond: v.processes.p1.files[0].bond }]);
    expect(bind(l, 'c', 'big')).toMatchObject({ ok: true, pasid: 2 }); // its own, new PASID
    exit(l, 'p1'); // the file is still held by c: p1's mm is released but not dropped
    expect(idaIds(l)).toEqual([1, 2]);
    expect(view(l).devices.small.cds[1]).toMatchObject({ kind: 'fault', owner: 'p1/mm0' });
    exit(l, 'c');
    expect(idaIds(l)).toEqual([]);
    expect(l.kernel.mms.size).toBe(0);
    expect(l.findings()).toEqual([]);
  });

  it('exec after the last unbind frees the old PASID at once', () => {
    const l = mkLab([SMALL]);
    bind(l, 'p1', 'small');
    unbind(l, 'p1', 'small');
    expect(idaIds(l)).toEqual([1]);
    exec(l, 'p1');
    expect(idaIds(l)).toEqual([]);
    expect(bind(l, 'p1', 'small')).toMatchObject({ ok: true, pasid: 1 });
  });

  it('a bind that fails after the allocation keeps the PASID until the mm dies (§4 rule 2)', () => {
    const l = basic();
    for (const p of ['p1', 'p2', 'p3', 'p4']) bind(l, p, 'big');
    expect(bind(l, 'p5', 'fn0')).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(idaIds(l)).toContain(5);
    exit(l, 'p5');
    expect(idaIds(l)).not.toContain(5);
    expect(bind(l, 'p6', 'big')).toMatchObject({ ok: true, pasid: 5 });
  });
});

describe('§8.1 idxd dedicated WQ (S13)', () => {
  it('a second opener gets -EBUSY before any bind: it takes no PASID', () => {
    const l = mkLab([DSA]);
    expect(step(l, { op: 'open_wq', args: { process: 'p1', device: 'dsa0', wq: 'wq1' } })).toMatchObject({ ok: true, pasid: 1 });
    expect(view(l).devices.dsa0.wqs.wq1).toEqual({ mode: 'dedicated', open: true, wqcfg_pasid: 1 });
    expect(step(l, { op: 'open_wq', args: { process: 'p2', device: 'dsa0', wq: 'wq1' } })).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(view(l).processes.p2.pasid).toBeNull();
    expect(idaIds(l)).toEqual([1]);
    // The shared WQ takes both.
    expect(step(l, { op: 'open_wq', args: { process: 'p2', device: 'dsa0', wq: 'wq0' } })).toMatchObject({ ok: true, pasid: 2 });
    unbind(l, 'p1', 'dsa0');
    expect(view(l).devices.dsa0.wqs.wq1).toEqual({ mode: 'dedicated', open: false, wqcfg_pasid: null });
  });
});

describe('checker-only indexes', () => {
  it('a checking lab keeps the checker-only indexes; a lab without checking keeps none, with the same results', () => {
    const ops = (l: Lab): unknown[] => [bind(l, 'p1', 'big'), bind(l, 'p2', 'big'), bind(l, 'p1', 'fn0'), unbind(l, 'p2', 'big'), bind(l, 'p3', 'fn1')].map((r) => r.result);
    const checked = basic();
    const unchecked = mkLab([SMALL, BIG, DSA, FN0, FN1], { groups: [['fn0', 'fn1']], check: false });
    expect(ops(unchecked)).toEqual(ops(checked));
    expect([...checked.kernel.groupsByPasid.keys()].sort()).toEqual([1, 3]);
    expect([...checked.kernel.handles].map((h) => h.files?.size)).toEqual([1, 1, 1]);
    expect(unchecked.kernel.checkerIndexes).toBe(false);
    expect(unchecked.kernel.groupsByPasid.size).toBe(0);
    expect([unchecked.kernel.mmsByPasid.size, unchecked.kernel.svaDomainsByMm.size]).toEqual([0, 0]);
    expect([checked.kernel.mmsByPasid.size, checked.kernel.svaDomainsByMm.size]).toEqual([3, 2]); // p2 keeps its PASID, not its domain
    expect([...unchecked.kernel.handles].map((h) => h.files)).toEqual([null, null, null]);
    // What the kernel itself decides with stays kept: the domains' slot counts.
    const slots = (l: Lab): number[] => [...l.kernel.domains].filter((d) => d.type === 'SVA').map((d) => d.attachedSlots);
    expect(slots(unchecked)).toEqual(slots(checked));
    expect(slots(checked)).toEqual([2, 1]);
  });
});

describe('iommu_mm->sva_domains list', () => {
  it('adds at the head as list_add does; list_del unlinks the head, the middle or the tail alone', () => {
    const im = new IommuMmData(1, true);
    const [a, b, c] = [1, 2, 3].map((id) => new IommuDomain(id, 'SVA', null));
    const ids = () => im.svaDomainList().map((d) => d.id);
    for (const d of [a!, b!, c!]) im.addSvaDomain(d);
    expect(ids()).toEqual([3, 2, 1]);
    im.removeSvaDomain(b!);
    expect(ids()).toEqual([3, 1]);
    expect(b!.next).toBe(null);
    im.removeSvaDomain(c!);
    expect(ids()).toEqual([1]);
    im.addSvaDomain(c!);
    expect(ids()).toEqual([3, 1]);
    im.removeSvaDomain(a!);
    expect(ids()).toEqual([3]);
    im.removeSvaDomain(c!);
    expect([ids(), im.svaDomains]).toEqual([[], null]);
  });
});
