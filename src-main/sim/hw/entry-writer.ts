/**
 * The kernel's hitless STE/CD update: arm_smmu_write_entry(), arm_smmu_entry_qword_diff() and entry_set() of
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c (Linux 6.17-rc4), over 16-word entries.
 *
 * The SMMU only guarantees 64-bit single-copy atomicity, so a 64-byte entry changes one dword (qword) at a time and
 * the hardware may fetch it between any two stores. The kernel computes, per qword, whether bits the hardware uses
 * must change once every currently-unused bit has been set to its target value:
 *  - no qword: "no change"; it writes the target anyway (only unused bits can differ, and the kernel WARNs if any
 *    do) and returns;
 *  - exactly one ("critical") qword: hitless. Set the unused bits of the other qwords, sync; store the critical
 *    qword, sync; store the rest (bits now unused), sync;
 *  - two or more: disruptive. Store qword 0 = 0 (V = 0, the whole qword: `unused_update[0] = 0`), sync; store
 *    qwords 1..7, sync; store qword 0, sync.
 * Each step stores only the qwords that differ and syncs only if it stored one (entry_set), which is where the sync
 * counts of the kernel's KUnit tests (arm-smmu-v3-test.c) come from.
 *
 * `write` is called after every 64-bit store with a fresh copy of the whole 16-word entry (the state the hardware
 * can observe from then on) and the index of the qword stored (a writer backed by memory need store only that one); `sync` stands for the writer's sync op: CFGI_STE(leaf) + CMD_SYNC for an STE,
 * CFGI_CD(leaf) for each stream of the master + CMD_SYNC for a CD.
 *
 * The result names the kernel's branch: 'hitless' is the single-critical-qword path even when the old or new entry
 * is itself invalid (clearing a CD, or filling an empty one), which the KUnit suite files under "non-hitless"
 * because an entry with V = 0 is visible; 'disruptive' always exposes an entry with qword 0 = 0.
 */

export const NUM_ENTRY_QWORDS = 8;
const ENTRY_WORDS = 2 * NUM_ENTRY_QWORDS;

export type WriteEntryResult = 'hitless' | 'disruptive' | 'unchanged';

function checkEntry(name: string, w: Uint32Array): void {
  if (w.length !== ENTRY_WORDS) throw new RangeError(`${name} has ${w.length} words, expected ${ENTRY_WORDS}`);
}

/**
 * arm_smmu_entry_qword_diff(): the bit mask of qwords whose used bits must change after the unused bits have been
 * updated, and `unusedUpdate` = the current entry with every bit it does not use set to the target's value. The
 * kernel's function as it stands, for tests and tools (the entry-writer tests build their reference loop on it);
 * planEntryWrite computes the same in place, without allocating.
 */
export function entryQwordDiff(
  entry: Uint32Array,
  target: Uint32Array,
  used: (w: Uint32Array) => Uint32Array,
): { diff: number; unusedUpdate: Uint32Array } {
  const curUsed = used(entry);
  const targetUsed = used(target);
  const unusedUpdate = new Uint32Array(ENTRY_WORDS);
  let diff = 0;
  for (let q = 0; q < NUM_ENTRY_QWORDS; q++) {
    for (let j = 2 * q; j <= 2 * q + 1; j++) {
      unusedUpdate[j] = ((entry[j]! & curUsed[j]!) | (target[j]! & ~curUsed[j]!)) >>> 0;
      if ((unusedUpdate[j]! & targetUsed[j]!) >>> 0 !== target[j]!) diff |= 1 << q;
    }
  }
  return { diff, unusedUpdate };
}

/**
 * The kernel's `WARN_ON_ONCE(target[i] & ~target_used[i])`: true when the target sets a bit its own used function
 * says the hardware ignores (a make function out of step with the used function).
 */
