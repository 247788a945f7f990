/**
 * The SMMUv3 hardware: ID registers, the stream table base the driver programs, the command queue it consumes, the
 * event queue it produces, a configuration cache and a TLB, and the translation of one transaction. After the Arm
 * SMMUv3 specification (§3.21 structure access rules, §5.2 STE, §5.3 CD, §7.3 events) and the structure of QEMU's
 * hw/arm/smmuv3.c: find STE -> decode STE -> fetch CD -> decode CD -> walk, faults carried as one value and recorded
 * in one place.
 *
 * The hardware reads only bytes in PhysMemory. What it has cached it keeps serving until an invalidation command
 * says otherwise, as real hardware does: a table changed without CFGI/TLBI shows up as a stale translation.
 */
import { decodeCd, decodeCdL1, type CdFields } from './cd.js';
import type { Cmd } from './commands.js';
import { type EventName, type EventRecord } from './events.js';
import type { PhysMemory } from './memory.js';
import { walkStage1 } from './pagetable.js';
import { IndexMap, WideIndexMap } from '../index-map.js';
import { PriQueue, type PriRecord } from './priq.js';
import type { Atc } from './atc.js';
import { decodeSte, decodeStrtabL1, EATS, S1DSS, S1FMT, STE_CONFIG, type SteFields } from './ste.js';

/** ID registers as fields (SMMU_IDR0, SMMU_IDR1, SMMU_IDR5), configurable per instance. */
export interface SmmuIdRegs {
  idr0: { stLevel: 0 | 1; stallModel: 0 | 1 | 2; cd2l: boolean; pri: boolean; ats: boolean; asid16: boolean; s1p: boolean; s2p: boolean };
  idr1: { ssidsize: number; sidsize: number };
  idr5: { oas: number /* bits */; gran4k: boolean };
}

/** SMMU_STRTAB_BASE / SMMU_STRTAB_BASE_CFG as the driver programs them (arm_smmu_write_strtab). */
export interface StrtabConfig {
  base: number;
  fmt: 'linear' | '2lvl';
  log2size: number;
  split: number;
}

/** One transaction from a device (a DMA, or an ENQCMD completion write). */
export interface Txn {
  sid: number;
  /** The SubstreamID, or null for a transaction without one (SSV = 0). */
  ssid: number | null;
  va: number;
  write: boolean;
  /**
   * A PCIe ATS Translation Request rather than an access (SMMUv3 §3.9.1): the SMMU answers with the translation
   * instead of moving data. Needs STE.EATS; its stage-1 faults are reported to the endpoint in the Translation
   * Completion, not recorded as events and never stalled.
   */
  ats?: boolean;
}

export type TxnResult =
  | { ok: true; pa: number; via: 'tlb' | 'walk' | 'bypass'; asid: number | null }
  /** Terminated: `event` is what was recorded (null when nothing is, e.g. an abort STE or CD.R = 0). */
  | { ok: false; fault: EventName | 'ABORT'; event: EventName | null; stalled: boolean; stag: number; why: string };

export interface CmdLogEntry {
  seq: number;
  cmd: Cmd;
}

/** The faults of a walk through a valid CD: what an ATS Translation Completion reports to the endpoint instead. */
const WALK_FAULTS: ReadonlySet<string> = new Set(['F_TRANSLATION', 'F_ADDR_SIZE', 'F_ACCESS', 'F_PERMISSION']);

/** Page requests kept for the views. */
const PRI_LOG_MAX = 64;

/** Bounded record of what the driver asked for, for the views (the real queue is a ring the SMMU consumes). */
const CMD_LOG_MAX = 4096;

interface TlbEntry {
  pa: number; // page base
  write: boolean;
}

/** Per-SID cached configuration: the decoded STE and the CDs fetched through it. */
interface CfgEntry {
  ste: SteFields;
  /** The CDs fetched through it, by SSID + 1 (0: the CD used by SSV = 0 traffic). */
  cds: IndexMap<CdFields>;
}

