/**
 * The lab's state as plain JSON: what scenario `state:` expectations query by dotted path, what the CLI prints and
 * what the renderer will draw. Names are the kernel's where a kernel engineer would look for them.
 */
import { IOMMU_PASID_INVALID } from '../sim/kernel/constants.js';
import { entryLabel } from '../sim/kernel/iommu.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import { steLabel } from '../sim/smmuv3/driver.js';

export type View = Record<string, unknown>;

const pasidOrNull = (p: number): number | null => (p === IOMMU_PASID_INVALID ? null : p);

export function stateView(k: Kernel): View {
  const devices: View = {};
  for (const d of k.devices.values()) {
    const m = d.master;
    const t = m.cdTable;
    const cds: View = {};
    if (t) for (const [ssid, cd] of [...t.cds].sort((a, b) => a[0] - b[0])) cds[ssid] = { asid: cd.asid, kind: cd.kind, owner: cd.domain.mm?.label ?? cd.domain.label, s: cd.stall, r: cd.record };
    devices[d.name] = {
      kind: d.kind,
      smmu: d.smmu.name,
      sid: d.sid,
      group: d.group.name,
      max_pasids: d.maxPasids,
      ssid_bits: m.ssidBits,
      stall_enabled: m.stallEnabled,
      ste: steLabel(m.ste),
      cd_table: t ? { fmt: t.linear ? 'linear' : '64k-l2', s1cdmax: t.s1cdmax, used_ssids: t.usedSsids, l2: [...t.l2].sort((a, b) => a - b) } : null,
      cds,
      pasid_array: pasidArrayView(d.group.pasidArray.list()),
      wqs: Object.fromEntries(d.wqs.map((w) => [w.name, { mode: w.mode, open: w.owner !== null, wqcfg_pasid: pasidOrNull(w.wqcfgPasid) }])),
      driver_ida: d.driverIda ? [...d.driverIda.ids()] : null,
    };
  }
  const groups: View = {};
  for (const g of k.groups) {
    groups[g.name] = { devices: g.devices.map((d) => d.name), domain: g.domain?.label ?? null, pasid_array: pasidArrayView(g.pasidArray.list()) };
  }
  const processes: View = {};
  for (const p of k.processes.values()) {
    const im = p.mm.iommuMm;
    processes[p.name] = {
      pid: p.pid,
      alive: p.alive,
      mm: p.mm.label,
      pasid: im ? pasidOrNull(im.pasid) : null,
      threads: Object.fromEntries([...p.threads.values()].map((t) => [t.name, { pasid_activated: t.pasidActivated, ia32_pasid: t.ia32Pasid }])),
      files: (p.alive ? p.fds : p.kept).map((f) => ({ device: f.dev.name, wq: f.wq?.name ?? null, pasid: f.pasid, bond: f.handle.label })),
    };
  }
  const mms: View = {};
  for (const mm of k.mms) {
    const im = mm.iommuMm;
    mms[mm.label] = {
      mm_users: mm.mmUsers,
      mm_count: mm.mmCount,
      pasid: im ? pasidOrNull(im.pasid) : null,
      pasid_global: im ? im.pasidGlobal : null,
      sva_domains: im ? im.svaDomains.map((d) => d.label) : [],
    };
  }
  const domains: View = {};
  for (const d of k.domains) domains[d.label] = { type: d.type, asid: d.smmuDomain?.asid ?? null, users: d.users, smmu: d.smmuDomain?.smmu.name ?? null };
  const bonds: View = {};
  for (const h of [...k.handles].sort((a, b) => a.id - b.id)) bonds[h.label] = { users: h.users, dev: h.dev.name, mm: h.domain.mm?.label ?? null, pasid: k.policy.getPasid(h), domain: h.domain.label };
  const kernel_pasids: View = {};
  for (const kp of k.kernelPasids.values()) kernel_pasids[kp.name] = { device: kp.dev.name, pasid: kp.pasid, from_ida: kp.fromIda };
  return {
    policy: k.policy.name,
    arch: k.arch,
    enqcmd: k.enqcmd,
    ida: [...k.globalPasidIda.ids()],
    asids: [...k.asidXa.ids()],
    devices,
    groups,
    processes,
    mms,
    domains,
    bonds,
    kernel_pasids,
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
