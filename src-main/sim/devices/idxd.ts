/**
 * DSA-like and IAA-like devices (drivers/dma/idxd, include/uapi/linux/idxd.h): a descriptor submitted to a work
 * queue is executed as real DMA through the SMMU, tagged with the PASID the descriptor carries, and a completion
 * record is written back through the SMMU with that same PASID (kernel-semantics.md §8.1).
 *
 * Where a descriptor's PASID comes from:
 * - user, dedicated WQ: MOVDIR64B; the device takes WQCFG.pasid, which idxd_cdev_open() programmed (drivers.ts);
 * - user, shared WQ: ENQCMD; the CPU inserts the thread's IA32_PASID, loaded lazily by the #GP fixup
 *   (kernel/enqcmd.ts). On arm64 with `soc.enqcmd: true` the same path stands for an ST64BV0 store whose low 32 bits
 *   come from ACCDATA_EL1, loaded from the mm's PASID the same lazy way [I]: no mainline code does this (§7.2);
 * - kernel (iaa_crypto / dmaengine style, IDXD_WQT_KERNEL): the idxd kernel PASID (idxd->pasid, §8.1), which names
 *   the device's DMA domain; dedicated WQs take it from WQCFG (drv_enable_wq), shared ones through ENQCMDS in the
 *   descriptor. Without a kernel PASID a dedicated kernel WQ issues untagged (RID) DMA through the same DMA domain,
 *   and a shared one cannot be used [U: drv_enable_wq refuses a shared WQ without PASID; the errno is from memory].
 *   Kernel buffers are IOVAs mapped with the dma_map step.
 *
 * Execution: memmove, fill, compare (DSA), memmove, compress, decompress (IAA; real raw deflate with node:zlib).
 * A translation failure stops the operation where it happened. A walk fault through a valid CD (F_TRANSLATION,
 * F_PERMISSION, ...) is a page fault for the device: status DSA_COMP_PAGE_FAULT_NOBOF (user descriptors without
 * Block-on-Fault) / IAX_COMP_PAGE_FAULT_IR, with bit 7 (DSA_COMP_STATUS_WRITE) for a write, `bytes_completed` and
 * `fault_addr`. Any other SMMU abort (C_BAD_CD, C_BAD_SUBSTREAMID, F_STREAM_DISABLED, an abort STE) is reported as
 * *_COMP_TRANSLATION_FAIL [I]. PCIe page requests are not modelled (mainline SMMUv3 denies them), so a user buffer
 * must be populated before the job, as on real SMMUv3 systems.
 *
 * The completion record (32 bytes for DSA, 64 for IAA, naturally aligned) is written through the SMMU with the
 * descriptor's PASID. If that write itself fails, no record exists: the device reports the error through SWERR
 * (*_COMP_CRA_XLAT), which the model returns but does not store; a misaligned record is *_COMP_CRA_ALIGN.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { IOMMU_PASID_INVALID } from '../kernel/constants.js';
import { enqcmd } from '../kernel/enqcmd.js';
import { err, type KResult } from '../kernel/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Device, KernelPasid, OpenFile, Process, WorkQueue } from '../kernel/structs.js';
import { DeviceJob, hex, PAGE_FAULTS, repeatPattern, type Xfer } from './job.js';

export type IdxdOp = 'memmove' | 'fill' | 'compare' | 'compress' | 'decompress';
export const DSA_OPS: readonly IdxdOp[] = ['memmove', 'fill', 'compare'];
export const IAA_OPS: readonly IdxdOp[] = ['memmove', 'compress', 'decompress'];

/** include/uapi/linux/idxd.h enum dsa_completion_status (the values the model produces). */
export const DSA_COMP = { NONE: 0, SUCCESS: 1, PAGE_FAULT_NOBOF: 0x03, CRA_XLAT: 0x1a, CRA_ALIGN: 0x1b, TRANSLATION_FAIL: 0x22 } as const;
/** include/uapi/linux/idxd.h enum iax_completion_status (the values the model produces). */
export const IAX_COMP = { NONE: 0, SUCCESS: 1, PAGE_FAULT_IR: 0x04, ANALYTICS_ERROR: 0x0a, OUTBUF_OVERFLOW: 0x0b, CRA_XLAT: 0x1a, CRA_ALIGN: 0x1b, TRANSLATION_FAIL: 0x22 } as const;
/** DSA_COMP_STATUS_WRITE: the page fault was on a write. */
export const COMP_STATUS_WRITE = 0x80;
export const COMP_STATUS_MASK = 0x7f;