export class EventQueue {
  readonly entries: EventRecord[] = [];
  /** Stall records that found the queue full: never discarded, delivered once there is room (spec §7.4). */
  private readonly deferred: EventRecord[] = [];
  /** Events the SMMU could not write because the queue was full (SMMU_EVTQ_PROD.OVFLG toggles). */
  overflowed = 0;
  produced = 0;
  constructor(readonly capacity: number) {}

  push(e: EventRecord): boolean {
    if (this.entries.length >= this.capacity) {
      if (e.stall) {
        this.deferred.push(e);
        this.produced++;
        return true;
      }
      this.overflowed++;
      return false;
    }
    this.entries.push(e);
    this.produced++;
    return true;
  }

  /** The driver's consumer (arm_smmu_evtq_thread): takes everything pending. */
  drain(): EventRecord[] {
    const out = this.entries.splice(0, this.entries.length);
    // The queue has room again: the held stall records arrive, and the same consumer pass reads them.
    while (this.deferred.length && this.entries.length < this.capacity) this.entries.push(this.deferred.shift()!);
    if (this.entries.length) out.push(...this.entries.splice(0, this.entries.length));
    return out;
  }
}

export class SmmuV3Hw {
  strtab: StrtabConfig | null = null;
  readonly evtq: EventQueue;
  /** The last CMD_LOG_MAX commands, as a ring: entry `seq` lives at `seq % CMD_LOG_MAX`. */
  private readonly cmdRing: Cmd[] = []; // the commands only: an entry's seq is implied by its slot
  cmdSeq = 0;
  readonly stats = { cfgHit: 0, cfgMiss: 0, tlbHit: 0, tlbMiss: 0, events: 0 };
  /**
   * The configuration cache by SID, and the S1 TLB by asid * 2^36 + VA page number (48-bit VA, 4 KiB pages). Not
   * Maps: an invalidation followed by a refill removes and re-adds one key, which in a V8 Map leaves the removed
   * entry in the key's hash chain until the next rehash (index-map.ts), so that with 4,096 pages in the TLB each
   * TLBI_NH_VA + refill of one page cost ~15 us instead of ~0.5 us (bench section 5, last row).
   */
  private readonly cfg = new IndexMap<CfgEntry>();
  private readonly tlb = new WideIndexMap<TlbEntry>();
  /** Transactions held by a stall, by STAG, until CMD_RESUME. */
  readonly stalled = new Map<number, { txn: Txn; resumed: 'retry' | 'abort' | null }>();
  private nextStag = 1;
  /** The PRI queue, when SMMU_IDR0.PRI says there is one (the driver enables it: arm_smmu_device_reset CR0.PRIQEN). */
  readonly priq: PriQueue | null;
  /** The ATCs of ATS-capable endpoints, by StreamID: where CMD_ATC_INV's ATS Invalidate Requests go. */
  readonly endpoints = new Map<number, Atc>();
  /** PRI responses sent by CMD_PRI_RESP, by (SID, PRG index), until the endpoint takes them. */
  readonly priResponses = new Map<number, 'success' | 'deny' | 'failure'>();
  /** Whether the last successful ATS Translation Request granted write access (read by the endpoint at once). */
  atsWritable = false;
  /** The last PRI_LOG_MAX page requests the driver consumed, with the response it sent (null: none, not last). */
  readonly priLog: { record: PriRecord; resp: 'deny' | null }[] = [];

  constructor(
    readonly name: string,
    readonly mem: PhysMemory,
    readonly regs: SmmuIdRegs,
    evtqLog2 = 8,
    priqLog2 = 8,
  ) {
    this.evtq = new EventQueue(1 << evtqLog2);
    this.priq = regs.idr0.pri ? new PriQueue(1 << priqLog2) : null;
  }

  // --- commands ----------------------------------------------------------------------------------------------

