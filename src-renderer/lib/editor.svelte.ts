/**
 * The SoC editor's draft: a copy of the lab's configuration that the person edits, checked locally on every change
 * with the same schema and cross-reference checks the main side uses (shared/soc-config.ts), and applied with
 * lab.configure. Errors are kept by dotted path (`soc.devices[0].sid`), the format the host reports them in, so that
 * each field shows the error that names it.
 */
import { SocConfig, socConfigProblems, type DeviceConfig, type SmmuConfig, type SocConfigInput } from '../../shared/soc-config.js';
import { POLICY_NAMES, type PolicyName } from '../../shared/steps.js';

/** A device as the editor holds it: the configuration plus its group label (groups are lists of names in the SoC). */
export type DraftDevice = Omit<DeviceConfig, 'pasid_bits'> & { pasid_bits: number | undefined; groupLabel: string };

export interface Draft {
  arch: 'arm64' | 'x86';
  /** 'auto': from arch (x86 has ENQCMD); otherwise the override. */
  enqcmd: 'auto' | 'yes' | 'no';
  smmus: SmmuConfig[];
  devices: DraftDevice[];
}

/** Usable SSIDs for SVA with a PASID width: 2^bits - 1 (SSID 0 is the RID's), 0 without PASID support. */
export function usableSsids(bits: number | undefined): number {
  return bits === undefined ? 0 : 2 ** bits - 1;
}

/** The slider's position for a width: -1 stands for "none". */
export const NO_PASID = -1;

export function draftFrom(soc: SocConfig): Draft {
  const label = new Map<string, string>();
  soc.groups.forEach((g, i) => g.forEach((n) => label.set(n, `g${i}`)));
  return {
    arch: soc.arch,
    enqcmd: soc.enqcmd === undefined ? 'auto' : soc.enqcmd ? 'yes' : 'no',
    smmus: soc.smmus.map((s) => ({ ...s })),
    devices: soc.devices.map((d) => ({ ...d, wqs: d.wqs?.map((w) => ({ ...w })), pasid_bits: d.pasid_bits, groupLabel: label.get(d.name) ?? '' })),
  };
}

/** The configuration a draft stands for (input form: lab.configure applies the defaults). */
export function socFrom(d: Draft): SocConfigInput {
  const groups = new Map<string, string[]>();
  for (const dev of d.devices) {
    const g = dev.groupLabel.trim();
    if (!g) continue;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(dev.name);
  }
  const soc: SocConfigInput = {
    arch: d.arch,
    smmus: d.smmus.map((s) => ({ ...s })),
    devices: d.devices.map(({ groupLabel: _g, pasid_bits, wqs, ...rest }) => {
      const out: DeviceConfig = { ...rest } as DeviceConfig;
      if (pasid_bits !== undefined) out.pasid_bits = pasid_bits;
      if (wqs && (rest.kind === 'dsa' || rest.kind === 'iaa')) out.wqs = wqs.map((w) => ({ ...w }));
      return out;
    }),
    // A label on one device groups nothing; checkDraft reports it at that device (Apply stays disabled).
    groups: [...groups.values()].filter((g) => g.length > 1),
  };
  if (d.enqcmd !== 'auto') soc.enqcmd = d.enqcmd === 'yes';
  return soc;
}

function zodPath(path: readonly PropertyKey[]): string {
  let s = 'soc';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return s;
}

/** Local check: schema then cross-references. Map of dotted path -> message. */
export function checkDraft(d: Draft): Map<string, string> {
  const out = new Map<string, string>();
  const soc = socFrom(d);
  const r = SocConfig.safeParse(soc);
  if (!r.success) {
    for (const i of r.error.issues) {
      const p = zodPath(i.path);
      if (!out.has(p)) out.set(p, i.message);
    }
  } else for (const p of socConfigProblems(r.data)) if (!out.has(p.path)) out.set(p.path, p.message);
  // A group label on a single device groups nothing: say so at that device rather than dropping it silently.
  const counts = new Map<string, number>();
  for (const dev of d.devices) if (dev.groupLabel.trim()) counts.set(dev.groupLabel.trim(), (counts.get(dev.groupLabel.trim()) ?? 0) + 1);
  d.devices.forEach((dev, i) => {
    const g = dev.groupLabel.trim();
    if (g && counts.get(g) === 1) out.set(`soc.devices[${i}].group`, `group '${g}' has only this device; a group needs two or more`);
  });
  // Group problems are reported at soc.groups[i][j]: show them at the device they name.
  const groupsOut = soc.groups ?? [];
  for (const [path, msg] of [...out]) {
    const m = /^soc\.groups\[(\d+)\](?:\[(\d+)\])?$/.exec(path);
    if (!m) continue;
    const names = m[2] !== undefined ? [groupsOut[Number(m[1])]?.[Number(m[2])]] : (groupsOut[Number(m[1])] ?? []);
    for (const n of names) {
      const i = d.devices.findIndex((x) => x.name === n);
      if (i >= 0) out.set(`soc.devices[${i}].group`, msg);
    }
  }
  return out;
}

