import { IdBitmap } from './idbitmap.js';

/**
 * lib/idr.c `struct ida`: `ida_alloc_range` hands out the lowest free id in [min, max]; `ida_free` of an id that is
 * not allocated WARNs and changes nothing (kernel-semantics.md §3.2, [U] from memory).
 */
export class Ida {
  private readonly map: IdBitmap;

  constructor(bits: number) {
    this.map = new IdBitmap(bits);
  }

  /** lib/idr.c ida_alloc_range(): lowest free id in [min, max], or -1 when the range is empty or exhausted. */
  allocRange(min: number, max: number): number {
    if (max < min) return -1;
    const id = this.map.findFirstClear(min, max);
    if (id >= 0) this.map.set(id);
    return id;
  }

  /** Marks a specific id as taken (for callers that reserve); false if it was already. */
  take(id: number): boolean {
    return this.map.set(id);
  }

  /** lib/idr.c ida_free(): false (the kernel's WARN) when `id` was not allocated. */
  free(id: number): boolean {
    if (id < 0 || id >= this.map.limit) return false;
    return this.map.clear(id);
  }

  has(id: number): boolean {
    return this.map.has(id);
  }

  /** Lowest free id in [min, max] without taking it, or -1. */
  peek(min: number, max: number): number {
    return this.map.findFirstClear(min, max);
  }

  get size(): number {
    return this.map.size;
  }

  ids(): IterableIterator<number> {
    return this.map.ids();
  }

  memoryBytes(): number {
    return this.map.memoryBytes();
  }
}
