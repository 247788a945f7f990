/**
 * The SoC configuration: the contract between the lab (main) and whoever configures it (scenario files, the CLI,
 * the renderer). One zod schema validates every configuration that comes from outside.
 */
import { z } from 'zod';

/** Names never contain '.', so that a dotted path into the state view (`devices.small.max_pasids`) is unambiguous. */
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
export const Name = z.string().regex(NAME_RE, 'a name: a letter or _, then letters, digits, _ or - (at most 64)');

/** SMMU_IDR5.OAS encodings the architecture defines, in bits (0b000..0b110). */
export const OAS_BITS = [32, 36, 40, 42, 44, 48, 52] as const;
export type OasBits = (typeof OAS_BITS)[number];

/** IDR0.ST_LEVEL: '2lvl' (0b01, 2-level stream tables supported) or 'linear' (0b00, linear only). */
export const ST_LEVELS = ['2lvl', 'linear'] as const;

/** The largest linear stream table the driver can allocate: 2^16 STEs, 4 MiB, one MAX_PAGE_ORDER allocation [I]. */
export const MAX_LINEAR_STRTAB_SID_BITS = 16;

export const SmmuConfig = z
  .object({
    name: Name,
    /** IDR1.SSIDSIZE: SubstreamID bits, 0..20. */
    ssidsize: z.int().min(0).max(20).default(20),
    /** IDR1.SIDSIZE: StreamID bits. */
    sidsize: z.int().min(1).max(32).default(16),
    /** IDR0.CD2L: 2-level CD tables. */
    cd2l: z.boolean().default(true),
    /** IDR0.ASID16: 16-bit ASIDs (else 8). */
    asid16: z.boolean().default(true),
    /** IDR0.STALL_MODEL: true = stall supported, false = none, 'force' = stall forced. */
    stall: z.union([z.boolean(), z.literal('force')]).default(true),
    /** arm_smmu_sva_supported(): FEAT_SVA. */
    sva: z.boolean().default(true),
    /** rfc-v1 only: whether this IOMMU's driver answers IOMMU_CAP_PER_DEV_PASID_SPACE (the RFC patches arm-smmu-v3 to say yes). */
    rfc_cap: z.boolean().default(true),
    // The four ID register fields below are optional rather than defaulted, so that code building an SmmuConfig
    // by hand (the renderer's editor) need not name them; absent means the default in SMMU_DEFAULTS.
    /** IDR0.ST_LEVEL: '2lvl' = 2-level stream tables supported (used when SIDSIZE > 8), 'linear' = linear only. Default '2lvl'. */
    st_level: z.enum(ST_LEVELS, { error: "st_level is '2lvl' (IDR0.ST_LEVEL = 0b01) or 'linear' (0b00)" }).optional(),
    /** IDR5.OAS: output address size in bits, one of 32, 36, 40, 42, 44, 48, 52. Default 48. */
    oas: z.literal(OAS_BITS, { error: `oas is an SMMU_IDR5.OAS size in bits: one of ${OAS_BITS.join(', ')}` }).optional(),
    /** IDR0.ATS: the SMMU accepts PCIe ATS Translation Requests (ARM_SMMU_FEAT_ATS). Default false. */
    ats: z.boolean().optional(),
    /** IDR0.PRI: the SMMU has a PRI queue for PCIe Page Requests (ARM_SMMU_FEAT_PRI). Default false. */
    pri: z.boolean().optional(),
  })
  .strict();

export const DEVICE_KINDS = ['platform', 'pci', 'dsa', 'iaa'] as const;
export const RID_DOMAINS = ['dma', 'identity', 'blocked', 's2'] as const;

export const WqConfig = z.object({ name: Name, mode: z.enum(['dedicated', 'shared']) }).strict();

export const DeviceConfig = z
  .object({
    name: Name,
    /** platform (firmware "pasid-num-bits"), pci (PCI PASID capability), dsa and iaa (idxd PCI devices). */
    kind: z.enum(DEVICE_KINDS).default('platform'),
    smmu: Name,
    sid: z.int().min(0).max(0xffffffff),
    /** PASID width: "pasid-num-bits" or the PCI PASID capability width, 0..20. Absent: no PASID support. */
    pasid_bits: z.int().min(0).max(20).optional(),
    /** Firmware "dma-can-stall" (platform devices). */
    stall: z.boolean().default(false),
    /** Its driver owns its PASID space (matters under the driver-pasid policy). */
    driver_pasid: z.boolean().default(false),
    /** dsa/iaa: take the idxd kernel PASID at probe, before the first step. */
    kernel_pasid: z.boolean().default(false),
    /** The RID domain at probe: dma (the default domain), identity (iommu.passthrough) or blocked. */
    rid_domain: z.enum(['dma', 'identity', 'blocked']).default('dma'),
    /** dsa/iaa work queues. Default: wq0 shared and wq1 dedicated. */
    wqs: z.array(WqConfig).max(64).optional(),
    /**
     * PCI (pci, dsa, iaa): an ATS capability, behind a root complex that supports ATS (IORT's
     * IOMMU_FWSPEC_PCI_RC_ATS). The driver enables it when the SMMU has IDR0.ATS (arm_smmu_ats_supported).
     * Optional (default false), like `pri`.
     */
    ats: z.boolean().optional(),
    /**
     * PCI: a PRI capability that is enabled (by firmware or a device driver: mainline arm-smmu-v3 never enables
     * it). A failed ATS Translation Request is followed by a Page Request to the SMMU's PRI queue. Needs `ats`.
     */
    pri: z.boolean().optional(),
  })
  .strict();