  /** Consumes one command from the command queue (the driver has written it and moved PROD). */
  command(c: Cmd): void {
    this.cmdRing[this.cmdSeq % CMD_LOG_MAX] = c;
    this.cmdSeq++;
    switch (c.op) {
      case 'CFGI_STE':
        this.cfg.delete(c.sid!);
        break;
      case 'CFGI_CD':
        this.cfg.get(c.sid!)?.cds.delete((c.ssid ?? 0) + 1);
        if ((c.ssid ?? 0) === 0) this.cfg.get(c.sid!)?.cds.delete(0);
        break;
      case 'CFGI_CD_ALL':
        this.cfg.get(c.sid!)?.cds.clear();
        break;
      case 'CFGI_ALL':
        this.cfg.clear();
        break;
      case 'TLBI_NH_ASID':
        this.invalidateAsid(c.asid!);
        break;
      case 'TLBI_NH_VA':
        this.tlb.delete(tlbKey(c.asid!, c.addr!));
        break;
      case 'TLBI_NSNH_ALL':
        this.tlb.clear();
        break;
      case 'RESUME': {
        const s = this.stalled.get(c.stag!);
        if (s) s.resumed = c.resp === 'retry' ? 'retry' : 'abort';
        break;
      }
      case 'ATC_INV':
        // The SMMU turns the command into an ATS Invalidate Request to the endpoint with that StreamID.
        this.endpoints.get(c.sid ?? 0)?.invalidate(c);
        break;
      case 'PRI_RESP':
        // A PRG Response Message to the endpoint (PCIe §10.4.2): the request group is answered.
        this.priResponses.set(priKey(c.sid ?? 0, c.grpid ?? 0), c.resp === 'success' ? 'success' : c.resp === 'failure' ? 'failure' : 'deny');
        break;
      case 'CMD_SYNC':
        break;
    }
  }

  /** Every command still in the log (the last CMD_LOG_MAX), oldest first. */
  get cmdLog(): CmdLogEntry[] {
    return this.lastCommands(CMD_LOG_MAX);
  }

  /** The last `n` commands consumed, oldest first (n <= CMD_LOG_MAX). */
  lastCommands(n: number): CmdLogEntry[] {
    const out: CmdLogEntry[] = [];
    for (let s = Math.max(0, this.cmdSeq - Math.min(n, CMD_LOG_MAX)); s < this.cmdSeq; s++) out.push({ seq: s, cmd: this.cmdRing[s % CMD_LOG_MAX]! });
    return out;
  }

  /** TLBI_NH_ASID: the ASID's pages are the keys asid * 2^36 .. + 2^36, i.e. 16 whole high parts of the TLB's keys. */
  private invalidateAsid(asid: number): void {
    for (let h = asid * 16; h < asid * 16 + 16; h++) this.tlb.deleteHigh(h);
  }

  tlbSize(): number {
    return this.tlb.size;
  }

  // --- translation -------------------------------------------------------------------------------------------

