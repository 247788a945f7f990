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
 * updated, and `unusedUpdate` = the current entry with every bit it does not use set to the target's value.
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

function popcount8(x: number): number {
  let n = 0;
  for (let b = x & 0xff; b; b &= b - 1) n++;
  return n;
}

/** entry_set(): store each differing qword of src[start, start + len) into `entry`, then sync if anything was stored. */
function entrySet(
  entry: Uint32Array,
  src: Uint32Array,
  start: number,
  len: number,
  write: (next: Uint32Array, qword: number) => void,
  sync: () => void,
  copy: boolean,
): boolean {
  let changed = false;
  for (let q = start; q < start + len; q++) {
    const lo = 2 * q;
    if (entry[lo] !== src[lo] || entry[lo + 1] !== src[lo + 1]) {
      entry[lo] = src[lo]!;
      entry[lo + 1] = src[lo + 1]!;
      changed = true;
      write(copy ? entry.slice() : entry, q);
    }
  }
  if (changed) sync();
  return changed;
}

/** Scratch buffers for writeEntry (the running entry and unused_update), reused unless a callback re-enters it. */
const scratchEntry = new Uint32Array(ENTRY_WORDS);
const scratchUnused = new Uint32Array(ENTRY_WORDS);
let writeDepth = 0;

/**
 * Updates `cur` (not modified) to `target` as arm_smmu_write_entry() does; see the file comment.
 *
 * With `copy` false, `write` receives the writer's own working array instead of a fresh copy: same contents, but it
 * must not be kept or modified past the call (the driver copies it straight into simulated memory).
 */
export function writeEntry(
  cur: Uint32Array,
  target: Uint32Array,
  used: (w: Uint32Array) => Uint32Array,
  write: (next: Uint32Array, qword: number) => void,
  sync: () => void,
  copy = true,
): 'hitless' | 'disruptive' | 'unchanged' {
  checkEntry('cur', cur);
  checkEntry('target', target);
  const reuse = writeDepth === 0;
  const entry = reuse ? scratchEntry : new Uint32Array(ENTRY_WORDS);
  const unusedUpdate = reuse ? scratchUnused : new Uint32Array(ENTRY_WORDS);
  entry.set(cur);
  writeDepth++;
  try {
    // arm_smmu_entry_qword_diff(), as entryQwordDiff() computes it, into unusedUpdate.
    const curUsed = used(entry);
    const targetUsed = used(target);
    let diff = 0;
    for (let q = 0; q < NUM_ENTRY_QWORDS; q++) {
      for (let j = 2 * q; j <= 2 * q + 1; j++) {
        unusedUpdate[j] = ((entry[j]! & curUsed[j]!) | (target[j]! & ~curUsed[j]!)) >>> 0;
        if ((unusedUpdate[j]! & targetUsed[j]!) >>> 0 !== target[j]!) diff |= 1 << q;
      }
    }

    if (popcount8(diff) === 1) {
      const critical = 31 - Math.clz32(diff); // ffs(diff) - 1 for a single bit
      // Skip the critical qword's unused bits: the next step writes that qword anyway (saves a sync).
      unusedUpdate[2 * critical] = entry[2 * critical]!;
      unusedUpdate[2 * critical + 1] = entry[2 * critical + 1]!;
      entrySet(entry, unusedUpdate, 0, NUM_ENTRY_QWORDS, write, sync, copy);
      entrySet(entry, target, critical, 1, write, sync, copy);
      entrySet(entry, target, 0, NUM_ENTRY_QWORDS, write, sync, copy);
      return 'hitless';
    }
    if (diff !== 0) {
      unusedUpdate[0] = 0;
      unusedUpdate[1] = 0;
      entrySet(entry, unusedUpdate, 0, 1, write, sync, copy);
      entrySet(entry, target, 1, NUM_ENTRY_QWORDS - 1, write, sync, copy);
      entrySet(entry, target, 0, 1, write, sync, copy);
      return 'disruptive';
    }
    // No used bit changes. The kernel still writes the target (WARN_ON_ONCE if that changed anything).
    entrySet(entry, target, 0, NUM_ENTRY_QWORDS, write, sync, copy);
    return 'unchanged';
  } finally {
    writeDepth--;
  }
}
