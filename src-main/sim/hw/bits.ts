/**
 * Bit fields of little-endian SMMUv3 structures (STEs, CDs, L1 descriptors, queue entries), held as Uint32Array
 * words: 64-bit dword i is words[2i] (bits 31:0) and words[2i+1] (bits 63:32), the layout of `__le64 data[]` read
 * as 32-bit words (and of QEMU's `uint32_t word[16]` in hw/arm/smmuv3-internal.h).
 *
 * A field is named as the kernel names it with GENMASK_ULL(hi, lo) inside one dword; `getField`/`setField` take the
 * same (dword, hi, lo). Fields may straddle the two 32-bit halves and be up to 53 bits wide (addresses [51:x] are
 * the widest the structures use), so values are plain JS numbers below 2^53 and everything above bit 31 is done
 * with arithmetic rather than 32-bit shifts.
 *
 * `setField` follows FIELD_PREP semantics (include/linux/bitfield.h): a value wider than the field is truncated to
 * the field, as `(val << shift) & mask` does. Negative or non-integer values are programming errors and throw.
 *
 * Pure functions, no I/O.
 */

const TWO32 = 0x1_0000_0000;

/** Largest field width the number-based accessors accept (a double holds integers exactly up to 2^53). */
export const MAX_FIELD_WIDTH = 53;

/** MASK32[n] = the low n bits set, as an unsigned number (n in 0..32). */
const MASK32: readonly number[] = Array.from({ length: 33 }, (_, n) => (n === 32 ? 0xffffffff : 2 ** n - 1));

/** Position of a field: dword index, high bit, low bit (bits 0..63 of that dword), as GENMASK_ULL(hi, lo). */
export type FieldPos = readonly [dword: number, hi: number, lo: number];

function check(w: Uint32Array, dword: number, hi: number, lo: number): void {
  if (!Number.isInteger(dword) || dword < 0 || 2 * dword + 1 >= w.length) {
    throw new RangeError(`dword ${dword} outside a ${w.length}-word entry`);
  }
  if (!Number.isInteger(hi) || !Number.isInteger(lo) || lo < 0 || hi > 63 || lo > hi) {
    throw new RangeError(`bad field [${hi}:${lo}]`);
  }
  if (hi - lo + 1 > MAX_FIELD_WIDTH) throw new RangeError(`field [${hi}:${lo}] wider than ${MAX_FIELD_WIDTH} bits`);
}

/** Bits [pos+len-1:pos] of a 32-bit word, unsigned. */
function extract32(x: number, pos: number, len: number): number {
  return ((x >>> pos) & MASK32[len]!) >>> 0;
}

/** x with bits [pos+len-1:pos] replaced by v (v < 2^len), unsigned. */
function deposit32(x: number, pos: number, len: number, v: number): number {
  const m = (MASK32[len]! << pos) >>> 0;
  return ((x & ~m) | ((v << pos) & m)) >>> 0;
}

/** Reads bits [hi:lo] of dword `dword` (FIELD_GET). */
export function getField(w: Uint32Array, dword: number, hi: number, lo: number): number {
  check(w, dword, hi, lo);
  const lw = w[2 * dword]!;
  const hw = w[2 * dword + 1]!;
  if (hi < 32) return extract32(lw, lo, hi - lo + 1);
  if (lo >= 32) return extract32(hw, lo - 32, hi - lo + 1);
  // Straddles bit 31/32: low part is bits [31:lo] of the low word, high part bits [hi-32:0] of the high word.
  const lowBits = 32 - lo;
  return extract32(lw, lo, lowBits) + extract32(hw, 0, hi - 31) * 2 ** lowBits;
}

/** Writes `value` into bits [hi:lo] of dword `dword`, truncating it to the field as FIELD_PREP does. */
export function setField(w: Uint32Array, dword: number, hi: number, lo: number, value: number): void {
  check(w, dword, hi, lo);
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`field value ${value} is not a non-negative integer`);
  const width = hi - lo + 1;
  const v = value % 2 ** width; // exact: value < 2^53 and width <= 53
  const li = 2 * dword;
  const hiIdx = li + 1;
  if (hi < 32) {
    w[li] = deposit32(w[li]!, lo, width, v);
  } else if (lo >= 32) {
    w[hiIdx] = deposit32(w[hiIdx]!, lo - 32, width, v);
  } else {
    const lowBits = 32 - lo;
    const scale = 2 ** lowBits;
    w[li] = deposit32(w[li]!, lo, lowBits, v % scale);
    w[hiIdx] = deposit32(w[hiIdx]!, 0, hi - 31, Math.floor(v / scale));
  }
}

/** Reads bit `bit` (0..63) of dword `dword`. */
export function getBit(w: Uint32Array, dword: number, bit: number): boolean {
  return getField(w, dword, bit, bit) === 1;
}

/** Sets or clears bit `bit` (0..63) of dword `dword`. */
export function setBit(w: Uint32Array, dword: number, bit: number, on: boolean): void {
  setField(w, dword, bit, bit, on ? 1 : 0);
}

/** getField with a FieldPos tuple. */
export function getF(w: Uint32Array, f: FieldPos): number {
  return getField(w, f[0], f[1], f[2]);
}

/** setField with a FieldPos tuple. */
export function setF(w: Uint32Array, f: FieldPos, value: number): void {
  setField(w, f[0], f[1], f[2], value);
}

/** Sets every bit of field `f` in `mask` (to build used-bit masks). */
export function markF(mask: Uint32Array, f: FieldPos): void {
  setField(mask, f[0], f[1], f[2], 2 ** (f[1] - f[2] + 1) - 1);
}

/** A whole 64-bit dword as a number; exact only when it is below 2^53 (the high word below 2^21). */
export function getDword(w: Uint32Array, dword: number): number {
  return w[2 * dword]! + w[2 * dword + 1]! * TWO32;
}

/** Writes a whole 64-bit dword from a number below 2^53. */
export function setDword(w: Uint32Array, dword: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`dword value ${value} is not an integer in [0, 2^53)`);
  }
  w[2 * dword] = value % TWO32;
  w[2 * dword + 1] = Math.floor(value / TWO32);
}

/** Dword `dword` as 16 hex digits, for display ("0x" not included). */
export function dwordHex(w: Uint32Array, dword: number): string {
  return w[2 * dword + 1]!.toString(16).padStart(8, '0') + w[2 * dword]!.toString(16).padStart(8, '0');
}

/** Every dword of an entry as 16 hex digits, dword 0 first (the kernel's print_hex_dump of data[]). */
export function entryHex(w: Uint32Array): string[] {
  const out: string[] = [];
  for (let i = 0; 2 * i + 1 < w.length; i++) out.push(dwordHex(w, i));
  return out;
}
