/**
 * The arm-smmu-v3 driver model (kernel-semantics.md §5): master ssid_bits, CD-table format, used_ssids, the STE per
 * RID domain, S2 and PASID attach refusals, ASID exhaustion, and the fault-everything CD after exit.
 */
import { describe, expect, it } from 'vitest';
import { iommuAttachDevicePasid, iommuReplaceDevicePasid } from '../../src-main/sim/kernel/iommu.js';
import { newBond } from '../../src-main/sim/kernel/iommu-sva.js';
import { ArmSmmuDomain, setMasterDomain } from '../../src-main/sim/smmuv3/driver.js';
import { attachRid, bind, dev, exit, idaIds, mkLab, proc, step, unbind, view } from './helpers.js';

describe('§5.2 master->ssid_bits and max_pasids', () => {
  it('firmware "pasid-num-bits" is capped by the SMMU, the PCI width likewise; no property means 0', () => {
    const l = mkLab(
      [
        { name: 'plat20', smmu: 'smmu0', sid: 1, pasid_bits: 20 },
        { name: 'plat4', smmu: 'smmu0', sid: 2, pasid_bits: 4 },
        { name: 'pci5', kind: 'pci', smmu: 'smmu0', sid: 3, pasid_bits: 5 },
        { name: 'pci20', kind: 'pci', smmu: 'smmu0', sid: 4, pasid_bits: 20 },
        { name: 'none', smmu: 'smmu0', sid: 5 },
        { name: 'pcinone', kind: 'pci', smmu: 'smmu0', sid: 6 },
      ],
      { smmus: [{ name: 'smmu0', ssidsize: 16 }] },
    );
    const d = view(l).devices;
    expect([d.plat20.ssid_bits, d.plat20.max_pasids]).toEqual([16, 2 ** 16]);
    expect([d.plat4.ssid_bits, d.plat4.max_pasids]).toEqual([4, 16]);
    expect([d.pci5.ssid_bits, d.pci5.max_pasids]).toEqual([5, 32]);
    expect([d.pci20.ssid_bits, d.pci20.max_pasids]).toEqual([16, 2 ** 16]);
    expect([d.none.ssid_bits, d.none.max_pasids]).toEqual([0, 0]);
    expect([d.pcinone.ssid_bits, d.pcinone.max_pasids]).toEqual([0, 0]);
  });

  it('without CD2L ssid_bits is capped at 10 while max_pasids stays 2^16 (the mismatch)', () => {
    const l = mkLab(
      [
        { name: 'wide', smmu: 'smmu0', sid: 1, pasid_bits: 16 },
        { name: 'pciw', kind: 'pci', smmu: 'smmu0', sid: 2, pasid_bits: 16 },
        { name: 'narrow', smmu: 'smmu0', sid: 3, pasid_bits: 6 },
      ],
      { smmus: [{ name: 'smmu0', ssidsize: 16, cd2l: false }] },
    );
    const d = view(l).devices;
    expect([d.wide.ssid_bits, d.wide.max_pasids]).toEqual([10, 2 ** 16]);
    expect([d.pciw.ssid_bits, d.pciw.max_pasids]).toEqual([10, 2 ** 16]);
    expect([d.narrow.ssid_bits, d.narrow.max_pasids]).toEqual([6, 64]);
    expect(d.wide.cd_table).toMatchObject({ fmt: 'linear', s1cdmax: 10 });
    // The core accepts PASID 1500 (< 2^16); the driver writes CD 1500 past its 1024-entry linear table.
    const r = l.apply({ op: 'attach_kernel_pasid', args: { device: 'wide', pasid: 1500, as: 'drv' } });
    expect(r.result).toMatchObject({ ok: true, pasid: 1500 });
    expect(r.findings.map((f) => f.invariant)).toContain('cd-in-table');
    expect(r.findings.find((f) => f.invariant === 'cd-in-table')!.subject).toBe('master:wide/cd[1500]');
    // With CD2L the same device gets 16 bits and a 2-level table: no violation.
    const l2 = mkLab([{ name: 'wide', smmu: 'smmu0', sid: 1, pasid_bits: 16 }], { smmus: [{ name: 'smmu0', ssidsize: 16 }] });
    const r2 = l2.apply({ op: 'attach_kernel_pasid', args: { device: 'wide', pasid: 1500, as: 'drv' } });
    expect(r2.result.ok).toBe(true);
    expect(r2.findings).toEqual([]);
  });

  it('stall_enabled: "dma-can-stall" with stalls supported, or STALL_FORCE for everyone', () => {
    const l = mkLab(
      [
        { name: 'st', smmu: 'smmu0', sid: 1, pasid_bits: 2, stall: true },
        { name: 'nost', smmu: 'smmu0', sid: 2, pasid_bits: 2 },
        { name: 'st1', smmu: 'smmu1', sid: 1, pasid_bits: 2, stall: true },
        { name: 'forced', kind: 'pci', smmu: 'smmu2', sid: 1, pasid_bits: 2 },
      ],
      { smmus: [{ name: 'smmu0' }, { name: 'smmu1', stall: false }, { name: 'smmu2', stall: 'force' }] },
    );
    const d = view(l).devices;
    expect(d.st.stall_enabled).toBe(true);
    expect(d.nost.stall_enabled).toBe(false);
    expect(d.st1.stall_enabled).toBe(false);
    expect(d.forced.stall_enabled).toBe(true);
  });
});