  translate(t: Txn): TxnResult {
    const ssv = t.ssid !== null;
    const cfg = this.config(t.sid);
    if ('fault' in cfg) return this.fail(t, cfg.fault, true, false, cfg.why);
    const ste = cfg.ste;
    if (!ste.v) return this.fail(t, 'C_BAD_STE', true, false, `STE ${t.sid} has V = 0`);
    const config = ste.config;
    if ((config & 4) === 0) return this.fail(t, 'ABORT', false, false, `STE ${t.sid} is an abort STE (Config ${config}): no event is recorded`);
    // A Translation Request to a stream whose STE does not allow ATS (EATS = 0b00, or a bypass STE, which treats
    // ATS as disabled): F_BAD_ATS_TREQ (SMMUv3 §5.2 STE.EATS; the kernel's note in arm_smmu_attach_prepare).
    if (t.ats && (ste.eats !== EATS.TRANS || config === STE_CONFIG.BYPASS)) return this.fail(t, 'F_BAD_ATS_TREQ', true, false, `STE ${t.sid} has EATS ${ste.eats}${config === STE_CONFIG.BYPASS ? ' and is a bypass STE' : ''}: ATS Translation Requests are not allowed`);
    const s1 = (config & 1) === 1;
    if (!s1) {
      if (ssv) return this.fail(t, 'C_BAD_SUBSTREAMID', true, false, `STE ${t.sid} has stage 1 disabled (Config ${config}) and the transaction carries SSID ${t.ssid}`);
      if (config === STE_CONFIG.BYPASS) return this.okBypass(t);
      return this.fail(t, 'F_TRANSLATION', true, false, 'stage-2 translation is not modelled: every stage-2 access faults');
    }
    let key: number; // which CD
    if (ssv) {
      if (this.regs.idr1.ssidsize === 0) return this.fail(t, 'C_BAD_SUBSTREAMID', true, false, 'SMMU_IDR1.SSIDSIZE is 0: no SubstreamID may be supplied');
      if (ste.s1CdMax === 0) return this.fail(t, 'C_BAD_SUBSTREAMID', true, false, `STE ${t.sid} has S1CDMax 0 (substreams disabled)`);
      if (t.ssid! >= 2 ** ste.s1CdMax) return this.fail(t, 'C_BAD_SUBSTREAMID', true, false, `SSID ${t.ssid} >= 2^S1CDMax (${2 ** ste.s1CdMax})`);
      if (t.ssid === 0 && ste.s1dss === S1DSS.SSID0) return this.fail(t, 'F_STREAM_DISABLED', true, false, 'S1DSS is SSID0 and the transaction supplies SSID 0');
      key = t.ssid!;
    } else if (ste.s1CdMax === 0) {
      key = -1; // S1ContextPtr points at one CD
    } else if (ste.s1dss === S1DSS.TERMINATE) {
      return this.fail(t, 'F_STREAM_DISABLED', true, false, 'no SSID and S1DSS is TERMINATE');
    } else if (ste.s1dss === S1DSS.BYPASS) {
      return this.okBypass(t);
    } else {
      key = -1; // S1DSS SSID0: CD 0
    }
    const cd = this.cd(t.sid, cfg, key);
    if ('fault' in cd) return this.fail(t, cd.fault, true, false, cd.why);
    if (!cd.v) return this.fail(t, 'C_BAD_CD', true, false, `CD ${key < 0 ? 0 : key} of SID ${t.sid} has V = 0`);
    // ILLEGAL CD configurations behave as V = 0 (spec §5.4): T0SZ outside the 4 KiB-granule range, a TTB0 above the
    // effective output size.
    const ips = Math.min(IPS_BITS[cd.ips] ?? 52, this.regs.idr5.oas);
    // With EPD0 set no walk happens and TTB0/T0SZ are not used: Linux's fault-everything CD (T0SZ 0) stays valid.
    if (!cd.epd0 && (cd.t0sz < 16 || cd.t0sz > 39)) return this.fail(t, 'C_BAD_CD', true, false, `CD ${key < 0 ? 0 : key} is ILLEGAL: T0SZ ${cd.t0sz} outside 16..39`);
    if (!cd.epd0 && cd.ttb0 >= 2 ** ips) return this.fail(t, 'C_BAD_CD', true, false, `CD ${key < 0 ? 0 : key} is ILLEGAL: TTB0 0x${cd.ttb0.toString(16)} above the ${ips}-bit output size`);
    const record = cd.r;
    const stall = cd.s && !ste.s1stalld && this.regs.idr0.stallModel !== 1;
    if (cd.epd0) return this.fail(t, 'F_TRANSLATION', record, stall, `CD ${key < 0 ? 0 : key} has EPD0 set: every walk faults`);
    const tk = tlbKey(cd.asid, t.va);
    const hit = this.tlb.get(tk);
    if (hit) {
      this.stats.tlbHit++;
      if (t.write && !hit.write) return this.fail(t, 'F_PERMISSION', record, stall, `write to a read-only page (TLB, ASID ${cd.asid})`);
      this.atsWritable = hit.write;
      return { ok: true, pa: hit.pa + (t.va % 4096), via: 'tlb', asid: cd.asid };
    }
    this.stats.tlbMiss++;
    const w = walkStage1(this.mem, cd.ttb0, t.va, { write: t.write }, cd.t0sz, ips);
    if (!w.ok) {
      const ev: EventName = w.fault === 'translation' ? 'F_TRANSLATION' : w.fault === 'access' ? 'F_ACCESS' : w.fault === 'permission' ? 'F_PERMISSION' : 'F_ADDR_SIZE';
      return this.fail(t, ev, record, stall, `stage-1 walk through TTB0 0x${cd.ttb0.toString(16)} faulted at level ${w.level} (${w.fault})`);
    }
    const base = w.pa - (t.va % 4096);
    this.tlb.set(tk, { pa: base, write: w.write });
    this.atsWritable = w.write;
    return { ok: true, pa: w.pa, via: 'walk', asid: cd.asid };
  }