export function targetSetsUnusedBits(target: Uint32Array, used: (w: Uint32Array) => Uint32Array): boolean {
  const u = used(target);
  for (let i = 0; i < ENTRY_WORDS; i++) if ((target[i]! & ~u[i]!) >>> 0 !== 0) return true;
  return false;
}

/**
 * The stores of one arm_smmu_write_entry() call, without making them: three qword masks, one per entry_set() step
 * (bit q set: that step stores qword q), and the branch taken. A step whose mask is non-zero is followed by a sync,
 * so the sync count is the number of non-zero masks. The values stored: step 1 stores `unusedUpdate` (left in the
 * array passed in: the current entry with its unused bits already at the target's values; qword 0 = 0 on the
 * disruptive branch), steps 2 and 3 store the target. After step 3 the entry is the target, on every branch.
 *
 * A writer that only needs the end state and the syncs (a CD in simulated memory, which nothing reads between the
 * stores) uses this directly; writeEntry() plays the same plan through its callbacks.
 */
export interface EntryWritePlan {
  kind: WriteEntryResult;
  /** Qword masks of steps 1, 2 and 3 (ascending qword order within a step, as entry_set() walks them). */
  step1: number;
  step2: number;
  step3: number;
}

/**
 * The plan of writeEntry(cur, target) into `plan` (returned); `unusedUpdate` (16 words) receives step 1's values.
 * Words are compared as int32 (`| 0`): equal as uint32 exactly when equal as int32, and V8 keeps int32 arithmetic in
 * registers where a uint32 above 2^31 (`>>> 0`) goes through a double (this ran at half the speed that way).
 */
export function planEntryWrite(cur: Uint32Array, target: Uint32Array, curUsed: Uint32Array, targetUsed: Uint32Array, unusedUpdate: Uint32Array, plan: EntryWritePlan): EntryWritePlan {
  // arm_smmu_entry_qword_diff(), into unusedUpdate.
  let diff = 0;
  for (let q = 0; q < NUM_ENTRY_QWORDS; q++) {
    const lo = 2 * q;
    const hi = lo + 1;
    const ul = curUsed[lo]! | 0;
    const uh = curUsed[hi]! | 0;
    const tl = target[lo]! | 0;
    const th = target[hi]! | 0;
    const nl = ((cur[lo]! | 0) & ul) | (tl & ~ul);
    const nh = ((cur[hi]! | 0) & uh) | (th & ~uh);
    unusedUpdate[lo] = nl;
    unusedUpdate[hi] = nh;
    if ((nl & targetUsed[lo]!) !== tl || (nh & targetUsed[hi]!) !== th) diff |= 1 << q;
  }
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  if (diff !== 0 && (diff & (diff - 1)) === 0) {
    // Hitless: one critical qword. Its unused bits are not set in step 1 (step 2 writes that qword anyway).
    const critical = 31 - Math.clz32(diff);
    const cl = 2 * critical;
    unusedUpdate[cl] = cur[cl]!;
    unusedUpdate[cl + 1] = cur[cl + 1]!;
    for (let q = 0; q < NUM_ENTRY_QWORDS; q++) {
      const lo = 2 * q;
      const nl = unusedUpdate[lo]! | 0;
      const nh = unusedUpdate[lo + 1]! | 0;
      // Step 1: the qwords whose unused bits change. Step 3: every qword still different from the target once the
      // entry holds unusedUpdate (and the target at the critical qword, which step 2 stores).
      if (nl !== (cur[lo]! | 0) || nh !== (cur[lo + 1]! | 0)) s1 |= 1 << q;
      if (q !== critical && ((target[lo]! | 0) !== nl || (target[lo + 1]! | 0) !== nh)) s3 |= 1 << q;
    }
    if ((target[cl]! | 0) !== (cur[cl]! | 0) || (target[cl + 1]! | 0) !== (cur[cl + 1]! | 0)) s2 = 1 << critical;
    plan.kind = 'hitless';
  } else if (diff !== 0) {
    // Disruptive: qword 0 = 0 (V = 0), then qwords 1..7, then qword 0.
    unusedUpdate[0] = 0;
    unusedUpdate[1] = 0;
    if ((cur[0]! | 0) !== 0 || (cur[1]! | 0) !== 0) s1 = 1;
    for (let q = 1; q < NUM_ENTRY_QWORDS; q++) {
      const l = 2 * q;
      if ((target[l]! | 0) !== (cur[l]! | 0) || (target[l + 1]! | 0) !== (cur[l + 1]! | 0)) s2 |= 1 << q;
    }
    if ((target[0]! | 0) !== 0 || (target[1]! | 0) !== 0) s3 = 1;
    plan.kind = 'disruptive';
  } else {
    // No used bit changes. The kernel still writes the target (WARN_ON_ONCE if that changed anything): one step.
    for (let q = 0; q < NUM_ENTRY_QWORDS; q++) {
      const l = 2 * q;
      if ((target[l]! | 0) !== (cur[l]! | 0) || (target[l + 1]! | 0) !== (cur[l + 1]! | 0)) s1 |= 1 << q;
    }
    plan.kind = 'unchanged';
  }
  plan.step1 = s1;
  plan.step2 = s2;
  plan.step3 = s3;
  return plan;
}