describe('§5.3 stream table', () => {
  it('a SID outside the table is -ERANGE, an aliased SID -ENODEV; the device is not probed; sid_bits <= 8 is linear', () => {
    const l = mkLab(
      [
        { name: 'ok', smmu: 'smmu0', sid: 0xf, pasid_bits: 2 },
        { name: 'far', smmu: 'smmu0', sid: 0x10, pasid_bits: 2 },
        { name: 'alias', smmu: 'smmu0', sid: 0xf, pasid_bits: 2 },
      ],
      { smmus: [{ name: 'smmu0', sidsize: 4 }] },
    );
    expect(l.boot.problems.map((p) => [p.device, p.why.split(':')[0]])).toEqual([
      ['far', 'ERANGE'],
      ['alias', 'ENODEV'],
    ]);
    expect([...l.kernel.devices.keys()]).toEqual(['ok']);
    expect(l.kernel.smmus.get('smmu0')!.features.twoLvlStrtab).toBe(false);
    const l2 = mkLab([{ name: 'ok', smmu: 'smmu0', sid: 0x100, pasid_bits: 2 }], { smmus: [{ name: 'smmu0', sidsize: 9 }] });
    expect(l2.kernel.smmus.get('smmu0')!.features.twoLvlStrtab).toBe(true);
  });
});

