/**
 * Compact diffs of the lab's state view (shared/contract.ts `Patch`): what a step (or an undo) changed, built in
 * O(what it touched) from the step's Touched sets and the per-entity view builders of view.ts, never from the whole
 * state. Applying a step's patch to the view before the step gives exactly stateView() after it (test/host/patch).
 *
 * Entities are named, not held: a patch lists the names of what may have changed and each is looked up in the
 * current kernel (present: its view is set; gone: its key deleted). So the same builder serves an undo, whose
 * kernel is a fresh replay: refreshing what the undone step touched brings a client back to the previous state.
 */
import type { Patch, PatchOp, View } from '../../shared/contract.js';
import type { Op } from '../../shared/steps.js';
import type { StepResult } from '../../shared/results.js';
import { entryLabel } from '../sim/kernel/iommu.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import type { IommuDomain, IommuGroup, IommuSva, KernelPasid, MmStruct } from '../sim/kernel/structs.js';
import type { Touched } from './lab.js';
import { bondView, cdRawView, cdView, deviceHeader, domainView, groupView, kernelPasidsView, mmView, processView, smmuView } from './view.js';

/** What to refresh, by name: the Touched sets of a step plus what its operation names (see touchedNames). */
export interface TouchedNames {
  devices: Set<string>;
  groups: Set<string>;
  processes: Set<string>;
  mms: Set<string>;
  domains: Set<string>;
  bonds: Set<string>;
  kernelPasids: Set<string>;
  pasids: Set<number>;
  asids: Set<number>;
  /** "group\0pasid" and "device\0ssid" keys. */
  slots: Map<string, Set<number>>;
  cds: Map<string, Set<number>>;
}

export function emptyNames(): TouchedNames {
  return { devices: new Set(), groups: new Set(), processes: new Set(), mms: new Set(), domains: new Set(), bonds: new Set(), kernelPasids: new Set(), pasids: new Set(), asids: new Set(), slots: new Map(), cds: new Map() };
}

/**
 * The devices an operation can change without its Touched sets saying so: the device it names (an idxd WQ opened
 * or closed changes the device header's `wqs`) and the devices of the files its processes hold. Called before the
 * step (files an exit or unbind will close) and after it (files a fork or bind opened).
 */
export function opDevices(k: Kernel, op: Op, into: Set<string>): void {
  const a = op.args as Record<string, unknown>;
  if (typeof a.device === 'string' && k.devices.has(a.device)) into.add(a.device);
  for (const key of ['process', 'child'] as const) {
    const name = a[key];
    if (typeof name !== 'string') continue;
    const p = k.processes.get(name);
    if (p) for (const f of [...p.fds, ...p.kept]) into.add(f.dev.name);
  }
}

/** Adds a step's Touched sets, its operation's devices and its kernel PASID name to `n`. */
export function addTouched(n: TouchedNames, t: Touched, op: Op, result: StepResult): void {
  for (const d of t.devices) n.devices.add(d);
  for (const g of t.groups) n.groups.add(g);
  for (const p of t.processes) n.processes.add(p);
  for (const mm of t.mms) {
    n.mms.add(mm.label);
    n.processes.add(mm.owner.name); // processView shows its mm's label and PASID
  }
  for (const d of t.domains) {
    n.domains.add(d.label);
    if (d.smmuDomain) n.asids.add(d.smmuDomain.asid);
  }
  for (const h of t.bonds) n.bonds.add(h.label);
  for (const p of t.pasids) n.pasids.add(p);
  for (const [g, p] of t.slots) addTo(n.slots, g, p);
  for (const [d, s] of t.cds) addTo(n.cds, d, s);
  if (op.op === 'free_global_pasid') n.kernelPasids.add(op.args.name);
  if ((op.op === 'alloc_global_pasid' || op.op === 'attach_kernel_pasid') && result.detail) n.kernelPasids.add(result.detail);
}

function addTo(m: Map<string, Set<number>>, k: string, v: number): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

/**
 * How to find a named mm, domain or bond in the current kernel. A step passes the objects it touched (O(touched));
 * an undo passes indexes of the rebuilt kernel (built once, O(state), like the replay itself).
 */
export interface Resolver {
  mm(label: string): MmStruct | undefined;
  domain(label: string): IommuDomain | undefined;
  bond(label: string): IommuSva | undefined;
}

/** A resolver over the objects a step touched; an object no longer live in `k` resolves to nothing. */
export function touchedResolver(k: Kernel, t: Touched): Resolver {
  const mms = new Map<string, MmStruct>();
  for (const mm of t.mms) if (k.mms.has(mm)) mms.set(mm.label, mm);
  const domains = new Map<string, IommuDomain>();
  for (const d of t.domains) if (k.domains.has(d)) domains.set(d.label, d);
  const bonds = new Map<string, IommuSva>();
  for (const h of t.bonds) if (k.handles.has(h)) bonds.set(h.label, h);
  return { mm: (l) => mms.get(l), domain: (l) => domains.get(l), bond: (l) => bonds.get(l) };
}

