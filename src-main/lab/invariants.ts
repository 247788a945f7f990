/**
 * The invariant checker. After each step it re-verifies what the step touched (the kernel's dirty sets), so a step
 * costs what it changed and not the size of the whole state. `markAll` makes everything dirty for a full check
 * (used after boot and by the tests that compare incremental against full checking).
 *
 * Each violation names a subject; the lab keeps the open ones and reports a violation once, at the step that
 * caused it, and forgets it when a later check of the same subject passes.
 */
import type { InvariantName } from '../../shared/results.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import type { IommuDomain, IommuGroup, IommuSva, MmStruct, OpenFile, PasidEntry } from '../sim/kernel/structs.js';
import type { ArmSmmuMaster } from '../sim/smmuv3/driver.js';
import { stepRef } from '../sim/devices/isolation.js';

export interface Violation {
  invariant: InvariantName;
  subject: string;
  message: string;
}

export interface CheckResult {
  violations: Violation[];
  /**
   * Every subject examined, violated or not: open violations of these that are not in `violations` are resolved. Null
   * when the caller said it has no open violation to resolve (the subjects' names are then not even written).
   */
  checked: Set<string> | null;
}

/**
 * The subjects violations name, by which the lab resolves open ones. Written only for a violation, or when the caller
 * asked for the subjects examined (checkDirty's `subjects`).
 */
const pasidSubject = (p: number): string => `pasid:${p}`;
const slotSubject = (g: IommuGroup, p: number): string => `${g.label}[${p}]`;
const usedSubject = (m: ArmSmmuMaster): string => `${m.label}/used_ssids`;
const handleSubject = (h: IommuSva): string => `handle:${h.label}`;
const fileSubject = (f: OpenFile): string => `file:${f.label}`;
const mmSubject = (mm: MmStruct): string => `mm:${mm.label}`;
const cdSubject = (m: ArmSmmuMaster, ssid: number): string => `${m.label}/cd[${ssid}]`;
const domainSubject = (d: IommuDomain): string => `domain:${d.label}`;

/** Marks every object dirty so that the next check examines the whole state. */
export function markAll(k: Kernel): void {
  const d = k.dirty;
  for (const g of k.groups) {
    d.groups.add(g);
    for (const [p] of g.pasidArray.list()) d.slot(g, p);
    for (const dev of g.devices) {
      d.masters.add(dev.master);
      for (const ssid of dev.master.cdTable?.cds.keys() ?? []) d.cd(dev.master, ssid);
    }
  }
  for (const mm of k.mms) d.mms.add(mm);
  for (const dom of k.domains) d.domains.add(dom);
  for (const h of k.handles) d.handles.add(h);
  for (const p of k.processes.values()) d.processes.add(p);
  for (const id of k.globalPasidIda.ids()) d.pasids.add(id);
  for (const p of k.mmsByPasid.keys()) d.pasids.add(p);
  for (const p of k.groupsByPasid.keys()) d.pasids.add(p);
}

function ownerOf(e: PasidEntry | undefined): MmStruct | string | null {
  if (!e || e.tag === 'ZERO') return null;
  if (e.tag === 'HANDLE') return e.handle.domain.mm;
  return e.owner ? e.owner.label : e.domain.label;
}

function who(o: MmStruct | string | null): string {
  return o === null ? 'nothing' : typeof o === 'string' ? o : o.label;
}

/**
 * Checks everything the kernel marked dirty since the last check, then clears the marks. `subjects`: whether to
 * return the subjects examined (`checked`); a lab with no open violation has none to resolve and passes false, so
 * that a clean step writes no subject names at all (a violation still names its subject).
 */
