/**
 * ID register fields configured per SMMU instance (SoC config `st_level`, `oas`, `ats`, `pri`) and what the driver
 * makes of them, after arm_smmu_device_hw_probe, arm_smmu_init_strtab, arm_smmu_sva_supported,
 * arm_smmu_make_s1_cd / arm_smmu_make_sva_cd and arm_smmu_make_s2_domain_ste (arm-smmu-v3.c, arm-smmu-v3-sva.c).
 * Expectations come from those functions and the SMMUv3 specification (§6.3.1 IDR0, §6.3.6 IDR5, §5.4 CD.IPS),
 * not from the model.
 */
import { describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.js';
import { SMMU_DEFAULTS, SocConfig, socConfigProblems } from '../../shared/soc-config.js';
import { decodeCd } from '../../src-main/sim/hw/cd.js';
import { decodeSte, STE_CONFIG } from '../../src-main/sim/hw/ste.js';
import { PAGE_SIZE } from '../../src-main/sim/hw/memory.js';
import { armSmmuCdPa, armSmmuCmd } from '../../src-main/sim/smmuv3/driver.js';
import { attachRid, bind, dev, mkLab, step, view, type DevIn, type SmmuIn } from '../unit/helpers.js';
import type { PolicyName } from '../../shared/steps.js';

const ACC: DevIn = { name: 'acc', smmu: 'smmu0', sid: 0x40, pasid_bits: 4 };
const VA = 0x400000;

function lab(smmu: Partial<SmmuIn>, devices: DevIn[] = [ACC], policy: PolicyName = 'mainline'): Lab {
  return mkLab(devices, { smmus: [{ name: 'smmu0', ssidsize: 20, ...smmu }], policy });
}

function boundProcess(l: Lab, device = 'acc'): number {
  expect(step(l, { op: 'map', args: { process: 'p', va: VA, length: 2 * PAGE_SIZE, write: true } }).ok).toBe(true);
  expect(step(l, { op: 'touch', args: { process: 'p', va: VA, length: PAGE_SIZE, write: true, data: '5a' } }).ok).toBe(true);
  const r = bind(l, 'p', device);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r.pasid!;
}

/** The CD the SMMU would fetch for `ssid`, decoded from memory. */
function cdInMemory(l: Lab, device: string, ssid: number): ReturnType<typeof decodeCd> {
  const d = dev(l, device);
  return decodeCd(d.smmu.mem.readWords(armSmmuCdPa(d.master.cdTable!, ssid)!, 16));
}

function steInMemory(l: Lab, device: string): ReturnType<typeof decodeSte> {
  const d = dev(l, device);
  return decodeSte(d.smmu.mem.readWords(d.smmu.stePa(d.sid), 16));
}

describe('defaults: the SMMU every existing scenario runs on', () => {
  it('IDR0.ST_LEVEL 2-level, no ATS, no PRI, IDR5.OAS 48 bits; FEAT_SVA; no PRI queue', () => {
    const l = lab({});
    const s = view(l).smmus.smmu0;
    expect(s.idr0).toMatchObject({ stLevel: 1, ats: false, pri: false });
    expect(s.idr5).toMatchObject({ oas: 48 });
    expect(s.features).toMatchObject({ twoLvlStrtab: true, ats: false, pri: false, sva: true, oas: 48, sva_missing: null });
    expect(s.strtab).toMatchObject({ fmt: '2lvl', log2size: 16, split: 8 });
    expect(s.priq).toBeNull();
  });

  it('the new fields are optional in the configuration (absent = these defaults), so older files parse unchanged', () => {
    const s = SocConfig.parse({ smmus: [{ name: 'smmu0' }] }).smmus[0]!;
    expect([s.st_level, s.oas, s.ats, s.pri]).toEqual([undefined, undefined, undefined, undefined]);
    expect(SMMU_DEFAULTS).toEqual({ st_level: '2lvl', oas: 48, ats: false, pri: false });
    const d = SocConfig.parse({ smmus: [{ name: 'smmu0' }], devices: [{ name: 'x', smmu: 'smmu0', sid: 1 }] }).devices[0]!;
    expect([d.ats, d.pri]).toEqual([undefined, undefined]);
  });
});

describe('IDR0.ST_LEVEL', () => {
  it("'linear': arm_smmu_init_strtab_linear, 2^SIDSIZE abort STEs, STRTAB_BASE_CFG.FMT linear with LOG2SIZE = SIDSIZE", () => {
    const l = lab({ st_level: 'linear', sidsize: 12 });
    const s = dev(l, 'acc').smmu;
    expect(view(l).smmus.smmu0.idr0.stLevel).toBe(0);
    expect(s.features.twoLvlStrtab).toBe(false);
    expect(s.hw.strtab).toMatchObject({ fmt: 'linear', log2size: 12 });
    // The STE of SID 0x40 lives at base + 0x40 * 64, in one table of 2^12 * 64 bytes.
    expect(s.stePa(0x40)).toBe(s.hw.strtab!.base + 0x40 * 64);
    const region = s.mem.regionAt(s.hw.strtab!.base)!;
    expect(region).toMatchObject({ owner: 'strtab:smmu0', size: 2 ** 12 * 64 });
    // Every other STE is an abort STE (V = 1, Config = abort), the last one included.
    expect(decodeSte(s.mem.readWords(s.hw.strtab!.base + (2 ** 12 - 1) * 64, 16))).toMatchObject({ v: true, config: STE_CONFIG.ABORT });
  });

  it("'linear' translates through the linear table; an unused SID aborts silently; a SID past 2^SIDSIZE is C_BAD_STREAMID", () => {
    const l = lab({ st_level: 'linear', sidsize: 12 });
    const pasid = boundProcess(l);
    const ok = step(l, { op: 'dma', args: { device: 'acc', process: 'p', va: VA, length: 4, write: false } });
    expect(ok).toMatchObject({ ok: true, data: '5a5a5a5a', pasid });
    const unused = step(l, { op: 'dma', args: { device: 'acc', sid: 0x41, va: VA, length: 4, write: false } });
    expect(unused).toMatchObject({ ok: false, events: [] });
    expect(unused.why).toMatch(/abort STE/);
    const outside = step(l, { op: 'dma', args: { device: 'acc', sid: 0x1000, va: VA, length: 4, write: false } });
    expect(outside).toMatchObject({ ok: false, event: 'C_BAD_STREAMID' });
  });

  it("'2lvl' with SIDSIZE <= STRTAB_SPLIT still uses a linear table (the driver clears FEAT_2_LVL_STRTAB)", () => {
    const l = lab({ st_level: '2lvl', sidsize: 8 });
    expect(view(l).smmus.smmu0.idr0.stLevel).toBe(1);
    expect(dev(l, 'acc').smmu.hw.strtab).toMatchObject({ fmt: 'linear', log2size: 8 });
  });

  it("a linear table the driver cannot allocate is a configuration error naming arm_smmu_init_strtab_linear", () => {
    const cfg = SocConfig.parse({ smmus: [{ name: 'smmu0', st_level: 'linear', sidsize: 17 }] });
    const p = socConfigProblems(cfg);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ path: 'soc.smmus[0].st_level' });
    expect(p[0]!.message).toMatch(/arm_smmu_init_strtab_linear.*ENOMEM/);
    expect(socConfigProblems(SocConfig.parse({ smmus: [{ name: 'smmu0', st_level: 'linear', sidsize: 16 }] }))).toEqual([]);
  });

  it('rejects other values with a message naming the field', () => {
    const r = SocConfig.safeParse({ smmus: [{ name: 'smmu0', st_level: 'flat' }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['smmus', 0, 'st_level']);
    expect(r.error!.issues[0]!.message).toMatch(/'2lvl'.*'linear'/);
  });
});

describe('IDR5.OAS', () => {
  it('only the architected sizes are accepted', () => {
    for (const oas of [32, 36, 40, 42, 44, 48, 52]) expect(SocConfig.safeParse({ smmus: [{ name: 's', oas }] }).success).toBe(true);
    const r = SocConfig.safeParse({ smmus: [{ name: 's', oas: 47 }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/32, 36, 40, 42, 44, 48, 52/);
  });

  it.each(['mainline', 'rfc-v1', 'arch-gated', 'driver-pasid'] as const)(
    'an OAS below the CPU PA range clears FEAT_SVA: a bind fails with -EOPNOTSUPP (arm_smmu_sva_domain_alloc) under %s',
    (policy) => {
      const l = lab({ oas: 44 }, [{ ...ACC, driver_pasid: true }], policy);
      const s = view(l).smmus.smmu0;
      expect(s.idr5.oas).toBe(44);
      expect(s.features.sva).toBe(false);
      expect(s.features.sva_missing).toMatch(/OAS is 44 bits, below the CPU's 48-bit PA range/);
      const r = bind(l, 'p', 'acc');
      expect(r).toMatchObject({ ok: false, errno: 'EOPNOTSUPP' });
      expect(view(l).devices.acc.cd_table.used_ssids).toBe(0);
    },
  );

  it('an OAS of 48 or more keeps FEAT_SVA; the SVA CD.IPS is the CPU PARange (48 bits, 0b101) whatever the OAS', () => {
    for (const oas of [48, 52] as const) {
      const l = lab({ oas });
      expect(dev(l, 'acc').smmu.features.sva).toBe(true);
      const pasid = boundProcess(l);
      expect(cdInMemory(l, 'acc', pasid).ips).toBe(5);
    }
  });

  it('the DMA domain CD (arm_smmu_make_s1_cd) takes IPS from io-pgtable, whose oas is the SMMU OAS', () => {
    const enc = { 32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6 } as const;
    for (const [oas, ips] of Object.entries(enc)) {
      const l = lab({ oas: Number(oas) as SmmuIn['oas'] });
      expect(cdInMemory(l, 'acc', 0)).toMatchObject({ v: true, ips });
    }
  });

  it('the S2 STE (arm_smmu_make_s2_domain_ste) takes VTCR.PS from the SMMU OAS', () => {
    const l = lab({ oas: 40 }, [{ name: 'n', kind: 'pci', smmu: 'smmu0', sid: 0x50 }]);
    expect(attachRid(l, 'n', 's2').ok).toBe(true);
    expect(steInMemory(l, 'n')).toMatchObject({ config: STE_CONFIG.S2_TRANS, s2ps: 2 });
  });

  it('an output address above the OAS faults with F_ADDR_SIZE (eff_IPS = MIN(CD.IPS, OAS)); the same at OAS 48 translates', () => {
    for (const [oas, fault] of [
      [32, true],
      [48, false],
    ] as const) {
      const l = lab({ oas }, [{ name: 'n', kind: 'pci', smmu: 'smmu0', sid: 0x50 }]);
      expect(step(l, { op: 'dma_map', args: { device: 'n', iova: 0x10000, length: PAGE_SIZE, data: '77' } }).ok).toBe(true);
      // The io-pgtable never maps a PA at or above 2^oas: move the page descriptor's output to bit 32 by hand.
      const pt = dev(l, 'n').group.domain!.pgtable!;
      const pa = pt.lookup(0x10000)!.pa;
      const hiPa = pa + 2 ** 32;
      pt.map(0x10000, hiPa, { write: true });
      armSmmuCmd(l.kernel, dev(l, 'n').smmu, { op: 'TLBI_NSNH_ALL' });
      const r = step(l, { op: 'dma', args: { device: 'n', va: 0x10000, length: 4, write: false } });
      if (fault) expect(r).toMatchObject({ ok: false, event: 'F_ADDR_SIZE', events: ['F_ADDR_SIZE'] });
      else expect(r).toMatchObject({ ok: true, event: null });
    }
  });
});

describe('IDR0.ATS / IDR0.PRI', () => {
  it('reach the registers, the features and (PRI) a PRI queue', () => {
    const l = lab({ ats: true, pri: true });
    const s = view(l).smmus.smmu0;
    expect(s.idr0).toMatchObject({ ats: true, pri: true });
    expect(s.features).toMatchObject({ ats: true, pri: true });
    expect(s.priq).toMatchObject({ capacity: 256, produced: 0, pending: 0, last: [] });
  });

  it('ats/pri on a platform device and pri without ats are configuration errors', () => {
    const cfg = SocConfig.parse({
      smmus: [{ name: 's' }],
      devices: [
        { name: 'plat', smmu: 's', sid: 1, ats: true, pri: true },
        { name: 'nic', kind: 'pci', smmu: 's', sid: 2, pri: true },
      ],
    });
    const p = socConfigProblems(cfg);
    expect(p.map((x) => x.path)).toEqual(['soc.devices[0].ats', 'soc.devices[0].pri', 'soc.devices[1].pri']);
    expect(p[2]!.message).toMatch(/PRI needs ATS/);
  });
});
