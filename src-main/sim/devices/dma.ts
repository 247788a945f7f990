/**
 * The data path: a device's DMA through its SMMU, page by page, with the driver's event handling in between.
 *
 * - arm_smmu_evtq_thread() / arm_smmu_handle_event() (arm-smmu-v3.c): events are drained from the event queue;
 *   a stalled fault is reported through iommu_report_device_fault() to the SVA IOPF handler
 *   (iommu_sva_iopf_handler -> handle_mm_fault on domain->mm), and answered with CMD_RESUME (retry or abort);
 *   anything else is logged and dropped (§5.8, §5.9).
 * - A PCI master is never stall-enabled (unless the SMMU forces stalls). With ATS enabled it translates through its
 *   ATC and ATS Translation Requests; with PRI enabled too, a failed translation becomes a Page Request in the PRI
 *   queue, which mainline's arm_smmu_handle_ppr() denies (PRI_RESP_DENY): the DMA fails, no event is recorded.
 */
import type { EventRecord, EventName } from '../hw/events.js';
import { pprLogDetail, type PriRecord } from '../hw/priq.js';
import type { Txn, TxnResult } from '../hw/smmu.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Device } from '../kernel/structs.js';
import { armSmmuCmd, type ArmSmmuDevice } from '../smmuv3/driver.js';

/** The faults of a walk through a valid CD (what ATS reports to the endpoint). */
const PAGE_FAULTS: ReadonlySet<string> = new Set(['F_TRANSLATION', 'F_ADDR_SIZE', 'F_ACCESS', 'F_PERMISSION']);

