/**
 * Write attribution: which lab step the simulated kernel is acting for, so that the state it writes (a CD, an STE,
 * a cleared PTE, a PASID handed out) can say later which step wrote it. When a DMA lands in another address space,
 * the finding names the earlier step that made it possible, the way a kernel engineer would bisect it: the munmap
 * that skipped the mmu notifier, the bind that wrote the CD the PASID now names.
 *
 * It lives in the simulated SoC (PhysMemory holds the one instance), not beside it, so that checkpoints, undo and
 * time travel restore it with everything else and the same steps always attribute the same way.
 */
import { IMMUTABLE } from '../immutable.js';

/**
 * One applied step, as attribution records it. Immutable (IMMUTABLE-marked rather than frozen, which costs far more
 * per step): shared by every structure it tagged (a CD, an STE, an unmapped page, an open file and an mm for the
 * PASID they were handed), never copied by checkpoints. Its text is written only when a finding asks for it, and
 * cached outside the instance: most steps never cause one.
 */
export class StepTag {
  declare readonly [IMMUTABLE]: true;
  constructor(
    /** Index of the step in the lab's step list. */
    readonly step: number,
    /** Its operation (`unmap`, `bind`, ...). */
    readonly op: string,
    /** A copy of the step's arguments, owned by the tag (never changed). */
    private readonly args: Readonly<Record<string, unknown>>,
  ) {}

  /** The step in words, e.g. `unmap { process: p, va: 0x400000, length: 0x1000, notify: false }`. */
  get text(): string {
    let t = TEXTS.get(this);
    if (t === undefined) {
      t = `${this.op} { ${Object.entries(this.args).map(([key, v]) => `${key}: ${typeof v === 'number' && HEX_ARGS.has(key) ? `0x${v.toString(16)}` : String(v)}`).join(', ')} }`;
      TEXTS.set(this, t);
    }
    return t;
  }
}
Object.defineProperty(StepTag.prototype, IMMUTABLE, { value: true });

/** StepTag texts already written (the tags themselves never change, so the cache lives beside them). */
const TEXTS = new WeakMap<StepTag, string>();

/** Step arguments written in hex (addresses and sizes). */
const HEX_ARGS = new Set(['va', 'iova', 'length', 'sid', 'src', 'dst', 'completion', 'dst_length']);

export class Attribution {
  /** Steps applied so far: the index the next one gets (a rejected step is not applied and takes none). */
  applied = 0;
  /** The step being applied (its operation and arguments), and its tag once something asked for it. */
  private op: string | null = null;
  private args: Readonly<Record<string, unknown>> | null = null;
  private tag: StepTag | null = null;

  /**
   * The step being applied, as a tag; null outside one (boot, code driving the kernel directly). Made the first time a
   * step asks for it: most steps that tag nothing (an unbind, say) never pay for a tag and the copy of its arguments.
   */
  get current(): StepTag | null {
    if (this.tag === null && this.op !== null) {
      const args = this.args!;
      // A copy: the tag is shared by checkpoints, and the caller's object is the caller's.
      this.tag = new StepTag(this.applied, this.op, Object.isFrozen(args) ? args : { ...args });
    }
    return this.tag;
  }

  /** A step starts: what it writes from now on is tagged with it. */
  begin(op: string, args: Readonly<Record<string, unknown>>): void {
    this.op = op;
    this.args = args;
    this.tag = null;
  }

  /** The step ends; `applied`: it was carried out (it then has its index), not rejected. */
  end(applied: boolean): void {
    if (applied) this.applied++;
    this.op = null;
    this.args = null;
    this.tag = null;
  }
}