export class SocEditor {
  draft = $state<Draft>({ arch: 'arm64', enqcmd: 'auto', smmus: [], devices: [] });
  policy = $state<PolicyName>('mainline');
  /** Errors the host returned for the last apply, by path. Cleared when the draft changes. */
  hostErrors = $state.raw<Map<string, string>>(new Map());
  /** A host error without a path (or one the editor has no field for). */
  hostMessage = $state<string | null>(null);
  applying = $state(false);
  /** The configuration the draft was last loaded from, to tell whether it was edited. */
  private base = $state.raw<string>('');
  private basePolicy = $state<PolicyName>('mainline');

  readonly localErrors = $derived(checkDraft(this.draft));
  readonly dirty = $derived(JSON.stringify(socFrom(this.draft)) !== this.base || this.policy !== this.basePolicy);

  /** Loads the lab's configuration into the draft (after a snapshot). */
  load(soc: SocConfig, policy: PolicyName): void {
    this.draft = draftFrom(soc);
    this.policy = policy;
    this.base = JSON.stringify(socFrom(this.draft));
    this.basePolicy = policy;
    this.hostErrors = new Map();
    this.hostMessage = null;
  }

  /** Puts a configuration in the draft without applying it (the editor then shows it as edited). */
  loadDraft(soc: SocConfig): void {
    this.draft = draftFrom(soc);
    this.edited();
  }

  /** The error to show next to a field: the host's if it named this field, else the local check's. */
  error(path: string): string | undefined {
    return this.hostErrors.get(path) ?? this.localErrors.get(path);
  }

  /** Errors that have no field in the editor (e.g. soc.smmus when there is none). */
  get unplaced(): [string, string][] {
    const known = (p: string): boolean => /^soc\.(arch|enqcmd|smmus\[\d+\]\.\w+|devices\[\d+\]\.\w+)$/.test(p);
    return [...this.localErrors, ...this.hostErrors].filter(([p]) => !known(p));
  }

  get canApply(): boolean {
    return this.localErrors.size === 0 && !this.applying;
  }

  edited(): void {
    if (this.hostErrors.size || this.hostMessage) {
      this.hostErrors = new Map();
      this.hostMessage = null;
    }
  }

  addDevice(kind: DraftDevice['kind'] = 'platform'): void {
    const smmu = this.draft.smmus[0]?.name ?? 'smmu0';
    const used = new Set(this.draft.devices.map((d) => d.sid));
    let sid = 0x200;
    while (used.has(sid)) sid += 8;
    let n = this.draft.devices.length;
    while (this.draft.devices.some((d) => d.name === `dev${n}`)) n++;
    this.draft.devices.push({ name: `dev${n}`, kind, smmu, sid, pasid_bits: 20, stall: false, driver_pasid: false, kernel_pasid: false, rid_domain: 'dma', groupLabel: '' });
    this.edited();
  }

  removeDevice(i: number): void {
    this.draft.devices.splice(i, 1);
    this.edited();
  }

  addSmmu(): void {
    let n = this.draft.smmus.length;
    while (this.draft.smmus.some((s) => s.name === `smmu${n}`)) n++;
    this.draft.smmus.push({ name: `smmu${n}`, ssidsize: 20, sidsize: 16, cd2l: true, asid16: true, stall: true, sva: true, rfc_cap: true });
    this.edited();
  }

  removeSmmu(i: number): void {
    this.draft.smmus.splice(i, 1);
    this.edited();
  }

  /** Records the host's answer to lab.configure. */
  hostError(e: { message: string; path?: string; problems?: { path: string; message: string }[] }): void {
    const m = new Map<string, string>();
    for (const p of e.problems ?? []) if (p.path && !m.has(p.path)) m.set(p.path, p.message);
    if (e.path && !m.has(e.path)) m.set(e.path, e.message);
    this.hostErrors = m;
    this.hostMessage = m.size ? null : e.message;
  }
}

export { POLICY_NAMES };
