/**
 * The lab's state as plain JSON: what scenario `state:` expectations query by dotted path, what the CLI prints and
 * what the renderer will draw. Names are the kernel's where a kernel engineer would look for them.
 */
import { IOMMU_PASID_INVALID } from '../sim/kernel/constants.js';
import { entryLabel } from '../sim/kernel/iommu.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import { pprLogDetail } from '../sim/hw/priq.js';
import type { Device, IommuDomain, IommuGroup, IommuSva, MmStruct, Process } from '../sim/kernel/structs.js';
import { armSmmuCdPa, cmdText, steLabel, type ArmSmmuDevice } from '../sim/smmuv3/driver.js';
import { accelContextsView } from '../sim/devices/accel.js';

export type View = Record<string, unknown>;

const pasidOrNull = (p: number): number | null => (p === IOMMU_PASID_INVALID ? null : p);

/** One device: its master, STE, CD table and its group's pasid_array (cds and pasid_array may be large). */
export function deviceView(k: Kernel, d: Device): View {
  return { ...deviceHeader(d), cds: cdsView(d), cd_raw: cdRawsView(d), pasid_array: pasidArrayView(d.group.pasidArray.list()) };
}

function cdRawsView(d: Device): View {
  const out: View = {};
  const t = d.master.cdTable;
  if (t) for (const ssid of [...t.cds.keys()].sort((a, b) => a - b)) out[ssid] = cdRawView(d, ssid);
  return out;
}

/** A device without its per-SSID maps: what changes when its STE, CD-table shape or WQs change. */
export function deviceHeader(d: Device): View {
  const m = d.master;
  const t = m.cdTable;
  return {
    kind: d.kind,
    smmu: d.smmu.name,
    sid: d.sid,
    group: d.group.name,
    max_pasids: d.maxPasids,
    ssid_bits: m.ssidBits,
    stall_enabled: m.stallEnabled,
    driver_pasid: d.driverPasid,
    ste: steLabel(m.ste),
    /** The STE's eight 64-bit words as the SMMU reads them from memory, and where it lives. */
    ste_raw: dwords(d.smmu.mem.readWords(d.smmu.stePa(m.sid), 16)),
    ste_pa: d.smmu.stePa(m.sid),
    cd_table: t ? { fmt: t.linear ? 'linear' : '64k-l2', s1cdmax: t.s1cdmax, used_ssids: t.usedSsids, l2: t.l2 } : null,
    wqs: Object.fromEntries(d.wqs.map((w) => [w.name, { mode: w.mode, open: w.owner !== null, wqcfg_pasid: pasidOrNull(w.wqcfgPasid) }])),
    driver_ida: d.driverIda ? [...d.driverIda.ids()] : null,
    /** The accelerator's hardware contexts (platform devices with PASID support): SSID register of each one in use. */
    contexts: accelContextsView(d),
    /**
     * PCIe ATS/PRI: the capabilities, whether ATS is enabled (master->ats_enabled: PCI ATS on, STE.EATS = TRANS),
     * and the endpoint's ATC; null for a platform device.
     */
    pci: d.isPci ? { ats_cap: m.pciCaps.ats, pri_cap: m.pciCaps.pri, ats_enabled: m.atsEnabled, atc: m.atc ? { entries: m.atc.size, ...m.atc.stats } : null } : null,
  };
}

/** The valid CD at `ssid` of a device, or null. */
export function cdView(d: Device, ssid: number): View | null {
  const t = d.master.cdTable;
  const cd = t?.cds.get(ssid);
  if (!t || !cd) return null;
  const pa = armSmmuCdPa(t, ssid);
  return { asid: cd.asid, kind: cd.kind, owner: cd.domain.mm?.label ?? cd.domain.label, s: cd.stall, r: cd.record };
}

/** Where CD `ssid` lives and the bytes there, as the SMMU would read them (a CD past its table shows what it hit). */
export function cdRawView(d: Device, ssid: number): View | null {
  const t = d.master.cdTable;
  if (!t?.cds.has(ssid)) return null;
  const pa = armSmmuCdPa(t, ssid);
  return { pa, words: pa === null ? null : dwords(d.smmu.mem.readWords(pa, 16)), in_table: ssid < t.maxContexts, region: pa === null ? null : (d.smmu.mem.regionAt(pa)?.owner ?? null) };
}

/** Eight 64-bit words as hex, high half first (as the kernel prints them). */
function dwords(w: Uint32Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < w.length; i += 2) out.push('0x' + w[i + 1]!.toString(16).padStart(8, '0') + w[i]!.toString(16).padStart(8, '0'));
  return out;
}

/** Each SMMU instance: ID registers, stream table, queues and cache counters. Bounded: the last 8 commands, 4 events. */
export function smmusView(k: Kernel): View {
  const out: View = {};
  for (const s of k.smmus.values()) out[s.name] = smmuView(k, s);
  return out;
}