export function checkDirty(k: Kernel, subjects = true): CheckResult {
  const out: Violation[] = [];
  const checked = subjects ? new Set<string>() : null;
  const v = (invariant: InvariantName, subject: string, message: string): void => {
    out.push({ invariant, subject, message });
  };
  const d = k.dirty;

  // --- global PASID ownership -----------------------------------------------------------------------------
  for (const p of d.pasids) {
    if (p < 0 || p >= 1 << 20) continue;
    checked?.add(pasidSubject(p)); // ?. skips the argument too: no name is written without `checked`
    const owners: (MmStruct | string)[] = [];
    for (const mm of k.mmsByPasid.get(p) ?? []) if (mm.iommuMm?.pasidGlobal && !mm.freed) owners.push(mm);
    for (const kp of k.kernelPasidsByPasid.get(p) ?? []) if (kp.fromIda) owners.push(kp.label);
    const allocated = k.globalPasidIda.has(p);
    if (allocated && owners.length === 0) v('ida-owner', pasidSubject(p), `PASID ${p} is allocated in the global IDA but nobody holds it (leaked)`);
    else if (allocated && owners.length > 1) v('ida-owner', pasidSubject(p), `PASID ${p} is held by ${owners.map(who).join(' and ')}`);
    else if (!allocated && owners.length > 0) v('ida-owner', pasidSubject(p), `${owners.map(who).join(', ')} holds PASID ${p}, which the global IDA says is free`);

    if (allocated && owners.length === 1) {
      const owner = owners[0]!;
      for (const g of k.groupsByPasid.get(p) ?? []) {
        const e = g.pasidArray.load(p);
        if (!e || !k.policy.claimsGlobalNumber(g, e)) continue;
        const o = ownerOf(e);
        if (o !== owner) {
          v('global-pasid-exclusive', pasidSubject(p), `global PASID ${p} belongs to ${who(owner)}, but ${g.label} has ${who(o)} attached at ${p}`);
          break;
        }
      }
    }
    if (k.enqcmd) {
      const live = [...(k.mmsByPasid.get(p) ?? [])].filter((mm) => mm.mmUsers > 0 && k.policy.mmEnqcmdPasid(mm) === p);
      if (live.length > 1) v('enqcmd-pasid-unique', pasidSubject(p), `${live.map((m) => m.label).join(' and ')} would both load IA32_PASID ${p}: a shared WQ cannot tell them apart`);
    }
  }

  // --- pasid_array slots against the CD tables ------------------------------------------------------------
  for (const [g, pasids] of d.slots) {
    for (const p of pasids) {
      checked?.add(slotSubject(g, p));
      const e = g.pasidArray.load(p);
      if (!e) continue;
      const dom = e.tag === 'HANDLE' ? e.handle.domain : e.tag === 'DOMAIN' ? e.domain : null;
      const capable = g.devices.filter((x) => x.maxPasids > 0);
      if (capable.length === 0 && dom?.type !== 'BLOCKED') {
        v('pasid-unprogrammed', slotSubject(g, p), `${who(ownerOf(e))} is attached at PASID ${p} of ${g.label}, but no device there can issue PASIDs: nothing was programmed`);
        continue;
      }
      for (const dev of capable) {
        const cd = dev.master.cdTable?.cds.get(p);
        // The blocked domain at a PASID is programmed as an invalid CD (arm_smmu_blocking_set_dev_pasid clears it).
        if (dom?.type === 'BLOCKED') {
          if (cd) v('pasid-array-cd', slotSubject(g, p), `${g.label} has the blocked domain at PASID ${p}, but ${dev.name}'s CD ${p} is valid for ${cd.domain.label}`);
        } else if (!cd) v('pasid-array-cd', slotSubject(g, p), `${g.label} has ${who(ownerOf(e))} at PASID ${p}, but ${dev.name}'s CD ${p} is not valid`);
        else if (cd.domain !== dom) v('pasid-array-cd', slotSubject(g, p), `${g.label} has ${dom?.label} at PASID ${p}, but ${dev.name}'s CD ${p} belongs to ${cd.domain.label} (written by ${stepRef(cd.by)})`);
      }
      if (dom?.freed) v('use-after-free', slotSubject(g, p), `${g.label} PASID ${p} points at freed ${dom.label}`);
    }
  }
  for (const [m, ssids] of d.cds) checkCds(m, ssids, checked, v);
  for (const m of d.masters) {
    const t = m.cdTable;
    checked?.add(usedSubject(m));
    if (!t) continue;
    const n = t.cds.size - (t.cds.has(0) ? 1 : 0);
    if (n !== t.usedSsids) v('used-ssids', usedSubject(m), `${m.dev.name}: used_ssids is ${t.usedSsids}, ${n} CD(s) at SSID != 0 are valid`);
  }

  // --- refcounts ------------------------------------------------------------------------------------------
  for (const dom of d.domains) checkDomain(dom, checked, v);
  for (const h of d.handles) {
    checked?.add(handleSubject(h));
    if (!k.handles.has(h)) continue;
    const nFiles = h.files?.size ?? 0;
    if (h.users !== nFiles) v('refcount', handleSubject(h), `${h.label}: users ${h.users}, but ${nFiles} open file(s) hold it`);
    if (h.domain.freed) v('use-after-free', handleSubject(h), `${h.label} points at freed ${h.domain.label}`);
    for (const f of h.files ?? []) {
      checked?.add(fileSubject(f));
      const slot = f.dev.group.pasidArray.load(f.pasid);
      const o = ownerOf(slot);
      if (o !== h.domain.mm) {
        const cd = f.dev.master.cdTable?.cds.get(f.pasid);
        const handed = f.pasidBy;
        v('bond-pasid', fileSubject(f), `${f.dev.name}'s driver programmed PASID ${f.pasid} for ${h.domain.mm?.label} (handed out by ${stepRef(handed)}), but that PASID names ${who(o)} on ${f.dev.name}${cd ? ` (CD ${f.pasid} written by ${stepRef(cd.by)})` : ''}`);
      }
    }
  }
  for (const mm of d.mms) {
    checked?.add(mmSubject(mm));
    if (mm.freed) continue;
    const doms = k.svaDomainsByMm.get(mm)?.length ?? 0;
    const want = (mm.mmUsers > 0 ? 1 : 0) + doms;
    if (mm.mmCount !== want) v('refcount', mmSubject(mm), `${mm.label}: mm_count ${mm.mmCount}, expected ${want} (mm_users ${mm.mmUsers}, ${doms} live SVA domain(s))`);
  }

  d.clear();
  return { violations: out, checked };
}

