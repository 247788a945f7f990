/**
 * What every device job has in common: the device reads and writes memory through its SMMU with one SubstreamID
 * (or none), transfer by transfer, with deviceDma() doing the translation, the stalls and the IOPF round trips. A
 * job keeps every event and every page it reached, so that the lab can report them and check where the bytes went.
 */
import type { EventName, EventRecord } from '../hw/events.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Device } from '../kernel/structs.js';
import { deviceDma, type DmaChunk } from './dma.js';

/** One transfer of a job. */
export interface Xfer {
  ok: boolean;
  /** Bytes moved before the transfer stopped. */
  done: number;
  /** A read's bytes (the first `done` of them); a write's are the caller's. */
  bytes: Uint8Array;
  /** The event (or 'ABORT') that stopped it; recorded or not. */
  fault: EventName | 'ABORT' | null;
  why: string | null;
  /** The address that could not be translated. */
  faultVa: number | null;
  write: boolean;
}

/** The SMMU faults a device sees as a page fault (a walk through a valid CD failed); anything else is a configuration abort. */
export const PAGE_FAULTS: ReadonlySet<string> = new Set(['F_TRANSLATION', 'F_ADDR_SIZE', 'F_ACCESS', 'F_PERMISSION']);

export class DeviceJob {
  readonly events: EventRecord[] = [];
  readonly reached: DmaChunk[] = [];
  pagesFaultedIn = 0;

  constructor(
    readonly k: Kernel,
    readonly dev: Device,
    /** The SubstreamID every transaction of the job carries (null: none, RID traffic). */
    readonly ssid: number | null,
  ) {}

  read(va: number, length: number): Xfer {
    if (length === 0) return { ok: true, done: 0, bytes: new Uint8Array(0), fault: null, why: null, faultVa: null, write: false };
    return this.xfer(va, length, false, null);
  }

  write(va: number, data: Uint8Array): Xfer {
    if (data.length === 0) return { ok: true, done: 0, bytes: data, fault: null, why: null, faultVa: null, write: true };
    return this.xfer(va, data.length, true, data);
  }

  private xfer(va: number, length: number, write: boolean, data: Uint8Array | null): Xfer {
    const r = deviceDma(this.k, this.dev, this.ssid, va, length, write, data);
    this.events.push(...r.events);
    this.reached.push(...r.reached);
    this.pagesFaultedIn += r.pagesFaultedIn;
    let done = 0;
    for (const c of r.reached) done += c.length;
    return { ok: r.ok, done, bytes: write ? data! : r.bytes, fault: r.fault, why: r.why, faultVa: r.ok ? null : va + done, write };
  }

  /** The reached pages with the owner of their physical memory. */
  landings(): { va: number; pa: number; owner: string }[] {
    return this.reached.map((c) => ({ va: c.va, pa: c.pa, owner: this.k.mem.regionAt(c.pa)?.owner ?? 'unallocated' }));
  }

  /**
   * The first page the job reached outside memory owned by `ownerPrefix` (`page:<mm label>@` for a process's pages,
   * `dma-buf:` for kernel DMA buffers), or null.
   */
  stray(ownerPrefix: string): { va: number; pa: number; owner: string } | null {
    const c = this.strayChunk(ownerPrefix);
    return c ? { va: c.va, pa: c.pa, owner: c.owner } : null;
  }

  /** stray() with how the page was translated (for attribution). */
  strayChunk(ownerPrefix: string): (DmaChunk & { owner: string }) | null {
    for (const c of this.reached) {
      const owner = this.k.mem.regionAt(c.pa)?.owner ?? 'unallocated';
      if (!owner.startsWith(ownerPrefix)) return { ...c, owner };
    }
    return null;
  }
}

/** Hex bytes ("deadbeef") to bytes; null for undefined. */
export function hexToBytes(s: string | undefined): Uint8Array | null {
  if (s === undefined) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `length` bytes of `pattern` repeated. */
export function repeatPattern(pattern: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  if (pattern.length === 0) return out;
  for (let i = 0; i < length; i++) out[i] = pattern[i % pattern.length]!;
  return out;
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