export function smmuView(k: Kernel, s: ArmSmmuDevice): View {
  const hw = s.hw;
  {
    return {
      idr0: hw.regs.idr0,
      idr1: hw.regs.idr1,
      idr5: hw.regs.idr5,
      /** What arm_smmu_device_hw_probe made of them (ARM_SMMU_FEAT_*), and why FEAT_SVA is clear when it is. */
      features: { ...s.features, oas: s.oas, ias: s.ias, sva_missing: s.svaMissing },
      strtab: hw.strtab,
      asid_bits: s.asidBits,
      cmdq: { issued: hw.cmdSeq, last: hw.lastCommands(8).map((c) => `${c.seq}: ${cmdText(c.cmd)}`) },
      evtq: { capacity: hw.evtq.capacity, produced: hw.evtq.produced, overflowed: hw.evtq.overflowed, pending: hw.evtq.entries.length },
      /** The PRI queue (IDR0.PRI), null without one: counters and the last 4 page requests with the driver's answer. */
      priq: hw.priq ? { capacity: hw.priq.capacity, produced: hw.priq.produced, overflowed: hw.priq.overflowed, pending: hw.priq.entries.length, last: hw.priLog.slice(-4).map((p) => ({ ...p.record, resp: p.resp, log: pprLogDetail(p.record) })) } : null,
      events: lastEvents(k, s.name, 4),
      stats: { ...hw.stats, tlb_entries: hw.tlbSize() },
    };
  }
}

function lastEvents(k: Kernel, smmu: string, n: number): View[] {
  const out: View[] = [];
  for (let i = k.smmuEvents.length - 1; i >= 0 && out.length < n; i--) {
    const e = k.smmuEvents[i]!;
    if (e.smmu === smmu) out.unshift({ ...e.record });
  }
  return out;
}

function cdsView(d: Device): View {
  const out: View = {};
  const t = d.master.cdTable;
  if (t) for (const ssid of [...t.cds.keys()].sort((a, b) => a - b)) out[ssid] = cdView(d, ssid);
  return out;
}

export function groupView(g: IommuGroup): View {
  return { devices: g.devices.map((d) => d.name), domain: g.domain?.label ?? null, pasid_array: pasidArrayView(g.pasidArray.list()) };
}

export function processView(p: Process): View {
  const im = p.mm.iommuMm;
  return {
    pid: p.pid,
    alive: p.alive,
    mm: p.mm.label,
    pasid: im ? pasidOrNull(im.pasid) : null,
    threads: Object.fromEntries([...p.threads.values()].map((t) => [t.name, { pasid_activated: t.pasidActivated, ia32_pasid: t.ia32Pasid }])),
    files: (p.alive ? p.fds : p.kept).map((f) => ({ device: f.dev.name, wq: f.wq?.name ?? null, pasid: f.pasid, bond: f.handle.label })),
  };
}

/** An mm, or null once __mmdrop freed it. */
export function mmView(mm: MmStruct): View | null {
  if (mm.freed) return null;
  const im = mm.iommuMm;
  return {
    mm_users: mm.mmUsers,
    mm_count: mm.mmCount,
    pasid: im ? pasidOrNull(im.pasid) : null,
    pasid_global: im ? im.pasidGlobal : null,
    sva_domains: im ? im.svaDomainList().map((d) => d.label) : [],
  };
}

/** A domain, or null once freed. */
export function domainView(d: IommuDomain): View | null {
  return d.freed ? null : { type: d.type, asid: d.smmuDomain?.asid ?? null, users: d.users, smmu: d.smmuDomain?.smmu.name ?? null };
}

/** A bond, or null once its last user is gone. */
export function bondView(k: Kernel, h: IommuSva): View | null {
  return k.handles.has(h) ? { users: h.users, dev: h.dev.name, mm: h.domain.mm?.label ?? null, pasid: k.policy.getPasid(h), domain: h.domain.label } : null;
}

export function kernelPasidsView(k: Kernel): View {
  const out: View = {};
  for (const kp of k.kernelPasids.values()) out[kp.name] = { device: kp.dev.name, pasid: kp.pasid, from_ida: kp.fromIda, source: kp.source };
  return out;
}

/** The whole state. O(state): for scenario checks, the shell and first renders; steps report what they touched. */
export function stateView(k: Kernel): View {
  const devices: View = {};
  for (const d of k.devices.values()) devices[d.name] = deviceView(k, d);
  const groups: View = {};
  for (const g of k.groups) groups[g.name] = groupView(g);
  const processes: View = {};
  for (const p of k.processes.values()) processes[p.name] = processView(p);
  const mms: View = {};
  for (const mm of k.mms) mms[mm.label] = mmView(mm);
  const domains: View = {};
  for (const d of k.domains) domains[d.label] = domainView(d);
  const bonds: View = {};
  for (const h of k.handles) bonds[h.label] = bondView(k, h); // in id order
  return {
    policy: k.policy.name,
    arch: k.arch,
    enqcmd: k.enqcmd,
    ida: [...k.globalPasidIda.ids()],
    asids: [...k.asidXa.ids()],
    smmus: smmusView(k),
    devices,
    groups,
    processes,
    mms,
    domains,
    bonds,
    kernel_pasids: kernelPasidsView(k),
  };
}

function pasidArrayView(list: [number, Parameters<typeof entryLabel>[0]][]): View {
  const o: View = {};
  for (const [p, e] of list) o[p] = entryLabel(e);
  return o;
}

/** Looks a dotted path up in a view: `devices.small.cds.1.asid`. Undefined when any segment is missing. */
export function lookup(view: unknown, path: string): unknown {
  let cur: unknown = view;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}
