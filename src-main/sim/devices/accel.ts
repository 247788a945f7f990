/**
 * The seed's accelerator (shared/seed/rfc-per-device-ssid-thread.txt): a non-PCIe platform device with 1 to 3 usable
 * SSIDs and "a custom way of transmitting the SSID from the kernel to the device". Modelled for every platform device
 * with PASID support ("pasid-num-bits" present):
 *
 * - The device has 2^pasid_bits - 1 hardware contexts (one per usable SSID, SSID 0 being the RID's; at least one),
 *   each with an SSID register. [I] The seed says only that the SSID travels by a custom channel; a per-context
 *   register written by the driver is the simplest such channel and is what the issue describes.
 * - Its driver, at open (uacce style: bind first, then take a hardware queue), takes the lowest free context and
 *   writes the PASID the bind returned into that context's register. A context stands for one SSID [choice]: an
 *   open whose PASID a context already holds (the same mm opening again: same bond, same PASID) shares that context,
 *   so there are never more contexts in use than distinct live PASIDs. No free context: the open fails with -EBUSY
 *   and the bind is undone [choice]: the order and errno of uacce_fops_open() -> ops->get_queue() with HiSilicon's
 *   hisi_qm_create_qp() ("All queues of QM are busy", -EBUSY) [I: from memory]. In mainline the mm keeps the PASID
 *   that bind allocated, as after any failed open. Since every PASID a policy binds is < max_pasids <=
 *   2^pasid_bits and never 0, a consistent kernel cannot exhaust the contexts; -EBUSY guards against one that hands
 *   the driver more distinct PASIDs than the device has SSIDs.
 * - At release (the last close of the last file using a context) the driver clears the register and frees it.
 * - Jobs (copy, fill) run in the context of the submitting process's file: every DMA of the job is tagged with
 *   whatever the context's register holds, read when the job runs. The register is device state: it is not
 *   re-derived from the kernel's view of the bond, so a register that outlived its meaning (a file kept after its
 *   opener exited, a fork child's copy of the parent's file) shows up in the DMA.
 *
 * The register state lives beside the kernel's struct device, keyed by it (the kernel model is not this file's).
 */
import type { Kernel } from '../kernel/kernel.js';
import { err, type KResult } from '../kernel/errno.js';
import { removeAt, removeFirst } from '../kernel/list.js';
import { IndexMap } from '../index-map.js';
import type { Device, OpenFile, Process } from '../kernel/structs.js';
import { DeviceJob, hex, PAGE_FAULTS, repeatPattern } from './job.js';

/**
 * One hardware context in use, and the open files whose jobs run in it: one, unless the same mm opened it again.
 *
 * A class, holding its first file in a field and any others in an array made only when there are others, for the
 * garbage collector (docs/performance.md, "Pretenuring"): a context lives as long as its file, so when a lab first
 * opens thousands of files in a row V8 would decide to allocate a literal site's contexts (and `[file]` arrays) in the
 * old generation for good. In the steady open+close that follows they die within the step there, and keep the young
 * files they point to alive through every scavenge until a full collection. V8 never does that to the objects of
 * `new`. (Array.of, which V8 does not pretenure either, measured 4% of a bind+unbind pair: a builtin call.)
 */
export class AccelContext {
  private first: OpenFile | null;
  private more: OpenFile[] | null = null;

  constructor(
    readonly index: number,
    /** The SSID register: the PASID the driver wrote at open. */
    readonly ssid: number,
    first: OpenFile,
  ) {
    this.first = first;
  }

  /** The files using the context, in the order they opened it. */
  get files(): readonly OpenFile[] {
    if (this.first === null) return [];
    return this.more ? [this.first, ...this.more] : [this.first];
  }

  /** Another file shares the context (the same mm opened the device again). */
  add(file: OpenFile): void {
    if (this.first === null) this.first = file;
    else (this.more ??= []).push(file);
  }

  /** The file's first entry leaves the context; how many files still use it. */
  remove(file: OpenFile): number {
    if (this.first === file) {
      this.first = this.more && this.more.length ? this.more.shift()! : null;
    } else if (this.more) removeFirst(this.more, file);
    return (this.first ? 1 : 0) + (this.more?.length ?? 0);
  }
}

