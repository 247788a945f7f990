/**
 * The rows of a device view: every SSID that has a valid CD in the master's CD table or an entry in its group's
 * pasid_array, ascending. A patch adds or removes single slots (binary search + splice), so a step touching one SSID
 * of a device with a million of them does not re-sort the million.
 */
import { lowerBound } from '../../shared/contract.js';
type Obj = Record<string, unknown>;

export class SlotIndex {
  /** Ascending SSIDs. */
  readonly rows: number[] = [];
  private readonly cd = new Set<number>();
  private readonly pa = new Set<number>();

  static from(device: Obj | null): SlotIndex {
    const ix = new SlotIndex();
    const cds = device?.cds as Obj | undefined;
    const pa = device?.pasid_array as Obj | undefined;
    if (cds) for (const k of Object.keys(cds)) if (cds[k] !== null && cds[k] !== undefined) ix.cd.add(Number(k));
    if (pa) for (const k of Object.keys(pa)) if (pa[k] !== null && pa[k] !== undefined) ix.pa.add(Number(k));
    const all = new Set<number>([...ix.cd, ...ix.pa]);
    ix.rows.push(...[...all].sort((a, b) => a - b));
    return ix;
  }

  get size(): number {
    return this.rows.length;
  }

  /** A patch wrote `map[slot]` (set) or deleted it. */
  note(map: 'cds' | 'pasid_array', slot: number, present: boolean): void {
    const s = map === 'cds' ? this.cd : this.pa;
    if (present) s.add(slot);
    else s.delete(slot);
    const want = this.cd.has(slot) || this.pa.has(slot);
    const i = lowerBound(this.rows, slot);
    const has = this.rows[i] === slot;
    if (want && !has) this.rows.splice(i, 0, slot);
    else if (!want && has) this.rows.splice(i, 1);
  }

  /** Index of the first row >= ssid (for "jump to SSID"). */
  find(ssid: number): number {
    return lowerBound(this.rows, ssid);
  }
}

export { lowerBound };
