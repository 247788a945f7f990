/**
 * Which earlier step made an isolation failure possible. A DMA (or a descriptor) issued for process P that lands
 * outside P's memory got there through state some earlier step left behind; the lab reports that step with the
 * finding, from the write attribution the simulated SoC keeps (hw/attribution.ts):
 *
 * - a translation cached in the SMMU TLB or the endpoint's ATC that outlived its PTE: the munmap that cleared the
 *   PTE and freed the page without the invalidation (the mmu notifier skipped: no TLBI, no ATC_INV);
 * - the CD at the PASID the DMA carried names another address space: of the bind that wrote that CD and the step
 *   that handed P the PASID, the later one (it is the one that made the two meet; the text names both).
 */
import type { FindingCause } from '../../../shared/results.js';
import type { StepTag } from '../hw/attribution.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Device, MmStruct } from '../kernel/structs.js';
import type { DmaChunk } from './dma.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

function cause(by: StepTag, what: string): FindingCause {
  return { step: by.step, op: by.op, text: by.text, what };
}

/** `step N (text)`, for messages. */
export function stepRef(by: StepTag | null | undefined): string {
  return by ? `step ${by.step} (${by.text})` : 'boot';
}

/** The isolation text's tail naming the cause: `; made possible by step 3 (unmap {...}): what`. */
export function causeText(c: FindingCause | null): string {
  return c ? `; made possible by step ${c.step} (${c.text}): ${c.what}` : '';
}

/**
 * The cause of a DMA from `dev` with SubstreamID `ssid` (null: none) issued for `forMm` (null: the kernel) that
 * reached `chunk`'s page (null: a descriptor that crossed without a stray page), or null when the lab cannot tell.
 * `pasidBy` is the step that handed out the PASID used (an open file's or an mm's, see apply.ts notePasids).
 */
export function isolationCause(dev: Device, ssid: number | null, forMm: MmStruct | null, chunk: DmaChunk | null, pasidBy: StepTag | null): FindingCause | null {
  const cd = dev.master.cdTable?.cds.get(ssid ?? 0);
  const cdMm = cd?.domain.mm ?? null;
  if (chunk && (chunk.via === 'tlb' || chunk.via === 'atc') && cdMm?.as?.alive) {
    const now = cdMm.as.pt.lookup(chunk.va);
    const page = chunk.pa - (chunk.pa % 4096);
    if (!now || now.pa - (now.pa % 4096) !== page) {
      const by = cdMm.as.unmappedAt(chunk.va);
      if (by) {
        const how = /notify: false/.test(by.text) ? 'munmap without the mmu notifier' : 'munmap';
        const cache = chunk.via === 'atc' ? `no ATC_INV reached ${dev.name}, whose ATC` : 'no TLBI reached the SMMU, whose TLB';
        return cause(by, `${how} cleared the PTE of ${hex(chunk.va - (chunk.va % 4096))} in ${cdMm.label} and freed PA ${hex(page)}; ${cache} still translates it there`);
      }
    }
  }
  if (cd && cdMm !== forMm) {
    const cdBy = cd.by ?? null;
    const n = ssid ?? 0;
    const who = forMm ? forMm.label : 'the kernel';
    const owner = cdMm ? cdMm.label : `the kernel's ${cd.domain.label}`;
    if (pasidBy && (!cdBy || pasidBy.step > cdBy.step)) {
      return cause(pasidBy, `it handed ${who} PASID ${n}, which on ${dev.name} names ${owner}'s CD (written by ${stepRef(cdBy)})`);
    }
    if (cdBy) return cause(cdBy, `it wrote CD ${n} of ${dev.name} for ${owner}, at the PASID ${who} ${pasidBy ? `was handed by ${stepRef(pasidBy)}` : 'uses'}`);
  }
  return null;
}
