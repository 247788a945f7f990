/**
 * Who owns each PASID of the global IDA (iommu_global_pasid_ida), kept up to date from patches in O(change):
 * an mm whose iommu_mm->pasid is global (mms[label].pasid with pasid_global), or a kernel PASID from the IDA
 * (kernel_pasids[name] with from_ida). A PASID set in the IDA with neither is shown as an unknown owner: that is
 * what the `ida-owner` invariant reports.
 */
import { bitmapHas, type LiveState, type Patch } from '../../shared/contract.js';
import { PasidBitmap, type PasidOwner } from './pasid-bitmap.js';

type Obj = Record<string, unknown>;

const asObj = (v: unknown): Obj | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);

function mmGlobalPasid(v: unknown): number | null {
  const o = asObj(v);
  if (!o || typeof o.pasid !== 'number' || o.pasid_global === false) return null;
  return o.pasid;
}

function kernelIdaPasid(v: unknown): number | null {
  const o = asObj(v);
  if (!o || typeof o.pasid !== 'number' || o.from_ida === false) return null;
  return o.pasid;
}

/** Which entities of a collection a patch touches (its second path segment), or '*' for the whole collection. */
export function touchedKeys(patch: Patch, collection: string): Set<string> {
  const out = new Set<string>();
  for (const op of patch.ops) if (op.path[0] === collection) out.add(op.path.length > 1 ? op.path[1]! : '*');
  return out;
}

export class PasidIndex {
  readonly bitmap = new PasidBitmap();
  private mmPasid = new Map<string, number>();
  private pasidMm = new Map<number, string>();
  private kernelPasid = new Map<string, number>();
  private pasidKernel = new Map<number, string>();
  private kernelDev = new Map<string, string>();
  /** mm label -> names of the processes whose current mm it is. */
  private mmProcs = new Map<string, Set<string>>();
  private procMm = new Map<string, string>();

  /** Rebuilds everything from a state (a snapshot): O(state). */
  rebuild(s: LiveState): void {
    this.mmPasid.clear();
    this.pasidMm.clear();
    this.kernelPasid.clear();
    this.pasidKernel.clear();
    this.kernelDev.clear();
    this.mmProcs.clear();
    this.procMm.clear();
    const v = s.view;
    for (const [label, mm] of Object.entries(asObj(v.mms) ?? {})) this.setMm(label, mm);
    for (const [name, kp] of Object.entries(asObj(v.kernel_pasids) ?? {})) this.setKernel(name, kp);
    for (const [name, p] of Object.entries(asObj(v.processes) ?? {})) this.setProc(name, p);
    const entries: [number, PasidOwner][] = [];
    const bytes = s.ida;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b) for (let j = 0; j < 8; j++) if (b & (1 << j)) entries.push([i * 8 + j, this.ownerOf(i * 8 + j)]);
    }
    this.bitmap.replace(entries);
  }

  /**
   * Brings the index up to date for a patch that has just been applied to `s`. `before` is called first (with the
   * state still unpatched) to remember the PASIDs the touched entities held. Returns the PASIDs whose owner changed.
   */
  prepare(patch: Patch): { touchedMms: Set<string>; touchedKernel: Set<string>; touchedProcs: Set<string>; old: Set<number> } {
    const touchedMms = touchedKeys(patch, 'mms');
    const touchedKernel = touchedKeys(patch, 'kernel_pasids');
    const touchedProcs = touchedKeys(patch, 'processes');
    const old = new Set<number>();
    for (const l of touchedMms) {
      const p = this.mmPasid.get(l);
      if (p !== undefined) old.add(p);
    }
    for (const n of touchedKernel) {
      const p = this.kernelPasid.get(n);
      if (p !== undefined) old.add(p);
    }
    for (const n of touchedProcs) {
      const mm = this.procMm.get(n);
      const p = mm !== undefined ? this.mmPasid.get(mm) : undefined;
      if (p !== undefined) old.add(p);
    }
    return { touchedMms, touchedKernel, touchedProcs, old };
  }

  /** Applies what `prepare` found, reading the patched state. Returns the PASIDs redrawn. */
  update(s: LiveState, patch: Patch, prep: ReturnType<PasidIndex['prepare']>): number[] {
    const v = s.view;
    const all = prep.touchedMms.has('*') || prep.touchedKernel.has('*') || prep.touchedProcs.has('*');
    if (all) {
      this.rebuild(s);
      return [];
    }
    const affected = new Set<number>(prep.old);
    const mms = asObj(v.mms) ?? {};
    for (const l of prep.touchedMms) {
      this.setMm(l, mms[l]);
      const p = this.mmPasid.get(l);
      if (p !== undefined) affected.add(p);
    }
    const kps = asObj(v.kernel_pasids) ?? {};
    for (const n of prep.touchedKernel) {
      this.setKernel(n, kps[n]);
      const p = this.kernelPasid.get(n);
      if (p !== undefined) affected.add(p);
    }
    const procs = asObj(v.processes) ?? {};
    for (const n of prep.touchedProcs) {
      this.setProc(n, procs[n]);
      const mm = this.procMm.get(n);
      const p = mm !== undefined ? this.mmPasid.get(mm) : undefined;
      if (p !== undefined) affected.add(p);
    }
    for (const p of patch.ida.set) affected.add(p);
    for (const p of patch.ida.clear) affected.add(p);
    for (const p of patch.changed.pasids) affected.add(p);
    for (const p of affected) this.bitmap.set(p, bitmapHas(s.ida, p) ? this.ownerOf(p) : null);
    return [...affected];
  }

  owner(pasid: number): PasidOwner | undefined {
    return this.bitmap.owner(pasid);
  }

  private ownerOf(p: number): PasidOwner {
    const mm = this.pasidMm.get(p);
    if (mm !== undefined) {
      const procs = this.mmProcs.get(mm);
      return { kind: 'mm', name: mm, detail: procs && procs.size ? [...procs].join(', ') : 'no live process' };
    }
    const k = this.pasidKernel.get(p);
    if (k !== undefined) return { kind: 'kernel', name: k, detail: this.kernelDev.get(k) ?? '' };
    return { kind: 'ida', name: 'unknown owner' };
  }

  private setMm(label: string, v: unknown): void {
    const old = this.mmPasid.get(label);
    if (old !== undefined && this.pasidMm.get(old) === label) this.pasidMm.delete(old);
    this.mmPasid.delete(label);
    const p = mmGlobalPasid(v);
    if (p !== null) {
      this.mmPasid.set(label, p);
      this.pasidMm.set(p, label);
    }
  }

  private setKernel(name: string, v: unknown): void {
    const old = this.kernelPasid.get(name);
    if (old !== undefined && this.pasidKernel.get(old) === name) this.pasidKernel.delete(old);
    this.kernelPasid.delete(name);
    this.kernelDev.delete(name);
    const p = kernelIdaPasid(v);
    if (p !== null) {
      this.kernelPasid.set(name, p);
      this.pasidKernel.set(p, name);
      const dev = asObj(v)?.device;
      if (typeof dev === 'string') this.kernelDev.set(name, dev);
    }
  }

  private setProc(name: string, v: unknown): void {
    const old = this.procMm.get(name);
    if (old !== undefined) this.mmProcs.get(old)?.delete(name);
    this.procMm.delete(name);
    const o = asObj(v);
    if (o && typeof o.mm === 'string' && o.alive !== false) {
      this.procMm.set(name, o.mm);
      let s = this.mmProcs.get(o.mm);
      if (!s) this.mmProcs.set(o.mm, (s = new Set()));
      s.add(name);
    }
  }
}
