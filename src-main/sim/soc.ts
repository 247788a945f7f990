/**
 * Builds a simulated SoC from a validated configuration: SMMUv3 instances probed from their ID registers, devices
 * probed in configuration order (arm_smmu_probe_device, then iommu_init_device for the group and max_pasids), the
 * default RID domains attached, and idxd kernel PASIDs taken at probe where the configuration asks.
 */
import { SMMU_DEFAULTS, type SocConfig } from '../../shared/soc-config.js';
import { IOMMU_PASID_INVALID } from './kernel/constants.js';
import { idxdEnableSystemPasid } from './kernel/drivers.js';
import type { KResult } from './kernel/errno.js';
import { forgetDomain, iommuAttachGroup } from './kernel/iommu.js';
import { Kernel } from './kernel/kernel.js';
import { Device, IommuDomain, IommuGroup } from './kernel/structs.js';
import { POLICIES, type PolicyName } from './policies/index.js';
import { PageTable } from './hw/pagetable.js';
import { ArmSmmuDevice, armSmmuDomainAllocPaging, armSmmuDomainFree, armSmmuInsertMaster, armSmmuProbeDevice } from './smmuv3/driver.js';

export interface ProbeProblem {
  device: string;
  why: string;
}

/** What happened at boot that a person should see (a driver probe that failed, an idxd kernel PASID refused). */
export interface BootReport {
  problems: ProbeProblem[];
}

/**
 * iommu.c dev_iommu_get_max_pasids() (§3.1): the PCI PASID capability width or "pasid-num-bits", capped by the
 * IOMMU's max_pasids; 0 when absent.
 */
export function devIommuGetMaxPasids(dev: Device, smmu: ArmSmmuDevice): number {
  if (dev.pasidBits === null) return 0;
  const raw = 2 ** dev.pasidBits; // pci_max_pasids() = 1 << width, or 1 << "pasid-num-bits"
  return Math.min(raw, smmu.maxPasids);
}

export function buildSoc(cfg: SocConfig, policyName: PolicyName, trace = true): { kernel: Kernel; boot: BootReport } {
  const policy = POLICIES[policyName];
  const enqcmd = cfg.enqcmd ?? cfg.arch === 'x86';
  const k = new Kernel(cfg.arch, enqcmd, policy);
  const problems: ProbeProblem[] = [];
  k.tr.on = trace;

  for (const s of cfg.smmus) {
    k.smmus.set(
      s.name,
      new ArmSmmuDevice(
        {
        name: s.name,
        ssidsize: s.ssidsize,
        sidsize: s.sidsize,
        cd2l: s.cd2l,
        asid16: s.asid16,
        stall: s.stall === 'force' ? 'force' : s.stall ? 'supported' : 'none',
        sva: s.sva,
        rfcCap: s.rfc_cap,
        stLevel2: (s.st_level ?? SMMU_DEFAULTS.st_level) === '2lvl',
        oas: s.oas ?? SMMU_DEFAULTS.oas,
        ats: s.ats ?? SMMU_DEFAULTS.ats,
        pri: s.pri ?? SMMU_DEFAULTS.pri,
        },
        k.mem,
      ),
    );
  }

  // Groups: PCI functions named together share one (pci_device_group); everything else gets its own.
  const groupOf = new Map<string, IommuGroup>();
  for (const names of cfg.groups) {
    const g = new IommuGroup(k.nextId('group'), names.join('+'));
    k.groups.push(g);
    for (const n of names) groupOf.set(n, g);
  }

  for (const dc of cfg.devices) {
    const smmu = k.smmus.get(dc.smmu)!;
    const dev = new Device(dc.name, dc.kind, smmu, dc.sid, dc.pasid_bits ?? null, dc.stall, dc.driver_pasid);
    // iommu_init_device(): ops->probe_device, then the group, then max_pasids (after probe_device).
    dev.master = armSmmuProbeDevice(smmu, dev, { ats: dc.ats ?? false, pri: dc.pri ?? false });
    const ins = armSmmuInsertMaster(dev.master);
    if (!ins.ok) {
      problems.push({ device: dc.name, why: `${ins.errno}: ${ins.why}` });
      continue;
    }
    let g = groupOf.get(dc.name);
    if (!g) {
      g = new IommuGroup(k.nextId('group'), dc.name);
      k.groups.push(g);
    }
    g.devices.push(dev);
    dev.group = g;
    dev.maxPasids = devIommuGetMaxPasids(dev, smmu);
    if (dc.kind === 'dsa' || dc.kind === 'iaa') {
      const wqs = dc.wqs ?? [
        { name: 'wq0', mode: 'shared' as const },
        { name: 'wq1', mode: 'dedicated' as const },
      ];
      for (const w of wqs) dev.wqs.push({ name: w.name, mode: w.mode, owner: null, wqcfgPasid: IOMMU_PASID_INVALID });
    }
    k.devices.set(dc.name, dev);
    policy.probeDevice(k, dev);
  }

  // Default domains, one per group (iommu_setup_default_domain), of the type the first device asks for.
  for (const g of k.groups) {
    const first = g.devices[0];
    if (!first) continue;
    const want = cfg.devices.find((d) => d.name === first.name)!.rid_domain;
    const r = attachDefaultDomain(k, g, want);
    if (!r.ok) problems.push({ device: first.name, why: `default domain: ${r.errno}: ${r.why}` });
  }

  // idxd probe: kernel PASIDs requested at boot, in configuration order.
  for (const dc of cfg.devices) {
    if (!dc.kernel_pasid) continue;
    const dev = k.devices.get(dc.name);
    if (!dev) continue;
    const r = idxdEnableSystemPasid(k, dev, `${dc.name}-kernel`);
    if (!r.ok) problems.push({ device: dc.name, why: `idxd_enable_system_pasid: ${r.errno}: ${r.why} ("No in-kernel DMA with PASID")` });
  }

  return { kernel: k, boot: { problems } };
}

function attachDefaultDomain(k: Kernel, g: IommuGroup, want: 'dma' | 'identity' | 'blocked'): KResult {
  let domain: IommuDomain;
  if (want === 'identity') domain = k.identityDomain;
  else if (want === 'blocked') domain = k.blockedDomain;
  else {
    const smmu = g.devices[0]!.smmu;
    const r = armSmmuDomainAllocPaging(k, smmu, 's1');
    if (!r.ok) return r;
    domain = r.domain;
    domain.pgtable = new PageTable(k.mem, `io-pgtable:${domain.label}`);
    k.domains.add(domain);
  }
  g.defaultDomain = domain;
  return iommuAttachGroup(k, domain, g);
}

/** iommu_domain_free() of a paging domain nobody uses any more: the driver frees its ASID (S1) or VMID (S2). */
export function freeRidDomain(k: Kernel, domain: IommuDomain): void {
  armSmmuDomainFree(k, domain);
  domain.pgtable?.destroy();
  domain.pgtable = null;
  forgetDomain(k, domain);
}

/** A fresh paging domain for a RID attach (the `attach_rid` step): DMA (S1) or S2. */
export function allocRidDomain(k: Kernel, dev: Device, type: 'dma' | 's2'): KResult<{ domain: IommuDomain }> {
  const r = armSmmuDomainAllocPaging(k, dev.smmu, type === 'dma' ? 's1' : 's2');
  if (!r.ok) return r;
  const domain = r.domain;
  if (type === 'dma') domain.pgtable = new PageTable(k.mem, `io-pgtable:${domain.label}`);
  k.domains.add(domain);
  k.dirty.domains.add(domain);
  return { ok: true, domain };
}