function checkCds(m: ArmSmmuMaster, ssids: Iterable<number>, checked: Set<string> | null, v: (i: InvariantName, s: string, msg: string) => void): void {
  const t = m.cdTable;
  for (const ssid of ssids) {
    checked?.add(cdSubject(m, ssid));
    const cd = t?.cds.get(ssid);
    if (!t || !cd) continue;
    if (ssid >= t.maxContexts) {
      v('cd-in-table', cdSubject(m, ssid), `${m.dev.name}: CD ${ssid} was written past the end of its ${t.maxContexts}-entry ${t.linear ? 'linear' : '2-level'} CD table (S1CDMax ${t.s1cdmax}) by ${stepRef(cd.by)}; the SMMU would raise C_BAD_SUBSTREAMID for SSID ${ssid}`);
    }
    if (ssid === 0) continue;
    const e = m.dev.group.pasidArray.load(ssid);
    const dom = e?.tag === 'HANDLE' ? e.handle.domain : e?.tag === 'DOMAIN' ? e.domain : null;
    if (dom !== cd.domain) v('pasid-array-cd', cdSubject(m, ssid), `${m.dev.name}'s CD ${ssid} is valid for ${cd.domain.label} (written by ${stepRef(cd.by)}, still valid), but ${m.dev.group.label} has ${dom?.label ?? 'nothing'} at PASID ${ssid}`);
    if (cd.domain.freed) v('use-after-free', cdSubject(m, ssid), `${m.dev.name}'s CD ${ssid} still uses freed ${cd.domain.label} (ASID ${cd.asid}; written by ${stepRef(cd.by)})`);
  }
}

function checkDomain(dom: IommuDomain, checked: Set<string> | null, v: (i: InvariantName, s: string, msg: string) => void): void {
  checked?.add(domainSubject(dom));
  if (dom.freed) {
    if (dom.attachedSlots > 0) v('use-after-free', domainSubject(dom), `${dom.label} was freed with ${dom.attachedSlots} attachment(s) left`);
    return;
  }
  if (dom.type === 'SVA') {
    if (dom.users !== dom.attachedSlots) v('refcount', domainSubject(dom), `${dom.label}: users ${dom.users}, but it is attached at ${dom.attachedSlots} (group, PASID) slot(s)`);
    if (dom.mm?.freed) v('use-after-free', domainSubject(dom), `${dom.label} pins freed ${dom.mm.label}`);
  }
}