const STATUS_NAMES: Record<number, string> = {
  0x01: 'success',
  0x03: 'page fault (DSA_COMP_PAGE_FAULT_NOBOF)',
  0x04: 'page fault (IAX_COMP_PAGE_FAULT_IR)',
  0x0a: 'analytics error (IAX_COMP_ANALYTICS_ERROR)',
  0x0b: 'output buffer overflow (IAX_COMP_OUTBUF_OVERFLOW)',
  0x1a: 'completion record address translation error (CRA_XLAT)',
  0x1b: 'misaligned completion record (CRA_ALIGN)',
  0x22: 'translation failure (TRANSLATION_FAIL)',
};

export function statusName(status: number): string {
  const base = STATUS_NAMES[status & COMP_STATUS_MASK] ?? `status 0x${(status & COMP_STATUS_MASK).toString(16)}`;
  return status & COMP_STATUS_WRITE ? `${base} on write` : base;
}

/** Completion record size (and alignment): struct dsa_completion_record 32, struct iax_completion_record 64. */
export function completionSize(dev: Device): number {
  return dev.kind === 'iaa' ? 64 : 32;
}

export interface IdxdDescriptor {
  op: IdxdOp;
  src: number | null;
  dst: number;
  /** Transfer size (xfer_size / src1_size). */
  length: number;
  /** fill: the pattern (up to 8 bytes), repeated. */
  pattern: Uint8Array | null;
  /** IAA: max_dst_size. */
  dstLength: number;
  /** completion_addr (with IDXD_OP_FLAG_CRAV | RCR), or null: no record requested. */
  completion: number | null;
}

export interface CompletionRecord {
  status: number;
  /** DSA: result (compare: 0 equal, 1 different). */
  result: number;
  /** IAA: error_code. */
  errorCode: number;
  bytesCompleted: number;
  faultAddr: number;
  /** IAA: output_size. */
  outputSize: number;
}

export interface IdxdJobResult {
  /** Status SUCCESS and the record (if one was requested) written. */
  ok: boolean;
  ssid: number | null;
  job: DeviceJob;
  record: CompletionRecord;
  /** The record's bytes as written; null when none was requested or it could not be written. */
  crBytes: Uint8Array | null;
  /** null: no record requested. */
  crWritten: boolean | null;
  /** SWERR status when the record could not be written (CRA_XLAT / CRA_ALIGN). */
  swerr: number | null;
  why: string;
}

/** The completion record as bytes (little-endian, the uapi structs' layout). */
export function encodeCompletion(dev: Device, r: CompletionRecord): Uint8Array {
  const out = new Uint8Array(completionSize(dev));
  const v = new DataView(out.buffer);
  v.setUint8(0, r.status);
  v.setUint8(1, dev.kind === 'iaa' ? r.errorCode : r.result); // DSA: result; IAA: error_code
  v.setUint32(4, r.bytesCompleted >>> 0, true);
  v.setUint32(8, r.faultAddr % 2 ** 32, true);
  v.setUint32(12, Math.floor(r.faultAddr / 2 ** 32), true);
  if (dev.kind === 'iaa') v.setUint32(24, r.outputSize >>> 0, true);
  return out;
}

/** Reads a completion record back (tests, the CLI). */
export function decodeCompletion(kind: 'dsa' | 'iaa', b: Uint8Array): CompletionRecord {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    status: v.getUint8(0),
    result: kind === 'dsa' ? v.getUint8(1) : 0,
    errorCode: kind === 'iaa' ? v.getUint8(1) : 0,
    bytesCompleted: v.getUint32(4, true),
    faultAddr: v.getUint32(8, true) + v.getUint32(12, true) * 2 ** 32,
    outputSize: kind === 'iaa' ? v.getUint32(24, true) : 0,
  };
}