/** The number of syncs a plan issues: one after each step that stores something. */
export function planSyncs(plan: EntryWritePlan): number {
  return (plan.step1 ? 1 : 0) + (plan.step2 ? 1 : 0) + (plan.step3 ? 1 : 0);
}

/** One step of a plan through writeEntry's callbacks: store the masked qwords of `src` into `entry`, then sync. */
function playStep(entry: Uint32Array, src: Uint32Array, mask: number, write: (next: Uint32Array, qword: number) => void, sync: () => void): void {
  if (mask === 0) return;
  for (let q = 0; q < NUM_ENTRY_QWORDS; q++) {
    if ((mask & (1 << q)) === 0) continue;
    entry[2 * q] = src[2 * q]!;
    entry[2 * q + 1] = src[2 * q + 1]!;
    write(entry.slice(), q);
  }
  sync();
}

/** Scratch buffers for writeEntry (the running entry and unused_update), reused unless a callback re-enters it. */
const scratchEntry = new Uint32Array(ENTRY_WORDS);
const scratchUnused = new Uint32Array(ENTRY_WORDS);
const scratchPlan: EntryWritePlan = { kind: 'unchanged', step1: 0, step2: 0, step3: 0 };
let writeDepth = 0;

/**
 * Updates `cur` (not modified) to `target` as arm_smmu_write_entry() does; see the file comment. Each 64-bit store
 * calls `write`, each step that stored something calls `sync` (entry_set), in the kernel's order.
 * The STE path plays every store through here; the CD path needs only the end state and the syncs, and uses
 * planEntryWrite.
 */
export function writeEntry(
  cur: Uint32Array,
  target: Uint32Array,
  used: (w: Uint32Array) => Uint32Array,
  write: (next: Uint32Array, qword: number) => void,
  sync: () => void,
): 'hitless' | 'disruptive' | 'unchanged' {
  checkEntry('cur', cur);
  checkEntry('target', target);
  const reuse = writeDepth === 0;
  const entry = reuse ? scratchEntry : new Uint32Array(ENTRY_WORDS);
  const unusedUpdate = reuse ? scratchUnused : new Uint32Array(ENTRY_WORDS);
  const plan = planEntryWrite(cur, target, used(cur), used(target), unusedUpdate, reuse ? scratchPlan : { kind: 'unchanged', step1: 0, step2: 0, step3: 0 });
  const { kind, step1, step2, step3 } = plan;
  entry.set(cur);
  writeDepth++;
  try {
    playStep(entry, kind === 'unchanged' ? target : unusedUpdate, step1, write, sync);
    playStep(entry, target, step2, write, sync);
    playStep(entry, target, step3, write, sync);
    return kind;
  } finally {
    writeDepth--;
  }
}