describe('§5.4 CD table', () => {
  it('is linear iff !CD2L or 2^s1cdmax <= 1024, else 2-level with ceil(2^s1cdmax / 1024) L1 entries', () => {
    const l = mkLab([
      { name: 'b2', smmu: 'smmu0', sid: 1, pasid_bits: 2 },
      { name: 'b10', smmu: 'smmu0', sid: 2, pasid_bits: 10 },
      { name: 'b11', smmu: 'smmu0', sid: 3, pasid_bits: 11 },
      { name: 'b20', smmu: 'smmu0', sid: 4, pasid_bits: 20 },
    ]);
    const t = (n: string) => dev(l, n).master.cdTable!;
    expect([t('b2').linear, t('b2').s1cdmax, t('b2').maxContexts]).toEqual([true, 2, 4]);
    expect([t('b10').linear, t('b10').s1cdmax]).toEqual([true, 10]);
    expect([t('b11').linear, t('b11').numL1Ents]).toEqual([false, 2]);
    expect([t('b20').linear, t('b20').numL1Ents]).toEqual([false, 1024]);
    expect(view(l).devices.b20.ste).toBe('cdtable/ssid0');
  });

  it('is allocated lazily, and 2-level leaves only when a CD in their range is written', () => {
    const l = mkLab([
      { name: 'big', smmu: 'smmu0', sid: 1, pasid_bits: 20, rid_domain: 'identity' },
      { name: 'dmab', smmu: 'smmu0', sid: 2, pasid_bits: 20 },
    ]);
    expect(view(l).devices.big.cd_table).toBeNull(); // identity RID, no PASID: nothing needs a CD
    expect(view(l).devices.dmab.cd_table).toMatchObject({ fmt: '64k-l2', l2: [0] }); // CD0 of the DMA domain
    expect(bind(l, 'p1', 'big')).toMatchObject({ ok: true, pasid: 1 });
    expect(view(l).devices.big.cd_table).toMatchObject({ fmt: '64k-l2', s1cdmax: 20, l2: [0], used_ssids: 1 });
    // A kernel PASID at 5000 (L1 index 4) allocates leaf 4 only.
    expect(step(l, { op: 'attach_kernel_pasid', args: { device: 'dmab', pasid: 5000, as: 'kp' } })).toMatchObject({ ok: true });
    expect(view(l).devices.dmab.cd_table.l2).toEqual([0, 4]);
    expect(dev(l, 'dmab').master.cdTable!.cds.has(5000)).toBe(true);
  });

  it('used_ssids counts valid CDs at SSID != 0, on every device of the group', () => {
    const l = mkLab(
      [
        { name: 'small', smmu: 'smmu0', sid: 1, pasid_bits: 3 },
        { name: 'fa', kind: 'pci', smmu: 'smmu0', sid: 2, pasid_bits: 4 },
        { name: 'fb', kind: 'pci', smmu: 'smmu0', sid: 3, pasid_bits: 4 },
      ],
      { groups: [['fa', 'fb']] },
    );
    const used = (n: string) => view(l).devices[n].cd_table.used_ssids;
    expect(used('small')).toBe(0); // CD0 (DMA) does not count
    bind(l, 'p1', 'small');
    bind(l, 'p2', 'small');
    bind(l, 'p2', 'small'); // same bond: no new CD
    expect(used('small')).toBe(2);
    unbind(l, 'p1', 'small');
    expect(used('small')).toBe(1);
    bind(l, 'p3', 'fa');
    expect([used('fa'), used('fb')]).toEqual([1, 1]);
    exit(l, 'p3');
    expect([used('fa'), used('fb')]).toEqual([0, 0]);
  });
});

describe('§5.5 STE per RID domain', () => {
  it('S1 DMA: CD-table STE with S1DSS=SSID0 and CD0; it stays so after the last PASID goes', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    let d = view(l).devices.d;
    expect(d.ste).toBe('cdtable/ssid0');
    expect(d.cds[0]).toMatchObject({ kind: 's1' });
    bind(l, 'p1', 'd');
    unbind(l, 'p1', 'd');
    d = view(l).devices.d;
    expect(d.ste).toBe('cdtable/ssid0');
    expect(Object.keys(d.cds)).toEqual(['0']);
  });

  it('IDENTITY: plain bypass, CD-table/BYPASS while PASIDs are in use, downgraded after the last detach', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4, rid_domain: 'identity' }]);
    const ste = () => view(l).devices.d.ste;
    expect(ste()).toBe('bypass');
    bind(l, 'p1', 'd');
    expect(ste()).toBe('cdtable/bypass');
    expect(view(l).devices.d.cds).not.toHaveProperty('0');
    bind(l, 'p2', 'd');
    unbind(l, 'p1', 'd');
    expect(ste()).toBe('cdtable/bypass'); // p2's PASID still in use
    unbind(l, 'p2', 'd');
    expect(ste()).toBe('bypass');
    expect(view(l).devices.d.cd_table.used_ssids).toBe(0);
  });

  it('BLOCKED: abort, CD-table/TERMINATE while PASIDs are in use, abort again after the last detach', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4, rid_domain: 'blocked' }]);
    const ste = () => view(l).devices.d.ste;
    expect(ste()).toBe('abort');
    bind(l, 'p1', 'd');
    expect(ste()).toBe('cdtable/terminate');
    exit(l, 'p1');
    expect(ste()).toBe('abort');
  });

  it('RID changes with PASIDs in use keep a CD-table STE of the right S1DSS; CD0 follows the DMA domain', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    const d = () => view(l).devices.d;
    bind(l, 'p1', 'd');
    attachRid(l, 'd', 'identity');
    expect(d().ste).toBe('cdtable/bypass');
    expect(d().cds).not.toHaveProperty('0');
    expect(d().cds[1]).toMatchObject({ kind: 'sva', owner: 'p1/mm0' });
    attachRid(l, 'd', 'blocked');
    expect(d().ste).toBe('cdtable/terminate');
    attachRid(l, 'd', 'dma');
    expect(d().ste).toBe('cdtable/ssid0');
    expect(d().cds[0]).toMatchObject({ kind: 's1' });
    // No PASIDs: identity gives a plain bypass STE at once.
    unbind(l, 'p1', 'd');
    attachRid(l, 'd', 'identity');
    expect(d().ste).toBe('bypass');
  });
});