  private okBypass(t: Txn): TxnResult {
    this.atsWritable = true;
    return { ok: true, pa: t.va, via: 'bypass', asid: null };
  }

  /**
   * A Translated request from an ATS endpoint (the address came from its ATC): with SMMU_CR0.ATSCHK set, as Linux
   * sets it when it has ARM_SMMU_FEAT_ATS (arm_smmu_device_reset), the SMMU checks the stream's STE allows ATS and
   * passes the address through untranslated; otherwise F_TRANSL_FORBIDDEN (SMMUv3 §3.9.1.1, §5.2 STE.EATS).
   */
  translated(t: Txn): TxnResult {
    const cfg = this.config(t.sid);
    if ('fault' in cfg) return this.fail(t, cfg.fault, true, false, cfg.why);
    const ste = cfg.ste;
    if (!ste.v) return this.fail(t, 'C_BAD_STE', true, false, `STE ${t.sid} has V = 0`);
    if ((ste.config & 4) === 0) return this.fail(t, 'ABORT', false, false, `STE ${t.sid} is an abort STE (Config ${ste.config}): no event is recorded`);
    if (ste.eats !== EATS.TRANS || ste.config === STE_CONFIG.BYPASS) return this.fail(t, 'F_TRANSL_FORBIDDEN', true, false, `a Translated request on SID ${t.sid}, whose STE has EATS ${ste.eats}`);
    return { ok: true, pa: t.va, via: 'bypass', asid: null };
  }

  /**
   * A PCIe Page Request arriving from an endpoint: written to the PRI queue (SMMUv3 §8.1). Without IDR0.PRI there
   * is no queue to take it and nothing is recorded [U: the endpoint then waits for a response that never comes;
   * the lab's devices give up at once]. Returns whether the request was queued.
   */
  pageRequest(r: PriRecord): boolean {
    if (!this.priq) return false;
    this.priResponses.delete(priKey(r.sid, r.grpid));
    return this.priq.push(r);
  }

  /** The driver's record of a page request it consumed (bounded, for the views). */
  logPri(record: PriRecord, resp: 'deny' | null): void {
    this.priLog.push({ record, resp });
    if (this.priLog.length > PRI_LOG_MAX) this.priLog.splice(0, this.priLog.length - PRI_LOG_MAX);
  }

  /** The endpoint takes the response to its request group, if one was sent. */
  takePriResponse(sid: number, grpid: number): 'success' | 'deny' | 'failure' | undefined {
    const k = priKey(sid, grpid);
    const r = this.priResponses.get(k);
    this.priResponses.delete(k);
    return r;
  }

  /** The configuration cache: STE by SID, fetched from the stream table on a miss. */
  private config(sid: number): CfgEntry | { fault: EventName; why: string } {
    const hit = this.cfg.get(sid);
    if (hit) {
      this.stats.cfgHit++;
      return hit;
    }
    this.stats.cfgMiss++;
    const st = this.strtab;
    if (!st) return { fault: 'C_BAD_STREAMID', why: 'the stream table is not configured' };
    let stePa: number;
    if (st.fmt === 'linear') {
      if (sid >= 2 ** st.log2size) return { fault: 'C_BAD_STREAMID', why: `SID ${sid} >= 2^${st.log2size} (linear stream table)` };
      stePa = st.base + sid * 64;
    } else {
      if (sid >= 2 ** st.log2size) return { fault: 'C_BAD_STREAMID', why: `SID ${sid} is outside the ${st.log2size}-bit 2-level stream table` };
      const l1 = decodeStrtabL1(this.mem.readWords(st.base + Math.floor(sid / 2 ** st.split) * 8, 2));
      const idx = sid % 2 ** st.split;
      if (l1.span === 0 || idx >= 2 ** (l1.span - 1)) return { fault: 'C_BAD_STREAMID', why: `L1 stream table descriptor for SID ${sid} is invalid (Span ${l1.span})` };
      stePa = l1.l2ptr + idx * 64;
    }
    if (!this.mem.regionAt(stePa)) return { fault: 'F_STE_FETCH', why: `STE ${sid} would be fetched from unbacked PA 0x${stePa.toString(16)} (external abort)` };
    const e: CfgEntry = { ste: decodeSte(this.mem.readWords(stePa, 16)), cds: new IndexMap() };
    this.cfg.set(sid, e);
    return e;
  }