/**
 * The device's contexts: registers of the ones in use; the lowest free index is found with a heap of freed ones. A
 * file's context hangs off the file itself (file->private_data, as uacce keeps its queue there).
 */
export class AccelState {
  /** The contexts in use by index (lowest-free allocation keeps it dense); a free one's slot is empty. */
  readonly regs: (AccelContext | undefined)[] = [];
  /** How many contexts are in use. */
  inUse = 0;
  /** The context whose register holds a given SSID (the driver's lookup at open). */
  readonly bySsid = new IndexMap<AccelContext>();
  private readonly freed: number[] = []; // min-heap of free indices below `hwm`
  private hwm = 0;

  constructor(readonly total: number) {}

  /** The lowest free context index, taken; -1 when every context is in use. */
  take(): number {
    if (this.freed.length) return heapPop(this.freed);
    if (this.hwm < this.total) return this.hwm++;
    return -1;
  }

  put(index: number): void {
    heapPush(this.freed, index);
  }
}


/** A platform device with PASID support: the seed's accelerator model applies to it. */
export function isAccel(d: Device): boolean {
  return d.kind === 'platform' && d.pasidBits !== null;
}

/** 2^pasid_bits - 1 contexts (one per usable SSID), at least 1. */
export function accelContextCount(d: Device): number {
  return Math.max(1, 2 ** (d.pasidBits ?? 0) - 1);
}

/** The device's context state (created on first use), or null for a device that is not an accelerator. */
export function accelState(d: Device): AccelState | null {
  if (!isAccel(d)) return null;
  // Kept on the device itself, like its WQs, so that a copy of the kernel graph carries it along.
  if (!d.accel) d.accel = new AccelState(accelContextCount(d));
  return d.accel as AccelState;
}

/**
 * The driver's open, after the bind succeeded: take a context and program its SSID register. On -EBUSY the driver
 * undoes its bind (uacce_unbind_queue): the file never reaches the process's table.
 */
export function accelOpen(k: Kernel, p: Process, dev: Device, file: OpenFile): KResult<{ context: number }> {
  const st = accelState(dev)!;
  const fn = 'accel_get_context';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, file: file.label, pasid: file.pasid });
  const shared = st.bySsid.get(file.pasid);
  if (shared) {
    shared.add(file);
    file.privateData = shared;
    if (k.tr.on) k.tr.note(`${dev.name}: context ${shared.index} already holds SSID ${file.pasid}: ${file.label} shares it`);
    return k.tr.leave(fn, { ok: true as const, context: shared.index });
  }
  const index = st.take();
  if (index < 0) {
    const r = err('EBUSY', `all ${st.total} hardware context(s) of ${dev.name} are in use`);
    k.tr.leave(fn, r);
    undoOpen(k, p, file);
    return r;
  }
  const ctx = new AccelContext(index, file.pasid, file);
  st.regs[index] = ctx;
  st.inUse++;
  file.privateData = ctx;
  st.bySsid.set(file.pasid, ctx);
  if (k.tr.on) k.tr.set(dev.name, `ctx[${index}].SSID`, file.pasid);
  return k.tr.leave(fn, { ok: true as const, context: index });
}

/** uacce_unbind_queue() after a failed get_queue: the file is dropped and its bond reference released. */
function undoOpen(k: Kernel, p: Process, file: OpenFile): void {
  const fn = 'uacce_unbind_queue';
  if (k.tr.on) k.tr.enter(fn, { file: file.label });
  const i = p.fds.lastIndexOf(file);
  if (i >= 0) removeAt(p.fds, i);
  file.refs = 0;
  file.handle.files?.delete(file);
  k.dirty.processes.add(p);
  k.dirty.handles.add(file.handle);
  if (k.tr.on) k.tr.set(`process:${p.name}`, `fd:${file.label}`, null);
  k.policy.driverUnbind(k, file.handle, file.dev);
  k.tr.leave(fn, null);
}