describe('§5.5 CD-table STE fields', () => {
  it('S1CDMax = ssid_bits, S1Fmt from the table, S1STALLD iff the SMMU stalls and the master does not', () => {
    const l = mkLab(
      [
        { name: 'st', smmu: 'smmu0', sid: 1, pasid_bits: 2, stall: true },
        { name: 'nost', smmu: 'smmu0', sid: 2, pasid_bits: 20 },
        { name: 'nosmmu', smmu: 'smmu1', sid: 1, pasid_bits: 3 },
      ],
      { smmus: [{ name: 'smmu0' }, { name: 'smmu1', stall: false }] },
    );
    expect(dev(l, 'st').master.ste).toEqual({ config: 's1', s1dss: 'ssid0', s1cdmax: 2, s1fmt: 'linear', s1stalld: false });
    expect(dev(l, 'nost').master.ste).toEqual({ config: 's1', s1dss: 'ssid0', s1cdmax: 20, s1fmt: '64k-l2', s1stalld: true });
    expect(dev(l, 'nosmmu').master.ste).toEqual({ config: 's1', s1dss: 'ssid0', s1cdmax: 3, s1fmt: 'linear', s1stalld: false });
    // The SVA CD carries S = stall_enabled and R = 1.
    bind(l, 'p1', 'st');
    bind(l, 'p1', 'nost');
    expect(view(l).devices.st.cds[1]).toMatchObject({ kind: 'sva', s: true, r: true });
    expect(view(l).devices.nost.cds[1]).toMatchObject({ kind: 'sva', s: false, r: true });
  });
});

describe('§5.6 S2 and PASIDs', () => {
  it('moving the RID to S2 while PASIDs are in use is -EBUSY and changes nothing', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    bind(l, 'p1', 'd');
    const before = view(l);
    expect(attachRid(l, 'd', 's2')).toMatchObject({ ok: false, errno: 'EBUSY' });
    const after = view(l);
    expect(after.devices.d.ste).toBe('cdtable/ssid0');
    expect(after.groups.d.domain).toBe(before.groups.d.domain);
    expect(after.devices.d.cds).toEqual(before.devices.d.cds);
    unbind(l, 'p1', 'd');
    expect(attachRid(l, 'd', 's2')).toMatchObject({ ok: true });
    expect(view(l).devices.d.ste).toBe('s2');
  });

  it('a PASID attach with the RID on S2 is -EINVAL; the bind fails and the mm keeps its PASID', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }]);
    attachRid(l, 'd', 's2');
    const asids = view(l).asids;
    expect(bind(l, 'p1', 'd')).toMatchObject({ ok: false, errno: 'EINVAL' });
    const v = view(l);
    expect(v.processes.p1.pasid).toBe(1);
    expect(idaIds(l)).toEqual([1]);
    expect(v.devices.d.pasid_array).toEqual({});
    expect(v.asids).toEqual(asids); // the new SVA domain was freed with its ASID
    expect(Object.values(v.domains).filter((x: any) => x.type === 'SVA')).toHaveLength(0);
    expect(v.devices.d.ste).toBe('s2');
    // A paging domain at a PASID is refused the same way.
    const k = l.kernel;
    const d = dev(l, 'd');
    expect(iommuAttachDevicePasid(k, d.group.defaultDomain!, d, 2, null)).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(l.findings()).toEqual([]);
  });
});

describe('§5.7 FEAT_SVA', () => {
  it('without FEAT_SVA the SVA domain allocation fails with -EOPNOTSUPP after the PASID was allocated; the mm keeps it', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 4 }], { smmus: [{ name: 'smmu0', sva: false }] });
    const asids = view(l).asids;
    expect(bind(l, 'p1', 'd')).toMatchObject({ ok: false, errno: 'EOPNOTSUPP' });
    expect(view(l).processes.p1.pasid).toBe(1);
    expect(view(l).asids).toEqual(asids);
    expect(view(l).devices.d.pasid_array).toEqual({});
    expect(proc(l, 'p1').mm.mmCount).toBe(1); // no domain holds an mmgrab
  });
});