/** Executes one descriptor with `ssid` and writes its completion record. */
export function idxdRun(k: Kernel, dev: Device, ssid: number | null, d: IdxdDescriptor): IdxdJobResult {
  const fn = dev.kind === 'iaa' ? 'iax_desc' : 'dsa_desc';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, op: d.op, pasid: ssid, src: d.src, dst: d.dst, length: d.length, completion: d.completion });
  const iaa = dev.kind === 'iaa';
  const C = iaa ? IAX_COMP : DSA_COMP;
  const pageFault = iaa ? IAX_COMP.PAGE_FAULT_IR : DSA_COMP.PAGE_FAULT_NOBOF;
  const job = new DeviceJob(k, dev, ssid);
  const rec: CompletionRecord = { status: C.SUCCESS, result: 0, errorCode: 0, bytesCompleted: d.length, faultAddr: 0, outputSize: 0 };
  let why = '';
  /** A transfer stopped: the record says where, and how many bytes of the operation completed. */
  const faulted = (x: Xfer, completed: number): void => {
    const pf = x.fault !== null && PAGE_FAULTS.has(x.fault);
    rec.status = (pf ? pageFault : C.TRANSLATION_FAIL) | (pf && x.write ? COMP_STATUS_WRITE : 0);
    rec.bytesCompleted = completed;
    rec.faultAddr = x.faultVa ?? 0;
    why = `${x.write ? 'write' : 'read'} at ${hex(x.faultVa ?? 0)}: ${x.fault}: ${x.why}`;
  };

  switch (d.op) {
    case 'memmove': {
      const r = job.read(d.src!, d.length);
      const w = job.write(d.dst, r.bytes.subarray(0, r.done));
      if (!w.ok) faulted(w, w.done);
      else if (!r.ok) faulted(r, r.done);
      break;
    }
    case 'fill': {
      const w = job.write(d.dst, repeatPattern(d.pattern!, d.length));
      if (!w.ok) faulted(w, w.done);
      break;
    }
    case 'compare': {
      const a = job.read(d.src!, d.length);
      const b = job.read(d.dst, a.done);
      const n = Math.min(a.done, b.done);
      let diff = -1;
      for (let i = 0; i < n; i++) {
        if (a.bytes[i] !== b.bytes[i]) {
          diff = i;
          break;
        }
      }
      if (diff >= 0) {
        rec.result = 1;
        rec.bytesCompleted = diff; // the offset of the first difference
      } else if (!a.ok) faulted(a, n);
      else if (!b.ok) faulted(b, n);
      break;
    }
    case 'compress':
    case 'decompress': {
      const r = job.read(d.src!, d.length);
      if (!r.ok) {
        faulted(r, r.done);
        break;
      }
      let out: Uint8Array;
      try {
        out = d.op === 'compress' ? deflateRawSync(r.bytes) : inflateRawSync(r.bytes, { maxOutputLength: d.dstLength });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') {
          rec.status = IAX_COMP.OUTBUF_OVERFLOW;
          why = `the decompressed data does not fit max_dst_size ${d.dstLength}`;
        } else {
          rec.status = IAX_COMP.ANALYTICS_ERROR;
          rec.errorCode = 1; // [I] the decompressor's error code: any nonzero value means "bad stream" here
          why = `not a valid raw deflate stream (${code ?? (e as Error).message})`;
        }
        rec.bytesCompleted = 0;
        break;
      }
      if (out.length > d.dstLength) {
        rec.status = IAX_COMP.OUTBUF_OVERFLOW;
        rec.bytesCompleted = 0;
        why = `${out.length} output bytes do not fit max_dst_size ${d.dstLength}`;
        break;
      }
      const w = job.write(d.dst, out);
      if (!w.ok) {
        faulted(w, 0);
        break;
      }
      rec.outputSize = out.length;
      break;
    }
  }

  if (rec.status === C.SUCCESS) {
    why =
      d.op === 'compare'
        ? rec.result === 0
          ? `${d.length} byte(s) equal`
          : `buffers differ at offset ${rec.bytesCompleted}`
        : d.op === 'compress' || d.op === 'decompress'
          ? `${d.length} byte(s) in, ${rec.outputSize} byte(s) out`
          : `${d.length} byte(s)`;
  }

  let crBytes: Uint8Array | null = null;
  let crWritten: boolean | null = null;
  let swerr: number | null = null;
  if (d.completion !== null) {
    const size = completionSize(dev);
    if (d.completion % size !== 0) {
      crWritten = false;
      swerr = C.CRA_ALIGN;
      why += `; completion record at ${hex(d.completion)} is not ${size}-byte aligned: none written (SWERR ${statusName(swerr)})`;
    } else {
      const bytes = encodeCompletion(dev, rec);
      const w = job.write(d.completion, bytes);
      crWritten = w.ok;
      if (w.ok) crBytes = bytes;
      else {
        swerr = C.CRA_XLAT;
        why += `; the completion record write faulted (${w.fault}: ${w.why}): none written (SWERR ${statusName(swerr)})`;
      }
    }
  }
  const ok = rec.status === C.SUCCESS && crWritten !== false;
  const res: IdxdJobResult = { ok, ssid, job, record: rec, crBytes, crWritten, swerr, why: `${statusName(rec.status)}: ${why}` };
  if (k.tr.on) k.tr.leave(fn, { ok, status: rec.status, bytes_completed: rec.bytesCompleted, completion_written: crWritten });
  return res;
}