export const SocConfig = z
  .object({
    /** arm64 or x86. x86 has ENQCMD. */
    arch: z.enum(['arm64', 'x86']).default('arm64'),
    /** Override: whether the arch has an ENQCMD-like instruction (an arm64 SoC loading ACCDATA_EL1 from the mm's PASID). */
    enqcmd: z.boolean().optional(),
    smmus: z.array(SmmuConfig).min(1).max(64),
    devices: z.array(DeviceConfig).max(4096).default([]),
    /** Devices that share one IOMMU group (PCI functions without ACS isolation). */
    groups: z.array(z.array(Name).min(2)).default([]),
  })
  .strict();

/** What an absent `st_level`, `oas`, `ats` or `pri` of an SMMU means: the SMMU of every scenario before them. */
export const SMMU_DEFAULTS = { st_level: '2lvl', oas: 48, ats: false, pri: false } as const satisfies Partial<z.infer<typeof SmmuConfig>>;

export type SmmuConfig = z.infer<typeof SmmuConfig>;
export type DeviceConfig = z.infer<typeof DeviceConfig>;
export type SocConfig = z.infer<typeof SocConfig>;
export type SocConfigInput = z.input<typeof SocConfig>;

/**
 * Cross-reference checks the schema cannot express. Returns messages with the path they concern.
 */
export function socConfigProblems(soc: SocConfig): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const smmus = new Map<string, SmmuConfig>();
  soc.smmus.forEach((s, i) => {
    if (smmus.has(s.name)) out.push({ path: `soc.smmus[${i}].name`, message: `duplicate SMMU name '${s.name}'` });
    smmus.set(s.name, s);
    if ((s.st_level ?? SMMU_DEFAULTS.st_level) === 'linear' && s.sidsize > MAX_LINEAR_STRTAB_SID_BITS) {
      const mib = 2 ** (s.sidsize + 6 - 20);
      out.push({
        path: `soc.smmus[${i}].st_level`,
        message: `a linear stream table for ${s.sidsize} SID bits is 2^${s.sidsize} STEs (${mib} MiB); arm_smmu_init_strtab_linear cannot allocate more than 2^${MAX_LINEAR_STRTAB_SID_BITS} (4 MiB): the SMMU would fail to probe with -ENOMEM. Lower sidsize or use st_level: 2lvl`,
      });
    }
  });
  const devs = new Map<string, DeviceConfig>();
  const sids = new Map<string, string>();
  soc.devices.forEach((d, i) => {
    const at = `soc.devices[${i}]`;
    if (devs.has(d.name)) out.push({ path: `${at}.name`, message: `duplicate device name '${d.name}'` });
    devs.set(d.name, d);
    const s = smmus.get(d.smmu);
    if (!s) out.push({ path: `${at}.smmu`, message: `unknown SMMU '${d.smmu}' (known: ${[...smmus.keys()].join(', ')})` });
    else {
      if (d.sid >= 2 ** s.sidsize) out.push({ path: `${at}.sid`, message: `SID 0x${d.sid.toString(16)} does not fit ${s.name}'s ${s.sidsize}-bit stream table (arm_smmu_insert_master: -ERANGE)` });
      const key = `${d.smmu}:${d.sid}`;
      const other = sids.get(key);
      if (other) out.push({ path: `${at}.sid`, message: `SID 0x${d.sid.toString(16)} on ${d.smmu} is already used by '${other}'` });
      sids.set(key, d.name);
    }
    if (d.kind === 'platform' && d.wqs) out.push({ path: `${at}.wqs`, message: 'work queues exist only on dsa/iaa devices' });
    if (d.kernel_pasid && d.kind !== 'dsa' && d.kind !== 'iaa') out.push({ path: `${at}.kernel_pasid`, message: 'kernel_pasid is for dsa/iaa devices (idxd)' });
    if (d.stall && d.kind !== 'platform') out.push({ path: `${at}.stall`, message: '"dma-can-stall" is a firmware property of platform devices; PCI devices use PRI' });
    if (d.ats && d.kind === 'platform') out.push({ path: `${at}.ats`, message: `ATS is a PCIe capability; '${d.name}' is a platform device (give it kind: pci, dsa or iaa)` });
    if (d.pri && d.kind === 'platform') out.push({ path: `${at}.pri`, message: `PRI is a PCIe capability; '${d.name}' is a platform device (platform devices stall instead: stall: true)` });
    else if (d.pri && !d.ats) out.push({ path: `${at}.pri`, message: `PRI needs ATS: a Page Request follows a failed ATS Translation Request; give '${d.name}' ats: true` });
    if (d.wqs) {
      const seen = new Set<string>();
      d.wqs.forEach((w, j) => {
        if (seen.has(w.name)) out.push({ path: `${at}.wqs[${j}].name`, message: `duplicate WQ name '${w.name}'` });
        seen.add(w.name);
      });
    }
  });
  const grouped = new Map<string, number>();
  soc.groups.forEach((g, i) => {
    const smmu = new Set<string>();
    g.forEach((n, j) => {
      const d = devs.get(n);
      const at = `soc.groups[${i}][${j}]`;
      if (!d) return void out.push({ path: at, message: `unknown device '${n}'` });
      if (d.kind === 'platform') out.push({ path: at, message: `'${n}' is a platform device: it always gets its own group (generic_device_group)` });
      if (grouped.has(n)) out.push({ path: at, message: `'${n}' is already in group ${grouped.get(n)}` });
      grouped.set(n, i);
      smmu.add(d.smmu);
    });
    if (smmu.size > 1) out.push({ path: `soc.groups[${i}]`, message: 'devices of one group must sit behind one SMMU' });
  });
  return out;
}