describe('§5.7 ASIDs', () => {
  it('8-bit ASIDs: a bind of a new mm fails with -EBUSY once [1, 255] is used, and the mm keeps its PASID (S12)', () => {
    const l = mkLab([{ name: 'd', smmu: 'smmu0', sid: 1, pasid_bits: 20 }], { smmus: [{ name: 'smmu0', asid16: false }] });
    expect(view(l).asids).toEqual([1]); // the DMA default domain
    for (let i = 0; i < 254; i++) expect(bind(l, `p${i}`, 'd')).toMatchObject({ ok: true, pasid: i + 1 });
    expect(view(l).asids).toHaveLength(255);
    expect(bind(l, 'late', 'd')).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(view(l).processes.late.pasid).toBe(255);
    expect(idaIds(l)).toContain(255);
    expect(dev(l, 'd').group.pasidArray.raw(255)).toBeUndefined();
    // One mm goes away: its ASID is free again and the late process binds with the PASID it kept.
    exit(l, 'p0');
    expect(bind(l, 'late', 'd')).toMatchObject({ ok: true, pasid: 255 });
    expect(l.findings()).toEqual([]);
  });

  it('the ASID xarray is driver-global: a 16-bit instance can exhaust an 8-bit one', () => {
    const l = mkLab(
      [
        { name: 'wide', smmu: 'smmu16', sid: 1, pasid_bits: 20, rid_domain: 'identity' },
        { name: 'narrow', smmu: 'smmu8', sid: 1, pasid_bits: 20, rid_domain: 'identity' },
      ],
      { smmus: [{ name: 'smmu16' }, { name: 'smmu8', asid16: false }] },
    );
    for (let i = 0; i < 255; i++) bind(l, `p${i}`, 'wide');
    expect(view(l).asids).toHaveLength(255);
    expect(bind(l, 'q', 'narrow')).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(bind(l, 'q', 'wide')).toMatchObject({ ok: true }); // 256 fits 16 bits
    expect(view(l).asids).toContain(256);
  });
});

describe('§5.7 mm release: the fault-everything CD', () => {
  it('after an exit with the files kept, the CD stays valid with R=0 and S=0 until the unbind (S5)', () => {
    const l = mkLab([{ name: 'small', smmu: 'smmu0', sid: 1, pasid_bits: 2, stall: true }]);
    bind(l, 'p1', 'small');
    const asid = view(l).devices.small.cds[1].asid;
    expect(view(l).devices.small.cds[1]).toMatchObject({ kind: 'sva', s: true, r: true });
    exit(l, 'p1', true);
    let v = view(l);
    expect(v.devices.small.cds[1]).toEqual({ asid, kind: 'fault', owner: 'p1/mm0', s: false, r: false });
    expect(v.devices.small.pasid_array).toEqual({ 1: 'p1/mm0' });
    expect(v.devices.small.cd_table.used_ssids).toBe(1);
    expect(idaIds(l)).toEqual([1]);
    expect(v.processes.p1.files).toHaveLength(1);
    expect(l.findings()).toEqual([]);
    unbind(l, 'p1', 'small');
    v = view(l);
    expect(v.devices.small.cds).not.toHaveProperty('1');
    expect(idaIds(l)).toEqual([]);
    expect(l.kernel.mms.size).toBe(0);
    expect(proc(l, 'p1').alive).toBe(false);
  });

  it('under STALL_FORCE the fault-everything CD keeps S and R', () => {
    const l = mkLab([{ name: 'small', smmu: 'smmu0', sid: 1, pasid_bits: 2 }], { smmus: [{ name: 'smmu0', stall: 'force' }] });
    bind(l, 'p1', 'small');
    exit(l, 'p1', true);
    expect(view(l).devices.small.cds[1]).toMatchObject({ kind: 'fault', s: true, r: true });
  });

  it('every device of the mm gets a fault CD, on each SMMU instance', () => {
    const l = mkLab(
      [
        { name: 'a', smmu: 'smmu0', sid: 1, pasid_bits: 4 },
        { name: 'b', smmu: 'smmu0', sid: 2, pasid_bits: 4 },
        { name: 'c', smmu: 'smmu1', sid: 1, pasid_bits: 4 },
      ],
      { smmus: [{ name: 'smmu0' }, { name: 'smmu1' }] },
    );
    for (const d of ['a', 'b', 'c']) bind(l, 'p1', d);
    bind(l, 'p2', 'a');
    exit(l, 'p1', true);
    const v = view(l);
    for (const d of ['a', 'b', 'c']) expect(v.devices[d].cds[1]).toMatchObject({ kind: 'fault', r: false });
    expect(v.devices.a.cds[2]).toMatchObject({ kind: 'sva', owner: 'p2/mm0' }); // another mm is untouched
  });
});