/** The driver's release (the file's last close): the last file of a context clears its SSID register and frees it. */
export function accelRelease(k: Kernel, file: OpenFile): void {
  const st = accelState(file.dev);
  const ctx = accelContextOf(file);
  if (!st || !ctx) return;
  file.privateData = null;
  if (ctx.remove(file) > 0) return;
  st.regs[ctx.index] = undefined;
  st.inUse--;
  if (st.bySsid.get(ctx.ssid) === ctx) st.bySsid.delete(ctx.ssid);
  st.put(ctx.index);
  if (k.tr.on) k.tr.set(file.dev.name, `ctx[${ctx.index}].SSID`, null, ctx.ssid);
}

/** The context a file's jobs run in, or undefined. */
export function accelContextOf(file: OpenFile): AccelContext | undefined {
  return file.dev.accel && file.privateData ? (file.privateData as AccelContext) : undefined;
}

/** Devices with more contexts than this show only counts in the state view (the header is sent on every change). */
export const ACCEL_VIEW_MAX_CONTEXTS = 64;

export interface AccelContextsView {
  total: number;
  in_use: number;
  /**
   * The SSID register of each context in use and the files using it, by index (a free context's register is clear);
   * null on devices with more than ACCEL_VIEW_MAX_CONTEXTS contexts [choice], whose files show their PASIDs anyway.
   */
  regs: Record<string, { ssid: number; files: string[] }> | null;
}

/** For the state view (the device header): the contexts in use. */
export function accelContextsView(d: Device): AccelContextsView | null {
  const st = accelState(d);
  if (!st) return null;
  if (st.total > ACCEL_VIEW_MAX_CONTEXTS) return { total: st.total, in_use: st.inUse, regs: null };
  const regs: Record<string, { ssid: number; files: string[] }> = {};
  for (let i = 0; i < st.regs.length; i++) {
    const c = st.regs[i];
    if (c) regs[i] = { ssid: c.ssid, files: c.files.map((f) => f.label) };
  }
  return { total: st.total, in_use: st.inUse, regs };
}

export type AccelOp = 'copy' | 'fill';

export interface AccelJob {
  op: AccelOp;
  src: number | null;
  dst: number;
  length: number;
  /** fill: the pattern, repeated. */
  pattern: Uint8Array | null;
}

export interface AccelJobResult {
  ok: boolean;
  context: number;
  /** The SSID the job's DMA carried (the register's value). */
  ssid: number;
  job: DeviceJob;
  /** Bytes written to dst. */
  done: number;
  fault: string | null;
  why: string;
}

/** Runs one job in `ctx`: real DMA reads and writes tagged with the context's SSID register. */
export function accelRun(k: Kernel, dev: Device, ctx: AccelContext, j: AccelJob): AccelJobResult {
  const fn = 'accel_job';
  if (k.tr.on) k.tr.enter(fn, { dev: dev.name, context: ctx.index, ssid: ctx.ssid, op: j.op, src: j.src, dst: j.dst, length: j.length });
  const job = new DeviceJob(k, dev, ctx.ssid);
  const done = (ok: boolean, written: number, fault: string | null, why: string): AccelJobResult => {
    if (k.tr.on) k.tr.leave(fn, { ok, written, fault, page_fault: fault !== null && PAGE_FAULTS.has(fault) });
    return { ok, context: ctx.index, ssid: ctx.ssid, job, done: written, fault, why };
  };
  let data: Uint8Array;
  if (j.op === 'copy') {
    const r = job.read(j.src!, j.length);
    if (!r.ok) return done(false, 0, r.fault, `read of src faulted at ${hex(r.faultVa!)} after ${r.done} byte(s): ${r.fault}: ${r.why}`);
    data = r.bytes;
  } else {
    data = repeatPattern(j.pattern!, j.length);
  }
  const w = job.write(j.dst, data);
  if (!w.ok) return done(false, w.done, w.fault, `write of dst faulted at ${hex(w.faultVa!)} after ${w.done} byte(s): ${w.fault}: ${w.why}`);
  return done(true, w.done, null, `${j.op}: ${j.length} byte(s) written at ${hex(j.dst)} with SSID ${ctx.ssid}`);
}

function heapPush(h: number[], v: number): void {
  h.push(v);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1]! < h[l]! ? l + 1 : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}
