/**
 * Write attribution: which lab step the simulated kernel is acting for, so that the state it writes (a CD, an STE,
 * a cleared PTE, a PASID handed out) can say later which step wrote it. When a DMA lands in another address space,
 * the finding names the earlier step that made it possible, the way a kernel engineer would bisect it: the munmap
 * that skipped the mmu notifier, the bind that wrote the CD the PASID now names.
 *
 * It lives in the simulated SoC (PhysMemory holds the one instance), not beside it, so that checkpoints, undo and
 * time travel restore it with everything else and the same steps always attribute the same way.
 */

/** One applied step, as attribution records it. Frozen: shared by every structure it tagged. */
export interface StepTag {
  /** Index of the step in the lab's step list. */
  readonly step: number;
  /** Its operation (`unmap`, `bind`, ...). */
  readonly op: string;
  /** The step in words, e.g. `unmap { process: p, va: 0x400000, length: 0x1000, notify: false }`. */
  readonly text: string;
}

export class Attribution {
  /** Steps applied so far: the index the next one gets (a rejected step is not applied and takes none). */
  applied = 0;
  /** The step being applied; null outside one (boot, code driving the kernel directly). */
  current: StepTag | null = null;
  /** Kernel-level facts by key (`file:<label>`, `mmpasid:<mm label>`): the step that last set them. */
  readonly facts = new Map<string, StepTag>();

  /** A step starts: what it writes from now on is tagged with it. */
  begin(op: string, text: string): void {
    this.current = Object.freeze({ step: this.applied, op, text });
  }

  /** The step ends; `applied`: it was carried out (it then has its index), not rejected. */
  end(applied: boolean): void {
    if (applied) this.applied++;
    this.current = null;
  }

  /** Records that the current step set `key` (nothing outside a step). */
  note(key: string): void {
    if (this.current) this.facts.set(key, this.current);
  }

  fact(key: string): StepTag | undefined {
    return this.facts.get(key);
  }
}
