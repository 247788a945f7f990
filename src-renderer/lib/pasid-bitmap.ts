/**
 * The global PASID space (2^20 PASIDs, the kernel's iommu_global_pasid_ida range) as a 1024 x 1024 bitmap, one pixel
 * per PASID, coloured by owner. Row r, column c holds PASID r * 1024 + c.
 *
 * Pixels live in one Uint32Array that backs an ImageData, so a change costs one store; `flush` copies only the rows
 * (and within a row only the columns) that changed since the last flush onto the backing canvas. Kept free of Svelte
 * and of a real canvas so that it can be tested in jsdom.
 */

export const PASID_SPACE = 1 << 20;
export const SIDE = 1024;

/** Who holds a PASID, as the views name them. */
export interface PasidOwner {
  /** 'mm': an SVA address space (process); 'kernel': an idxd/driver kernel PASID; 'ida': allocated, owner unknown. */
  kind: 'mm' | 'kernel' | 'ida';
  /** mm label (`mm:app.mm0` style without the prefix) or kernel PASID name. */
  name: string;
  /** Process name(s) for an mm, device for a kernel PASID. */
  detail?: string;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Stable colour per owner: hue from a string hash; kernel PASIDs in a fixed amber family, unknown owners red. */
export function ownerRgb(o: PasidOwner): [number, number, number] {
  if (o.kind === 'ida') return [220, 30, 30];
  const h = hash(o.name);
  if (o.kind === 'kernel') return hsl(30 + (h % 20), 0.85, 0.45 + ((h >> 8) % 10) / 100);
  // Avoid the amber and red bands so processes never look like kernel PASIDs or leaks.
  const hue = 80 + (h % 250);
  return hsl(hue, 0.6 + ((h >> 8) % 25) / 100, 0.42 + ((h >> 16) % 16) / 100);
}

export function ownerCss(o: PasidOwner): string {
  const [r, g, b] = ownerRgb(o);
  return `rgb(${r}, ${g}, ${b})`;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** Little-endian RGBA packed as the Uint32 that ImageData's bytes spell. */
function pack([r, g, b]: [number, number, number]): number {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export class PasidBitmap {
  readonly pixels: Uint32Array;
  readonly bytes: Uint8ClampedArray<ArrayBuffer>;
  private readonly owners = new Map<number, PasidOwner>();
  private readonly colourCache = new Map<string, number>();
  /** Per dirty row: [min column, max column]. */
  private readonly dirty = new Map<number, [number, number]>();

  constructor() {
    const buf = new ArrayBuffer(PASID_SPACE * 4);
    this.pixels = new Uint32Array(buf);
    this.bytes = new Uint8ClampedArray(buf);
  }

  get size(): number {
    return this.owners.size;
  }

  owner(pasid: number): PasidOwner | undefined {
    return this.owners.get(pasid);
  }

  /** Sets or clears (null) the owner of one PASID; marks the pixel dirty only when its colour changes. */
  set(pasid: number, owner: PasidOwner | null): void {
    if (!(pasid >= 0 && pasid < PASID_SPACE)) return;
    if (owner) this.owners.set(pasid, owner);
    else this.owners.delete(pasid);
    const px = owner ? this.colour(owner) : 0;
    if (this.pixels[pasid] === px) return;
    this.pixels[pasid] = px;
    const y = pasid >>> 10;
    const x = pasid & (SIDE - 1);
    const d = this.dirty.get(y);
    if (!d) this.dirty.set(y, [x, x]);
    else {
      if (x < d[0]) d[0] = x;
      if (x > d[1]) d[1] = x;
    }
  }

  /** Replaces everything (a snapshot): clears the old owners, then sets the new ones. */
  replace(entries: Iterable<[number, PasidOwner]>): void {
    for (const p of [...this.owners.keys()]) this.set(p, null);
    for (const [p, o] of entries) this.set(p, o);
  }

  /** PASIDs held, in order (for lists and tests). */
  held(): number[] {
    return [...this.owners.keys()].sort((a, b) => a - b);
  }

  /**
   * Takes the rectangles changed since the last call: one per dirty row (its column span), or one bounding box
   * when many rows changed (a snapshot), so a flush is never more than a few hundred putImageData calls.
   */
  takeDirty(): Rect[] {
    if (this.dirty.size === 0) return [];
    let rects: Rect[];
    if (this.dirty.size > 256) {
      let y0 = SIDE;
      let y1 = -1;
      let x0 = SIDE;
      let x1 = -1;
      for (const [y, [a, b]] of this.dirty) {
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
        x0 = Math.min(x0, a);
        x1 = Math.max(x1, b);
      }
      rects = [{ x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 }];
    } else {
      rects = [...this.dirty].map(([y, [a, b]]) => ({ x: a, y, w: b - a + 1, h: 1 }));
    }
    this.dirty.clear();
    return rects;
  }

  /** Copies the changed pixels to a canvas context (the 1024x1024 backing canvas). Returns the rectangles drawn. */
  flush(ctx: Pick<CanvasRenderingContext2D, 'putImageData'> | null, image: ImageData | null): Rect[] {
    const rects = this.takeDirty();
    if (ctx && image) for (const r of rects) ctx.putImageData(image, 0, 0, r.x, r.y, r.w, r.h);
    return rects;
  }

  private colour(o: PasidOwner): number {
    const key = `${o.kind}:${o.name}`;
    let c = this.colourCache.get(key);
    if (c === undefined) {
      c = pack(ownerRgb(o));
      this.colourCache.set(key, c);
    }
    return c;
  }
}