describe('arm_smmu_domain->devices', () => {
  /** The (device, SSID) entries of a domain's devices list, in list order. */
  /** Two 20-bit platform devices behind one SMMU. */
  const twoDevices = () =>
    mkLab([
      { name: 'a', smmu: 'smmu0', sid: 1, pasid_bits: 20 },
      { name: 'b', smmu: 'smmu0', sid: 2, pasid_bits: 20 },
    ]);

  function entries(d: ArmSmmuDomain): string[] {
    const out: string[] = [];
    for (let md = d.devices; md; md = md.next) out.push(`${md.master.dev.name}:${md.ssid}`);
    return out;
  }

  it('one entry per attach, added at the head as list_add does; removal unlinks the first match only', () => {
    const l = twoDevices();
    const a = dev(l, 'a').master;
    const b = dev(l, 'b').master;
    const dom = new ArmSmmuDomain(99, 'SVA', null, a.smmu, 's1', 1, 0);
    const sd = dom.smmuDomain; // to_smmu_domain(): the same object
    expect(sd).toBe(dom);
    setMasterDomain(a, dom, 5, true);
    setMasterDomain(b, dom, 5, true);
    setMasterDomain(a, dom, 7, true);
    expect(entries(sd)).toEqual(['a:7', 'b:5', 'a:5']);
    setMasterDomain(a, dom, 5, true); // the same domain again: listed twice, as the kernel's comment in attach_prepare says
    expect(entries(sd)).toEqual(['a:5', 'a:7', 'b:5', 'a:5']);
    setMasterDomain(a, dom, 5, false); // the first match: the head
    expect(entries(sd)).toEqual(['a:7', 'b:5', 'a:5']);
    setMasterDomain(b, dom, 5, false); // the middle
    setMasterDomain(b, dom, 3, false); // not on the list: nothing
    expect(entries(sd)).toEqual(['a:7', 'a:5']);
    setMasterDomain(a, dom, 5, false); // the tail
    expect(entries(sd)).toEqual(['a:7']);
    setMasterDomain(a, dom, 7, false);
    expect(entries(sd)).toEqual([]);
  });

  it('a replace moves the SSID from the old domain list to the new one (arm_smmu_attach_commit removes the old entry)', () => {
    const l = twoDevices();
    const pasid = bind(l, 'p', 'a').pasid;
    bind(l, 'q', 'b');
    const dp = proc(l, 'p').mm.iommuMm!.svaDomains!;
    const dq = proc(l, 'q').mm.iommuMm!.svaDomains!;
    const k = l.kernel;
    const r = iommuReplaceDevicePasid(k, dq, dev(l, 'a'), pasid, newBond(k, dev(l, 'a')));
    expect(r.ok).toBe(true);
    expect(entries(dp.smmuDomain!)).toEqual([]);
    expect(entries(dq.smmuDomain!)).toEqual([`a:${pasid}`, `b:${proc(l, 'q').mm.iommuMm!.pasid}`]);
    expect(dev(l, 'a').master.cdTable!.cds.get(pasid)?.domain).toBe(dq);
  });

  it('an SVA domain bound to two devices lists both at the mm PASID; unbinding one leaves the other', () => {
    const l = twoDevices();
    const pasid = bind(l, 'p', 'a').pasid;
    bind(l, 'p', 'b');
    const sd = proc(l, 'p').mm.iommuMm!.svaDomains!.smmuDomain!;
    expect(entries(sd)).toEqual([`b:${pasid}`, `a:${pasid}`]);
    unbind(l, 'p', 'a');
    expect(entries(sd)).toEqual([`b:${pasid}`]);
  });
});