export interface DmaChunk {
  va: number;
  pa: number;
  length: number;
  /** How the SMMU (or the endpoint's ATC) translated it: a fresh walk, a TLB hit, bypass, or an ATC hit. */
  via: 'walk' | 'tlb' | 'bypass' | 'atc';
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
  /** PCIe Page Requests the endpoint sent (ATS + PRI), each answered by the driver's PRI queue thread. */
  pageRequests: PriRecord[];
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
 * arm_smmu_priq_thread() -> arm_smmu_handle_ppr() (arm-smmu-v3.c): drains the PRI queue. Mainline SMMUv3 does not
 * service page requests: each is logged as "unexpected PRI request received", and the last request of a group is
 * answered with CMD_PRI_RESP PRI_RESP_DENY (arm_smmu_cmdq_issue_cmd: no CMD_SYNC follows).
 */
export function armSmmuPriqThread(k: Kernel, smmu: ArmSmmuDevice): PriRecord[] {
  const q = smmu.hw.priq;
  if (!q) return [];
  const recs = q.drain();
  for (const r of recs) {
    let resp: 'deny' | null = null;
    if (k.tr.on) k.tr.note(`priq ${smmu.name}: unexpected PRI request received: ${pprLogDetail(r)}`);
    if (r.last) {
      resp = 'deny';
      armSmmuCmd(k, smmu, { op: 'PRI_RESP', sid: r.sid, ssid: r.ssid, ssv: r.ssv, grpid: r.grpid, resp: 'deny' });
    }
    smmu.hw.logPri(r, resp);
  }
  if (q.overflowed > 0 && k.tr.on) k.tr.note(`priq ${smmu.name}: PRIQ overflow detected -- requests lost (${q.overflowed} so far)`);
  return recs;
}

/** Where one page of a transfer was translated, or why it was not. */
type PageOutcome = { ok: true; pa: number; via: DmaChunk['via'] } | { ok: false; fault: EventName | 'ABORT'; why: string };

/**
 * One untranslated access through the SMMU, with the stall round trip: a stalled fault goes through the event
 * thread to IOPF, and a RESUME retry translates once more.
 */
function untranslated(k: Kernel, smmu: ArmSmmuDevice, txn: Txn, events: EventRecord[], res: { pagesFaultedIn: number }): TxnResult {
  const hw = smmu.hw;
  let r = hw.translate(txn);
  if (!r.ok && r.stalled) {
    events.push(...armSmmuEvtqThread(k, smmu));
    const held = hw.stalled.get(r.stag);
    hw.stalled.delete(r.stag);
    if (held?.resumed === 'retry') {
      res.pagesFaultedIn++;
      r = hw.translate(txn);
      if (!r.ok && r.stalled) {
        // A second stall on the same access: give up (the IOPF handler already ran once).
        events.push(...armSmmuEvtqThread(k, smmu));
        hw.stalled.delete(r.stag);
      }
    }
  }
  return r;
}

/**
 * One page through ATS (PCIe §10.2; SMMUv3 §3.9): the endpoint's ATC first; on a miss an ATS Translation Request,
 * whose answer the ATC keeps, then a Translated request the SMMU passes through (STE.EATS). A Translation Request
 * that fails with a stage-1 fault is answered R = W = 0 without an event. Then an endpoint with PRI enabled sends a
 * Page Request, which mainline denies (the DMA fails, nothing is recorded in the event queue); one without PRI
 * issues the access untranslated, which faults (and records) as any other [I: what an endpoint does after R = W = 0
 * is its own choice; these two are the ones PCIe describes].
 */
function atsPage(k: Kernel, dev: Device, txn: Txn, events: EventRecord[], res: { pagesFaultedIn: number; pri: PriRecord[] }): PageOutcome {
  const smmu = dev.smmu;
  const hw = smmu.hw;
  const master = dev.master;
  const atc = master.atc!;
  const off = txn.va % 4096;
  const hit = atc.lookup(txn.ssid, txn.va);
  if (hit && (!txn.write || hit.write)) {
    const t = hw.translated({ sid: txn.sid, ssid: txn.ssid, va: hit.pa + off, write: txn.write });
    return t.ok ? { ok: true, pa: hit.pa + off, via: 'atc' } : { ok: false, fault: t.fault, why: t.why };
  }
  const tr = hw.translate({ ...txn, ats: true });
  if (tr.ok && (!txn.write || hw.atsWritable)) {
    atc.insert(txn.ssid, txn.va, tr.pa, hw.atsWritable);
    const t = hw.translated({ sid: txn.sid, ssid: txn.ssid, va: tr.pa, write: txn.write });
    return t.ok ? { ok: true, pa: tr.pa, via: tr.via } : { ok: false, fault: t.fault, why: t.why };
  }
  // The Translation Completion refused the access: a stage-1 fault (not recorded) or a read-only page for a write.
  const fault: EventName | 'ABORT' = tr.ok ? 'F_PERMISSION' : tr.fault;
  const why = tr.ok ? 'the ATS Translation Completion grants no write access' : tr.why;
  if (!tr.ok && tr.event !== null) return { ok: false, fault, why }; // a configuration error, recorded
  if (!tr.ok && !PAGE_FAULTS.has(tr.fault)) return { ok: false, fault, why };
  if (master.pciCaps.pri) {
    const grpid = master.nextPrg;
    master.nextPrg = (grpid + 1) % 512;
    const rec: PriRecord = { sid: txn.sid, ssv: txn.ssid !== null, ssid: txn.ssid ?? 0, read: !txn.write, write: txn.write, exec: false, priv: false, last: true, grpid, addr: txn.va - off };
    if (k.tr.on) k.tr.note(`dma ${dev.name}: ATS translation of 0x${txn.va.toString(16)} failed (${fault}, reported to the endpoint); Page Request, PRG ${grpid}`);
    if (!hw.pageRequest(rec)) {
      return { ok: false, fault, why: `${why}; the Page Request was not accepted (${hw.priq ? 'PRI queue full' : `${smmu.name} has no PRI queue: SMMU_IDR0.PRI = 0`}): no response, the device gives up` };
    }
    res.pri.push(rec);
    armSmmuPriqThread(k, smmu);
    const resp = hw.takePriResponse(txn.sid, grpid);
    if (resp === 'success') return atsPage(k, dev, txn, events, res); // not reached with mainline's handler
    return { ok: false, fault, why: `${why}; ATS Translation Request refused (R = W = 0), Page Request (PRG ${grpid}) answered ${resp === 'failure' ? 'PRI_RESP_FAIL' : 'PRI_RESP_DENY'} by arm_smmu_handle_ppr: the page stays absent` };
  }
  const r = untranslated(k, smmu, txn, events, res);
  return r.ok ? { ok: true, pa: r.pa, via: r.via } : { ok: false, fault: r.fault, why: r.why };
}

/**
 * One DMA from `dev`: `length` bytes at `va`, tagged with `ssid` (null: no SubstreamID). A write stores `data`
 * (repeated if shorter than `length`); a read returns what it read. An ATS-enabled endpoint (master->ats_enabled)
 * goes through its ATC and ATS Translation Requests (atsPage); a forged StreamID never does.
 */
export function deviceDma(k: Kernel, dev: Device, ssid: number | null, va: number, length: number, write: boolean, data: Uint8Array | null, sid = dev.sid): DmaResult {
  const smmu = dev.smmu;
  const fn = 'dma';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, sid, ssid, va, length, write });
  const out = new Uint8Array(length);
  if (write) for (let i = 0; i < length; i++) out[i] = data && data.length ? data[i % data.length]! : i & 0xff;
  const events: EventRecord[] = [];
  const reached: DmaChunk[] = [];
  const acc = { pagesFaultedIn: 0, pri: [] as PriRecord[] };
  const ats = dev.master.atsEnabled && dev.master.atc !== null && sid === dev.sid;
  if (ats) k.dirty.masters.add(dev.master); // its ATC and counters change
  let done = 0;
  let fault: EventName | 'ABORT' | null = null;
  let why: string | null = null;
  while (done < length) {
    const cur = va + done;
    const n = Math.min(length - done, 4096 - (cur % 4096));
    const txn: Txn = { sid, ssid, va: cur, write };
    let page: PageOutcome;
    if (ats) page = atsPage(k, dev, txn, events, acc);
    else {
      const r = untranslated(k, smmu, txn, events, acc);
      page = r.ok ? { ok: true, pa: r.pa, via: r.via } : { ok: false, fault: r.fault, why: r.why };
    }
    if (!page.ok) {
      fault = page.fault;
      why = page.why;
      break;
    }
    reached.push({ va: cur, pa: page.pa, length: n, via: page.via });
    if (write) k.mem.writeBytes(page.pa, out.subarray(done, done + n));
    else k.mem.readBytesInto(page.pa, out, done, n);
    done += n;
  }
  events.push(...armSmmuEvtqThread(k, smmu));
  const res: DmaResult = { ok: fault === null, bytes: write ? out : out.subarray(0, done), events, fault, why, reached, pagesFaultedIn: acc.pagesFaultedIn, pageRequests: acc.pri };
  if (k.tr.on) {
    for (const c of reached) k.tr.note(`dma ${dev.name}: va 0x${c.va.toString(16)} -> pa 0x${c.pa.toString(16)} (${k.mem.regionAt(c.pa)?.owner ?? 'unallocated'}), ${c.length} bytes ${write ? 'written' : 'read'}${c.via === 'atc' ? ', through the ATC' : ''}`);
  }
  return k.tr.leave(fn, { ok: res.ok, fault, bytes: done, events: events.map((e) => e.id) }) && res;
}
