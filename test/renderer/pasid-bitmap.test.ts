// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { PasidBitmap, ownerRgb, SIDE } from '../../src-renderer/lib/pasid-bitmap.js';
import { SlotIndex } from '../../src-renderer/lib/slot-index.js';

const mm = (name: string) => ({ kind: 'mm' as const, name, detail: name });

describe('PasidBitmap', () => {
  it('colours a PASID by owner, one pixel per PASID in row-major order, and clears it', () => {
    const b = new PasidBitmap();
    b.set(5, mm('p1/mm0'));
    b.set(SIDE + 2, { kind: 'kernel', name: 'dsa0-kernel' });
    const px5 = b.pixels[5]!;
    expect(px5).not.toBe(0);
    expect(px5 >>> 24).toBe(255); // opaque
    const [r, g, bl] = ownerRgb(mm('p1/mm0'));
    expect([b.bytes[5 * 4], b.bytes[5 * 4 + 1], b.bytes[5 * 4 + 2]]).toEqual([r, g, bl]);
    expect(b.pixels[SIDE + 2]).not.toBe(0);
    expect(b.held()).toEqual([5, SIDE + 2]);
    b.set(5, null);
    expect(b.pixels[5]).toBe(0);
    expect(b.owner(5)).toBeUndefined();
  });

  it('gives one owner one colour and different owners different colours; kernel and unknown owners stand apart', () => {
    const a = ownerRgb(mm('p1/mm0'));
    expect(ownerRgb(mm('p1/mm0'))).toEqual(a);
    expect(ownerRgb(mm('p2/mm0'))).not.toEqual(a);
    expect(ownerRgb({ kind: 'ida', name: 'x' })).toEqual([220, 30, 30]);
  });

  it('flushes only the rows and columns that changed since the last flush', () => {
    const b = new PasidBitmap();
    b.takeDirty();
    b.set(3, mm('a'));
    b.set(9, mm('b'));
    b.set(SIDE * 7 + 100, mm('c'));
    const calls: number[][] = [];
    const ctx = { putImageData: (_img: ImageData, _x: number, _y: number, ...r: number[]) => void calls.push(r) };
    const rects = b.flush(ctx, {} as ImageData);
    expect(rects).toEqual([
      { x: 3, y: 0, w: 7, h: 1 },
      { x: 100, y: 7, w: 1, h: 1 },
    ]);
    expect(calls).toEqual([
      [3, 0, 7, 1],
      [100, 7, 1, 1],
    ]);
    // Nothing changed: nothing drawn. Setting the same owner again is not a change.
    b.set(3, mm('a'));
    expect(b.flush(ctx, {} as ImageData)).toEqual([]);
  });

  it('bounds a change spanning many rows with one rectangle (a snapshot)', () => {
    const b = new PasidBitmap();
    for (let r = 0; r < 300; r++) b.set(r * SIDE + (r % 50), mm('x'));
    expect(b.takeDirty()).toEqual([{ x: 0, y: 0, w: 50, h: 300 }]);
  });

  it('ignores PASIDs outside the 20-bit space', () => {
    const b = new PasidBitmap();
    b.set(1 << 20, mm('x'));
    b.set(-1, mm('x'));
    expect(b.size).toBe(0);
    expect(b.takeDirty()).toEqual([]);
  });
});

describe('SlotIndex', () => {
  it('lists the union of CD and pasid_array SSIDs in order and follows single-slot changes', () => {
    const ix = SlotIndex.from({ cds: { 0: {}, 4: {} }, pasid_array: { 4: 'p1/mm0', 2: 'kernel:k' } });
    expect(ix.rows).toEqual([0, 2, 4]);
    ix.note('cds', 3, true);
    expect(ix.rows).toEqual([0, 2, 3, 4]);
    ix.note('cds', 4, false); // the pasid_array entry keeps SSID 4 listed
    expect(ix.rows).toEqual([0, 2, 3, 4]);
    ix.note('pasid_array', 4, false);
    expect(ix.rows).toEqual([0, 2, 3]);
    expect(ix.find(3)).toBe(2);
    expect(ix.find(100)).toBe(3);
  });
});