/** A resolver over the whole kernel (for an undo). */
export function kernelResolver(k: Kernel): Resolver {
  const mms = new Map([...k.mms].map((m) => [m.label, m]));
  const domains = new Map([...k.domains].map((d) => [d.label, d]));
  const bonds = new Map([...k.handles].map((h) => [h.label, h]));
  return { mm: (l) => mms.get(l), domain: (l) => domains.get(l), bond: (l) => bonds.get(l) };
}

const groupIndex = new WeakMap<Kernel, { n: number; byName: Map<string, IommuGroup> }>();

function groupByName(k: Kernel, name: string): IommuGroup | undefined {
  let ix = groupIndex.get(k);
  if (!ix || ix.n !== k.groups.length) {
    ix = { n: k.groups.length, byName: new Map(k.groups.map((g) => [g.name, g])) };
    groupIndex.set(k, ix);
  }
  return ix.byName.get(name);
}

/**
 * The group's fields other than its pasid_array: groupView over a stand-in whose pasid_array is empty, so the
 * fields stay whatever view.ts says they are without paying O(entries).
 */
function groupHeader(g: IommuGroup): View {
  const standIn = { devices: g.devices, domain: g.domain, pasidArray: { list: () => [] } } as unknown as IommuGroup;
  const v = groupView(standIn);
  delete v.pasid_array;
  return v;
}

/** One kernel PASID's view: kernelPasidsView over a stand-in kernel holding only it (O(1), same fields). */
function kernelPasidView(kp: KernelPasid): unknown {
  return kernelPasidsView({ kernelPasids: new Map([[kp.name, kp]]) } as unknown as Kernel)[kp.name];
}

/** The patch refreshing everything `n` names, read from `k`. `steps` is filled in by the caller. */
/** The last SMMU summary each hardware instance sent; a rebuilt kernel has new instances and resends. */
const lastSmmuSig = new WeakMap<object, string>();

export function buildPatch(k: Kernel, n: TouchedNames, r: Resolver): Omit<Patch, 'steps'> {
  const ops: PatchOp[] = [];
  const set = (path: string[], value: unknown): void => void ops.push({ op: 'set', path, value });
  const del = (path: string[]): void => void ops.push({ op: 'del', path });

  // An SMMU's summary is small and bounded (counters, the last commands and events): sent when it changed.
  for (const s of k.smmus.values()) {
    const v = smmuView(k, s);
    const sig = JSON.stringify(v);
    if (lastSmmuSig.get(s.hw) !== sig) {
      lastSmmuSig.set(s.hw, sig);
      set(['smmus', s.name], v);
    }
  }
  for (const name of n.devices) {
    const d = k.devices.get(name);
    if (!d) continue; // devices exist from boot to the end
    for (const [key, v] of Object.entries(deviceHeader(d))) set(['devices', name, key], v);
  }
  for (const [name, ssids] of n.cds) {
    const d = k.devices.get(name);
    if (!d) continue;
    for (const ssid of ssids) {
      const v = cdView(d, ssid);
      if (v) set(['devices', name, 'cds', String(ssid)], v);
      else del(['devices', name, 'cds', String(ssid)]);
      const raw = cdRawView(d, ssid);
      if (raw) set(['devices', name, 'cd_raw', String(ssid)], raw);
      else del(['devices', name, 'cd_raw', String(ssid)]);
    }
  }
  for (const name of n.groups) {
    const g = groupByName(k, name);
    if (!g) continue;
    for (const [key, v] of Object.entries(groupHeader(g))) set(['groups', name, key], v);
  }
  for (const [name, pasids] of n.slots) {
    const g = groupByName(k, name);
    if (!g) continue;
    for (const p of pasids) {
      const e = g.pasidArray.raw(p);
      const at = String(p);
      const label = e ? entryLabel(e) : undefined;
      const put = (path: string[]): void => (label !== undefined ? set(path, label) : del(path));
      put(['groups', name, 'pasid_array', at]);
      for (const d of g.devices) put(['devices', d.name, 'pasid_array', at]);
    }
  }
  for (const name of n.processes) {
    const p = k.processes.get(name);
    if (p) set(['processes', name], processView(p));
    else del(['processes', name]);
  }
  for (const label of n.mms) {
    const mm = r.mm(label);
    if (mm && k.mms.has(mm)) set(['mms', label], mmView(mm));
    else del(['mms', label]);
  }
  for (const label of n.domains) {
    const d = r.domain(label);
    if (d && k.domains.has(d)) set(['domains', label], domainView(d));
    else del(['domains', label]);
  }
  for (const label of n.bonds) {
    const h = r.bond(label);
    if (h && k.handles.has(h)) set(['bonds', label], bondView(k, h));
    else del(['bonds', label]);
  }
  for (const name of n.kernelPasids) {
    const kp = k.kernelPasids.get(name);
    if (kp) set(['kernel_pasids', name], kernelPasidView(kp));
    else del(['kernel_pasids', name]);
  }
  const ida = { set: [] as number[], clear: [] as number[] };
  for (const p of n.pasids) (k.globalPasidIda.has(p) ? ida.set : ida.clear).push(p);
  const asids = { set: [] as number[], clear: [] as number[] };
  for (const a of n.asids) (k.asidXa.has(a) ? asids.set : asids.clear).push(a);
  return {
    ops,
    ida,
    asids,
    changed: { devices: [...n.devices], processes: [...n.processes], pasids: [...n.pasids] },
  };
}
