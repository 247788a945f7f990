/**
 * The data path: a device's DMA through its SMMU, page by page, with the driver's event handling in between.
 *
 * - arm_smmu_evtq_thread() / arm_smmu_handle_event() (arm-smmu-v3.c): events are drained from the event queue;
 *   a stalled fault is reported through iommu_report_device_fault() to the SVA IOPF handler
 *   (iommu_sva_iopf_handler -> handle_mm_fault on domain->mm), and answered with CMD_RESUME (retry or abort);
 *   anything else is logged and dropped (§5.8, §5.9).
 * - PCIe page requests are not modelled as PRI traffic: a PCI master is never stall-enabled, so its faults are
 *   recorded and the DMA fails, as with mainline SMMUv3, which denies every page request.
 */
import type { EventRecord, EventName } from '../hw/events.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Device } from '../kernel/structs.js';
import { armSmmuCmd, type ArmSmmuDevice } from '../smmuv3/driver.js';

export interface DmaChunk {
  va: number;
  pa: number;
  length: number;
}

export interface DmaResult {
  ok: boolean;
  /** Bytes read (for a read), or the bytes written. */
  bytes: Uint8Array;
  /** Events the SMMU recorded during the transfer, in order. */
  events: EventRecord[];
  /** The event (or 'ABORT') that terminated the transfer. */
  fault: EventName | 'ABORT' | null;
  why: string | null;
  /** Where each page of the transfer landed. */
  reached: DmaChunk[];
  /** Stalls that the IOPF handler resolved by faulting a page in. */
  pagesFaultedIn: number;
}

/** arm_smmu_evtq_thread(): drains the event queue; stalled faults go to IOPF and get a RESUME. */
export function armSmmuEvtqThread(k: Kernel, smmu: ArmSmmuDevice): EventRecord[] {
  const events = smmu.hw.evtq.drain();
  for (const e of events) {
    k.smmuEvents.push({ smmu: smmu.name, record: e });
    if (k.smmuEvents.length > 8192) k.smmuEvents.splice(0, 4096); // amortised: keep at least the last 4096
    if (k.tr.on) k.tr.note(`evtq ${smmu.name}: ${e.id} sid=0x${e.sid.toString(16)}${e.ssv ? ` ssid=${e.ssid}` : ''} addr=0x${e.addr.toString(16)}${e.stall ? ` stall stag=${e.stag}` : ''}`);
    if (!e.stall) continue; // arm_smmu_handle_event(): not stalled -> -EOPNOTSUPP, logged (ratelimited) and dropped
    const resp = iopfHandle(k, smmu, e);
    armSmmuCmd(k, smmu, { op: 'RESUME', sid: e.sid, stag: e.stag, resp });
    armSmmuCmd(k, smmu, { op: 'CMD_SYNC' });
  }
  if (smmu.hw.evtq.overflowed > 0 && k.tr.on) k.tr.note(`evtq ${smmu.name}: overflow, ${smmu.hw.evtq.overflowed} event(s) lost so far`);
  return events;
}

/**
 * iommu_report_device_fault() -> iommu_sva_iopf_handler() -> handle_mm_fault(): finds the domain the faulting
 * (SID, SSID) is attached to and faults the page in on its mm. Returns the page response.
 */
function iopfHandle(k: Kernel, smmu: ArmSmmuDevice, e: EventRecord): 'retry' | 'abort' {
  const master = smmu.streams.get(e.sid);
  if (!master) return 'abort';
  const entry = e.ssv ? master.dev.group.pasidArray.load(e.ssid) : undefined;
  const domain = entry?.tag === 'HANDLE' ? entry.handle.domain : null;
  const mm = domain?.type === 'SVA' ? domain.mm : null;
  if (!mm || !mm.as || mm.mmUsers === 0) {
    if (k.tr.on) k.tr.note(`iopf: no live address space for sid=0x${e.sid.toString(16)} ssid=${e.ssid}: IOMMU_PAGE_RESP_INVALID`);
    return 'abort';
  }
  const r = mm.as.populate(e.addr - (e.addr % 4096), !e.rnw);
  if (k.tr.on) k.tr.note(`iopf: handle_mm_fault(${mm.label}, 0x${e.addr.toString(16)}, ${e.rnw ? 'read' : 'write'}) -> ${r}`);
  k.dirty.mms.add(mm);
  return r === 'segv' ? 'abort' : 'retry';
}

/**
 * One DMA from `dev`: `length` bytes at `va`, tagged with `ssid` (null: no SubstreamID). A write stores `data`
 * (repeated if shorter than `length`); a read returns what it read.
 */
export function deviceDma(k: Kernel, dev: Device, ssid: number | null, va: number, length: number, write: boolean, data: Uint8Array | null, sid = dev.sid): DmaResult {
  const smmu = dev.smmu;
  const hw = smmu.hw;
  const fn = 'dma';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, sid, ssid, va, length, write });
  const out = new Uint8Array(length);
  if (write) for (let i = 0; i < length; i++) out[i] = data && data.length ? data[i % data.length]! : i & 0xff;
  const events: EventRecord[] = [];
  const reached: DmaChunk[] = [];
  let pagesFaultedIn = 0;
  let done = 0;
  let fault: EventName | 'ABORT' | null = null;
  let why: string | null = null;
  while (done < length) {
    const cur = va + done;
    const n = Math.min(length - done, 4096 - (cur % 4096));
    const txn = { sid, ssid, va: cur, write };
    let r = hw.translate(txn);
    if (!r.ok && r.stalled) {
      events.push(...armSmmuEvtqThread(k, smmu));
      const held = hw.stalled.get(r.stag);
      hw.stalled.delete(r.stag);
      if (held?.resumed === 'retry') {
        pagesFaultedIn++;
        r = hw.translate(txn);
        if (!r.ok && r.stalled) {
          // A second stall on the same access: give up (the IOPF handler already ran once).
          events.push(...armSmmuEvtqThread(k, smmu));
          hw.stalled.delete(r.stag);
        }
      }
    }
    if (!r.ok) {
      fault = r.fault;
      why = r.why;
      break;
    }
    reached.push({ va: cur, pa: r.pa, length: n });
    if (write) k.mem.writeBytes(r.pa, out.subarray(done, done + n));
    else out.set(k.mem.readBytes(r.pa, n), done);
    done += n;
  }
  events.push(...armSmmuEvtqThread(k, smmu));
  const res: DmaResult = { ok: fault === null, bytes: write ? out : out.subarray(0, done), events, fault, why, reached, pagesFaultedIn };
  if (k.tr.on) {
    for (const c of reached) k.tr.note(`dma ${dev.name}: va 0x${c.va.toString(16)} -> pa 0x${c.pa.toString(16)} (${k.mem.regionAt(c.pa)?.owner ?? 'unallocated'}), ${c.length} bytes ${write ? 'written' : 'read'}`);
  }
  return k.tr.leave(fn, { ok: res.ok, fault, bytes: done, events: events.map((e) => e.id) }) && res;
}