/** How a descriptor reaches the device and which PASID it carries. */
export interface IdxdRoute {
  ssid: number | null;
  /** The submission instruction and where its PASID comes from. */
  via: string;
  /** Memory the job may touch: `page:<mm>@` for a process, `dma-buf:` for kernel buffers. */
  ownerPrefix: string;
  /** Whose job it is, for messages. */
  forLabel: string;
  /** ENQCMD: whose address space the PASID names on the device (null: nothing attached there). */
  reaches?: string | null;
  /** ENQCMD: that address space is not the submitter's. */
  crossed?: boolean;
}

/** The kernel PASID idxd uses for this device (idxd->pasid), if one is attached. */
export function idxdKernelPasid(k: Kernel, dev: Device): KernelPasid | null {
  let any: KernelPasid | null = null;
  for (const kp of k.kernelPasids.values()) {
    if (kp.dev !== dev) continue;
    if (kp.source !== 'chosen') return kp;
    any ??= kp;
  }
  return any;
}

/** A user descriptor on a dedicated WQ (MOVDIR64B): the PASID is WQCFG.pasid, programmed at open. */
export function idxdRouteDedicated(k: Kernel, dev: Device, wq: WorkQueue, file: OpenFile): IdxdRoute {
  const mm = file.handle.domain.mm;
  const pasid = wq.wqcfgPasid === IOMMU_PASID_INVALID ? null : wq.wqcfgPasid;
  if (k.tr.on) k.tr.note(`MOVDIR64B to ${dev.name}/${wq.name}: the device tags the descriptor with WQCFG.pasid ${pasid ?? '(none)'}`);
  return { ssid: pasid, via: `MOVDIR64B, PASID from WQCFG (${pasid ?? 'none'})`, ownerPrefix: `page:${mm?.label ?? '?'}@`, forLabel: mm?.label ?? file.label };
}

/** A user descriptor on a shared WQ: ENQCMD (x86) or the ST64BV0/ACCDATA_EL1 analogue (arm64 with soc.enqcmd). */
export function idxdRouteEnqcmd(k: Kernel, dev: Device, wq: WorkQueue, p: Process, thread: string): KResult<IdxdRoute> {
  const insn = k.arch === 'x86' ? 'ENQCMD' : 'ST64BV0';
  const reg = k.arch === 'x86' ? 'IA32_PASID' : 'ACCDATA_EL1';
  if (k.tr.on && k.arch !== 'x86' && k.enqcmd) k.tr.note(`${insn} to ${dev.name}/${wq.name}: the store carries ${reg}, loaded from the mm's PASID on first use like x86's IA32_PASID [I]`);
  const r = enqcmd(k, p, thread, dev);
  if (!r.ok) return r;
  return {
    ok: true,
    ssid: r.pasid,
    via: `${insn}, PASID from ${p.name}/${thread}'s ${reg} (${r.pasid})`,
    ownerPrefix: `page:${p.mm.label}@`,
    forLabel: p.mm.label,
    reaches: r.reaches,
    crossed: r.crossed,
  };
}

/** A kernel descriptor (IDXD_WQT_KERNEL): the idxd kernel PASID, or no PASID on a dedicated WQ without one. */
export function idxdRouteKernel(k: Kernel, dev: Device, wq: WorkQueue): KResult<IdxdRoute> {
  const kp = idxdKernelPasid(k, dev);
  const base = { ownerPrefix: 'dma-buf:', forLabel: `kernel(${dev.name})` };
  if (wq.mode === 'shared') {
    if (!kp) return err('ENXIO', `${dev.name}/${wq.name}: a shared WQ needs PASID, and ${dev.name} has no kernel PASID (drv_enable_wq refuses it) [U: errno]`);
    return { ok: true, ssid: kp.pasid, via: `ENQCMDS, descriptor PASID = idxd->pasid (${kp.pasid})`, ...base };
  }
  if (!kp) return { ok: true, ssid: null, via: 'MOVDIR64B, no PASID (WQCFG.pasid_en = 0): RID traffic', ...base };
  return { ok: true, ssid: kp.pasid, via: `MOVDIR64B, PASID from WQCFG = idxd->pasid (${kp.pasid})`, ...base };
}