  /** A CD through the cache; key -1 is the CD for SSV = 0 traffic (CD 0, or the single CD when S1CDMax = 0). */
  private cd(sid: number, cfg: CfgEntry, key: number): CdFields | { fault: EventName; why: string } {
    const hit = cfg.cds.get(key + 1);
    if (hit) return hit;
    const ste = cfg.ste;
    const ssid = key < 0 ? 0 : key;
    let cdPa: number;
    if (ste.s1CdMax === 0 || ste.s1fmt === S1FMT.LINEAR || ste.s1fmt === 3) {
      cdPa = ste.s1ContextPtr + ssid * 64;
    } else {
      const leafBits = ste.s1fmt === S1FMT.L2_4K ? 6 : 10;
      const l1 = decodeCdL1(this.mem.readWords(ste.s1ContextPtr + Math.floor(ssid / 2 ** leafBits) * 8, 2));
      if (!l1.valid) return { fault: 'C_BAD_SUBSTREAMID', why: `L1 CD descriptor ${Math.floor(ssid / 2 ** leafBits)} for SSID ${ssid} has V = 0` };
      cdPa = l1.l2ptr + (ssid % 2 ** leafBits) * 64;
    }
    if (!this.mem.regionAt(cdPa)) return { fault: 'F_CD_FETCH', why: `CD ${ssid} of SID ${sid} would be fetched from unbacked PA 0x${cdPa.toString(16)} (external abort)` };
    const cd = decodeCd(this.mem.readWords(cdPa, 16));
    cfg.cds.set(key + 1, cd);
    return cd;
  }

  private fail(t: Txn, fault: EventName | 'ABORT', record: boolean, stall: boolean, why: string): TxnResult {
    // An ATS Translation Request that meets a stage-1 fault is answered with R = W = 0: the endpoint is told, the
    // event queue is not, and nothing stalls (SMMUv3 §3.9.1.2) [I].
    if (t.ats && WALK_FAULTS.has(fault)) {
      record = false;
      stall = false;
    }
    let stag = 0;
    if (stall) {
      stag = this.nextStag++;
      this.stalled.set(stag, { txn: t, resumed: null });
    }
    let event: EventName | null = null;
    if (fault !== 'ABORT' && (record || stall)) {
      const e: EventRecord = { id: fault, sid: t.sid, ssv: t.ssid !== null, ssid: t.ssid ?? 0, stall, stag, rnw: !t.write, pnu: false, ind: false, addr: t.va };
      if (this.evtq.push(e)) {
        event = fault;
        this.stats.events++;
      }
    }
    return { ok: false, fault, event, stalled: stall, stag, why };
  }
}

/** CD.IPS / SMMU_IDR5.OAS / STE.S2PS encodings (the TCR.IPS values) in bits: index = encoding. */
export const IPS_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52];

/** The IPS/OAS/PS encoding of an address size in bits (io-pgtable-arm's ARM_LPAE_TCR_PS_* for cfg->oas). */
export function ipsEncoding(bits: number): number {
  const i = IPS_BITS.indexOf(bits);
  if (i < 0) throw new RangeError(`no IPS encoding for a ${bits}-bit address size`);
  return i;
}

function priKey(sid: number, grpid: number): number {
  return sid * 512 + grpid;
}

function tlbKey(asid: number, va: number): number {
  return asid * 2 ** 36 + Math.floor(va / 4096);
}
