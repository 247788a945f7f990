import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dwordHex,
  entryHex,
  getBit,
  getDword,
  getField,
  setBit,
  setDword,
  setField,
} from '../../src-main/sim/hw/bits.js';

/** Reference model: dword i as a BigInt built from words[2i] (low) and words[2i+1] (high). */
function dw(w: Uint32Array, i: number): bigint {
  return (BigInt(w[2 * i + 1]!) << 32n) | BigInt(w[2 * i]!);
}
function genmask(hi: number, lo: number): bigint {
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

const fieldArb = fc
  .record({ lo: fc.integer({ min: 0, max: 63 }), width: fc.integer({ min: 1, max: 53 }) })
  .filter(({ lo, width }) => lo + width <= 64)
  .map(({ lo, width }) => ({ lo, hi: lo + width - 1, width }));
const entryArb = fc.uint32Array({ minLength: 16, maxLength: 16 });

describe('bits: 64-bit fields over little-endian 32-bit words', () => {
  it('known positions: low half, high half and straddling fields', () => {
    const w = new Uint32Array(16);
    setField(w, 0, 3, 1, 5); // STE Config = S1_TRANS
    expect(w[0]).toBe(0b1010);
    setField(w, 0, 63, 59, 20); // S1CDMax
    expect(w[1]).toBe(20 << 27 >>> 0);
    expect(w[1]).toBe(0xa0000000);
    setField(w, 0, 51, 6, 0x80000 / 64); // S1ContextPtr = 0x80000
    expect(w[0]).toBe(0x0008000a);
    expect(getField(w, 0, 51, 6) * 64).toBe(0x80000);
    // a 46-bit pointer straddling the halves
    const pa = 0xf_edcb_a987_6540; // bits [51:6] only
    setField(w, 0, 51, 6, pa / 64);
    expect(getField(w, 0, 51, 6) * 64).toBe(pa);
    expect(w[0]! & 0x3f).toBe(0b001010); // V/Config/S1Fmt untouched
    expect(w[1]! >>> 20).toBe(20 << 7); // S1CDMax untouched, bits [51:32] = pa's
    expect(w[1]! & 0xfffff).toBe(0xfedcb);
    // dword 3: CD word 3 (MAIR) is words 6 and 7
    setField(w, 3, 63, 32, 0xdeadbeef);
    expect(w[7]).toBe(0xdeadbeef);
    expect(w[6]).toBe(0);
  });

  it('getBit/setBit', () => {
    const w = new Uint32Array(16);
    setBit(w, 0, 31, true); // CD V
    expect(w[0]).toBe(0x80000000);
    setBit(w, 1, 35, true); // EVTQ_1_RnW
    expect(w[3]).toBe(8);
    expect(getBit(w, 0, 31)).toBe(true);
    expect(getBit(w, 1, 35)).toBe(true);
    expect(getBit(w, 1, 34)).toBe(false);
    setBit(w, 0, 31, false);
    expect(w[0]).toBe(0);
  });

  it('setField truncates like FIELD_PREP and rejects negative or fractional values', () => {
    const w = new Uint32Array(16);
    setField(w, 0, 63, 59, 0xff); // the KUnit suite's s1cdmax = 0xFF
    expect(getField(w, 0, 63, 59)).toBe(0x1f);
    expect(() => setField(w, 0, 5, 0, -1)).toThrow(RangeError);
    expect(() => setField(w, 0, 5, 0, 1.5)).toThrow(RangeError);
    expect(() => getField(w, 8, 5, 0)).toThrow(RangeError);
    expect(() => getField(w, 0, 63, 0)).toThrow(RangeError); // wider than 53 bits
    expect(() => getField(w, 0, 3, 4)).toThrow(RangeError);
  });

  it('getField agrees with a BigInt model for any field of any dword', () => {
    fc.assert(
      fc.property(entryArb, fc.integer({ min: 0, max: 7 }), fieldArb, (w, d, { hi, lo }) => {
        const expected = (dw(w, d) & genmask(hi, lo)) >> BigInt(lo);
        expect(BigInt(getField(w, d, hi, lo))).toBe(expected);
      }),
    );
  });

  it('setField agrees with a BigInt model and touches nothing else', () => {
    fc.assert(
      fc.property(
        entryArb,
        fc.integer({ min: 0, max: 7 }),
        fieldArb,
        fc.bigInt({ min: 0n, max: (1n << 53n) - 1n }),
        (w0, d, { hi, lo, width }, v) => {
          const w = w0.slice();
          setField(w, d, hi, lo, Number(v));
          const m = genmask(hi, lo);
          const v2 = v & ((1n << BigInt(width)) - 1n);
          expect(dw(w, d)).toBe((dw(w0, d) & ~m & ((1n << 64n) - 1n)) | (v2 << BigInt(lo)));
          for (let i = 0; i < 8; i++) if (i !== d) expect(dw(w, i)).toBe(dw(w0, i));
          expect(BigInt(getField(w, d, hi, lo))).toBe(v2);
        },
      ),
    );
  });

  it('whole dwords and hex', () => {
    const w = new Uint32Array(16);
    setDword(w, 2, 0x1f_ffff_ffff_ffff);
    expect(getDword(w, 2)).toBe(0x1f_ffff_ffff_ffff);
    expect(dwordHex(w, 2)).toBe('001fffffffffffff');
    expect(entryHex(w)).toHaveLength(8);
  });
});
