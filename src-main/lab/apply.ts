/**
 * Applies one lab step to the simulated kernel. A step is either carried out (its result is a kernel outcome:
 * a PASID, or an errno the kernel returned) or rejected because it makes no sense in the lab's current state (an
 * exited process, a device that does not exist, a close without an open file); a rejection changes nothing.
 */
import type { Op, OpArgs } from '../../shared/steps.js';
import type { FindingCause, StepResult } from '../../shared/results.js';
import { driverAttachKernelPasid, idxdDisableSystemPasid, idxdEnableSystemPasid, svaCdevOpen } from '../sim/kernel/drivers.js';
import { enqcmd } from '../sim/kernel/enqcmd.js';
import { iommuAttachGroup } from '../sim/kernel/iommu.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import { closeDeviceFileAt, execProcess, exitProcess, fileToClose, forkProcess, spawnProcess } from '../sim/kernel/process.js';
import type { Device, IommuDomain, MmStruct, OpenFile, Process } from '../sim/kernel/structs.js';
import { allocRidDomain, freeRidDomain } from '../sim/soc.js';
import { deviceDma } from '../sim/devices/dma.js';
import { accelContextOf, accelOpen, accelRelease, accelRun, isAccel, type AccelOp } from '../sim/devices/accel.js';
import { DSA_OPS, IAA_OPS, IAX_COMP, idxdRouteDedicated, idxdRouteEnqcmd, idxdRouteKernel, idxdRun, COMP_STATUS_MASK, type IdxdOp, type IdxdRoute } from '../sim/devices/idxd.js';
import type { DeviceJob } from '../sim/devices/job.js';
import { armSmmuMmArchInvalidateSecondaryTlbs } from '../sim/smmuv3/driver.js';
import { causeText, isolationCause } from '../sim/devices/isolation.js';
import type { DmaChunk } from '../sim/devices/dma.js';
import type { StepTag } from '../sim/hw/attribution.js';
import { DONE } from './step-log.js';

class Rejected extends Error {}

function reject(msg: string): never {
  throw new Rejected(msg);
}

/** The rejections a name can cause, shared by precheck() and the bind and unbind paths. */
const unknownDevice = (name: string): string => `unknown device '${name}'`;
const exited = (name: string): string => `process '${name}' has exited`;
const noProcess = (name: string): string => `no process named '${name}'`;

function device(k: Kernel, name: string): Device {
  return k.devices.get(name) ?? reject(unknownDevice(name));
}

/** The named process, created on first mention; an exited one cannot act. */
function actor(k: Kernel, name: string): Process {
  const p = k.processes.get(name) ?? spawnProcess(k, name);
  if (!p.alive) reject(exited(name));
  return p;
}

function existing(k: Kernel, name: string): Process {
  return k.processes.get(name) ?? reject(noProcess(name));
}

/** A named process that exists but has exited cannot act (one that does not exist yet is created on first mention). */
function procAlive(k: Kernel, n: unknown): void {
  const p = k.processes.get(n as string);
  if (p && !p.alive) reject(exited(String(n)));
}

/**
 * Checks a step against the current state without changing anything: the reason it would be rejected, or null.
 * Kept apart from applyOp so that a rejected step never leaves half a change behind (a spawned process, say). A bind
 * and an unbind are checked by applyBind and applyUnbind themselves, before they change anything.
 */
function precheck(k: Kernel, op: Op): string | null {
  try {
    const a = op.args as Record<string, unknown>;
    if (typeof a.device === 'string') device(k, a.device);
    switch (op.op) {
      case 'fork':
      case 'exec':
      case 'exit':
      case 'open_wq':
      case 'enqcmd':
      case 'map':
      case 'touch':
      case 'unmap':
        procAlive(k, op.args.process);
        break;
      case 'dma':
        if (op.args.process !== undefined) {
          const p = existing(k, op.args.process);
          if (!dmaFile(p, op.args.device)) reject(`process '${p.name}' has no open file on '${op.args.device}': its driver has no PASID to tag the DMA with`);
        }
        break;
      case 'spawn':
        if (k.processes.has(op.args.process)) reject(`process '${op.args.process}' already exists`);
        break;
      case 'submit':
        precheckSubmit(k, op.args); // no closure here: capturing k would allocate a context on every precheck
        break;
      default:
        break;
    }
    switch (op.op) {
      case 'fork':
        if (op.args.child === op.args.process) reject(`a process cannot fork onto its own name ('${op.args.child}')`);
        if (k.processes.has(op.args.child)) reject(`process '${op.args.child}' already exists`);
        break;
      case 'alloc_global_pasid':
      case 'attach_kernel_pasid':
        if (op.args.as && k.kernelPasids.has(op.args.as)) reject(`a kernel PASID named '${op.args.as}' exists already`);
        break;
      case 'free_global_pasid':
        if (!k.kernelPasids.has(op.args.name)) reject(`no kernel PASID named '${op.args.name}'`);
        break;
      case 'open_wq':
      case 'enqcmd': {
        const d = device(k, op.args.device);
        if (d.kind !== 'dsa' && d.kind !== 'iaa') reject(`'${d.name}' is a ${d.kind} device; work queues are on dsa/iaa devices`);
        const wqName = op.args.wq;
        if (wqName !== undefined) {
          const wq = d.wqs.find((w) => w.name === wqName) ?? reject(`'${d.name}' has no work queue '${wqName}' (it has ${d.wqs.map((w) => w.name).join(', ')})`);
          if (op.op === 'enqcmd' && wq.mode !== 'shared') reject(`ENQCMD goes to a shared WQ; ${d.name}/${wq.name} is dedicated (MOVDIR64B)`);
        }
        break;
      }
      default:
        break;
    }
    return null;
  } catch (e) {
    if (e instanceof Rejected) return e.message;
    throw e;
  }
}

/** `submit`: the device can run this job for this submitter now. */
function precheckSubmit(k: Kernel, a: OpArgs<'submit'>): void {
  const d = device(k, a.device);
  if (d.kind === 'platform') {
    if (!isAccel(d)) reject(`'${d.name}' has no PASID support ("pasid-num-bits" absent): it has no job contexts`);
    if (a.op !== 'copy' && a.op !== 'fill') reject(`the accelerator '${d.name}' runs copy and fill jobs, not ${a.op}`);
    if (a.wq !== undefined || a.thread !== undefined || a.completion !== undefined || a.dst_length !== undefined) reject(`wq, thread, completion and dst_length belong to dsa/iaa descriptors; '${d.name}' is the accelerator`);
    if (a.process === undefined) reject(`a job on '${d.name}' runs in a process's hardware context: give \`process\``);
    const p = existing(k, a.process);
    const f = dmaFile(p, d.name);
    if (!f || !accelContextOf(f)) reject(`process '${p.name}' has no open file on '${d.name}', so no hardware context to run the job in`);
    return;
  }
  if (d.kind !== 'dsa' && d.kind !== 'iaa') reject(`'${d.name}' is a ${d.kind} device: jobs run on the accelerator (a platform device with PASID support) and on dsa/iaa devices`);
  const ops = d.kind === 'dsa' ? DSA_OPS : IAA_OPS;
  if (!ops.includes(a.op as IdxdOp)) reject(`a ${d.kind} device does ${ops.join(', ')}, not ${a.op}`);
  if (a.dst_length !== undefined && d.kind !== 'iaa') reject('dst_length (max_dst_size) is for iaa compress/decompress');
  if (a.wq === undefined) reject(`a descriptor goes to a work queue: give \`wq\` (${d.name} has ${d.wqs.map((w) => w.name).join(', ')})`);
  const wq = d.wqs.find((w) => w.name === a.wq) ?? reject(`'${d.name}' has no work queue '${a.wq}' (it has ${d.wqs.map((w) => w.name).join(', ')})`);
  if (a.process === undefined) {
    if (wq.owner) reject(`${d.name}/${wq.name} is a user WQ (opened by ${wq.owner.label}); a kernel descriptor needs a kernel WQ`);
  } else if (wq.mode === 'dedicated') {
    const p = existing(k, a.process);
    const files = p.alive ? p.fds : p.kept;
    if (!wq.owner || !files.includes(wq.owner)) reject(`process '${p.name}' has not opened ${d.name}/${wq.name} (open_wq): it has no portal to submit to`);
  } else {
    procAlive(k, a.process);
  }
}

/** The file whose PASID a device's driver uses for DMA on behalf of `p`: its most recent open (or kept) file. */
function dmaFile(p: Process, device: string): OpenFile | undefined {
  const files = p.alive ? p.fds : p.kept;
  for (let i = files.length - 1; i >= 0; i--) if (files[i]!.dev.name === device) return files[i];
  return undefined;
}

function hexBytes(s: string | undefined): Uint8Array | null {
  if (s === undefined) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/**
 * The mmu notifier for an unmapped range (mmu_notifier_arch_invalidate_secondary_tlbs): each SVA domain of the mm
 * invalidates its TLB entries and its masters' ATCs (arm_smmu_mm_arch_invalidate_secondary_tlbs).
 */
function invalidateSecondaryTlbs(k: Kernel, mm: MmStruct, va: number, length: number): void {
  for (let d = mm.iommuMm?.svaDomains ?? null; d; d = d.next) armSmmuMmArchInvalidateSecondaryTlbs(k, d, va, length);
}

/** `k<N>`, the first N whose name is free (a scenario may have named a kernel PASID `k1` itself). */
function freshKernelPasidName(k: Kernel): string {
  for (;;) {
    const name = `k${k.nextId('kpasid')}`;
    if (!k.kernelPasids.has(name)) return name;
  }
}

/**
 * Carries out a step, or rejects it (precheck()). A bind and an unbind, the steps a lab applies most, are checked and
 * carried out by applyBind and applyUnbind with one lookup of each name: the same rejections as precheck() gives,
 * found before anything changes.
 */
export function applyOp(k: Kernel, op: Op): StepResult {
  if (op.op === 'bind') return applyBind(k, op.args);
  if (op.op === 'unbind') return applyUnbind(k, op.args);
  const why = precheck(k, op);
  if (why !== null) return { ok: false, rejected: why };
  // The accelerator driver's release clears a context when its file's last reference goes (fput). fput is the
  // kernel model's, so the driver part runs right after the step, for the files the step could have closed: an
  // exit's here, an unbind's (the one file closeDeviceFileAt closed) in applyUnbind.
  const closing = op.op === 'exit' ? accelFiles(k.processes.get(op.args.process)) : null;
  // Write attribution: what the step writes is tagged with its index (the lab's records.length) and its text.
  const attr = k.mem.attribution;
  attr.begin(op.op, op.args as Record<string, unknown>);
  let res: StepResult | null = null;
  try {
    res = applyInner(k, op);
    if (closing) for (const f of closing) if (f.refs <= 0) accelRelease(k, f);
  } finally {
    attr.end(res !== null && res.rejected === undefined);
  }
  return res;
}

/** A bind step: the device's SVA char device opened by the process (created on first mention). */
function applyBind(k: Kernel, args: OpArgs<'bind'>): StepResult {
  const { process, device } = args;
  const d = k.devices.get(device);
  if (!d) return { ok: false, rejected: unknownDevice(device) };
  const known = k.processes.get(process);
  if (known && !known.alive) return { ok: false, rejected: exited(process) };
  const attr = k.mem.attribution;
  attr.begin('bind', args);
  let res: StepResult | null = null;
  try {
    const p = known ?? spawnProcess(k, process);
    const before = p.mm.iommuMm?.pasid;
    const r = svaCdevOpen(k, p, d, null);
    if (!r.ok) res = { ok: false, errno: r.errno, why: r.why };
    else {
      notePasids(k, p, r.file, before);
      if (isAccel(d)) {
        // The accelerator's driver takes a hardware context and writes the PASID into its SSID register.
        const c = accelOpen(k, p, d, r.file);
        res = c.ok ? { ok: true, pasid: r.pasid, detail: contextDetail(c.context) } : { ok: false, errno: c.errno, why: c.why };
      } else res = { ok: true, pasid: r.pasid };
    }
  } finally {
    attr.end(res !== null);
  }
  return res;
}

/** An unbind step: close() of the process's last-opened file on the device; the accelerator's release after fput. */
function applyUnbind(k: Kernel, args: OpArgs<'unbind'>): StepResult {
  const { process, device } = args;
  if (!k.devices.has(device)) return { ok: false, rejected: unknownDevice(device) };
  const p = k.processes.get(process);
  if (!p) return { ok: false, rejected: noProcess(process) };
  const files = p.alive ? p.fds : p.kept;
  const i = fileToClose(files, device);
  if (i < 0) return { ok: false, rejected: `process '${p.name}' has no open file on '${device}'${p.alive ? '' : ' (it has exited and no file of it was kept)'}` };
  const attr = k.mem.attribution;
  attr.begin('unbind', args);
  let done = false;
  try {
    const f = closeDeviceFileAt(k, p, files, i);
    if (f.refs <= 0 && isAccel(f.dev)) accelRelease(k, f);
    done = true;
  } finally {
    attr.end(done);
  }
  return DONE;
}

/** Records which step handed a file its PASID and, if it changed, which step gave the mm its PASID. */
function notePasids(k: Kernel, p: Process, file: OpenFile, mmPasidBefore: number | undefined): void {
  const by = k.mem.attribution.current;
  file.pasidBy = by;
  if (p.mm.iommuMm?.pasid !== mmPasidBefore) p.mm.pasidBy = by;
}

/** The isolation text's cause tail, and the cause on the result. */
function withCause(res: StepResult, c: FindingCause | null): void {
  if (!c) return;
  res.cause = c;
  if (res.isolation) res.isolation += causeText(c);
}

const LISTS = ['fds', 'kept'] as const;

function accelFiles(p: Process | undefined): OpenFile[] | null {
  if (!p) return null;
  let out: OpenFile[] | null = null;
  for (const list of LISTS) {
    const files = p[list];
    for (let i = 0; i < files.length; i++) {
      if (!isAccel(files[i]!.dev)) continue;
      if (out) out.push(files[i]!);
      else out = [files[i]!]; // not [] then push(): that allocates room for 17
    }
  }
  return out;
}

/** `context N`, the accelerator bind's detail; the strings of the first contexts are made once. */
const CONTEXT_DETAILS: string[] = [];
function contextDetail(n: number): string {
  if (n >= 4096) return `context ${n}`;
  return (CONTEXT_DETAILS[n] ??= `context ${n}`);
}

function applyInner(k: Kernel, op: Op): StepResult {
  switch (op.op) {
    case 'bind':
    case 'unbind':
      throw new Error(`applyOp carries out ${op.op} steps itself (applyBind, applyUnbind)`);
    case 'open_wq': {
      const d = device(k, op.args.device);
      const wq = d.wqs.find((w) => w.name === op.args.wq)!;
      const p = actor(k, op.args.process);
      const before = p.mm.iommuMm?.pasid;
      const r = svaCdevOpen(k, p, d, wq);
      if (r.ok) notePasids(k, p, r.file, before);
      return r.ok ? { ok: true, pasid: r.pasid } : { ok: false, errno: r.errno, why: r.why };
    }
    case 'spawn': {
      const p = spawnProcess(k, op.args.process);
      return { ok: true, detail: `pid ${p.pid}` };
    }
    case 'fork': {
      const c = forkProcess(k, actor(k, op.args.process), op.args.child);
      return { ok: true, detail: `pid ${c.pid}, ${c.fds.length} file(s) shared` };
    }
    case 'exec':
      execProcess(k, actor(k, op.args.process));
      return DONE;
    case 'exit':
      exitProcess(k, actor(k, op.args.process), op.args.files_kept);
      return DONE;
    case 'alloc_global_pasid': {
      const name = op.args.as ?? freshKernelPasidName(k);
      const r = idxdEnableSystemPasid(k, device(k, op.args.device), name);
      return r.ok ? { ok: true, pasid: r.kp.pasid, detail: name } : { ok: false, errno: r.errno, why: r.why };
    }
    case 'attach_kernel_pasid': {
      const name = op.args.as ?? freshKernelPasidName(k);
      const r = driverAttachKernelPasid(k, device(k, op.args.device), op.args.pasid, name);
      return r.ok ? { ok: true, pasid: r.kp.pasid, detail: name } : { ok: false, errno: r.errno, why: r.why };
    }
    case 'free_global_pasid':
      idxdDisableSystemPasid(k, k.kernelPasids.get(op.args.name)!);
      return DONE;
    case 'attach_rid': {
      const d = device(k, op.args.device);
      const group = d.group;
      // A move to S2 is a VFIO/iommufd claim: __iommu_take_dma_ownership() refuses a group with PASIDs attached (§3.13).
      if (op.args.domain === 's2' && group.pasidArray.size > 0) {
        return { ok: false, errno: 'EBUSY', why: `__iommu_take_dma_ownership: ${group.label} has ${group.pasidArray.size} PASID attachment(s)` };
      }
      let domain: IommuDomain;
      let fresh = false;
      if (op.args.domain === 'identity') domain = k.identityDomain;
      else if (op.args.domain === 'blocked') domain = k.blockedDomain;
      else if (op.args.domain === 'dma' && group.defaultDomain?.type === 'DMA') domain = group.defaultDomain;
      else {
        const r = allocRidDomain(k, d, op.args.domain);
        if (!r.ok) return { ok: false, errno: r.errno, why: r.why };
        domain = r.domain;
        fresh = true;
      }
      const old = group.domain;
      const r = iommuAttachGroup(k, domain, group);
      if (!r.ok) {
        if (fresh) freeRidDomain(k, domain);
        return { ok: false, errno: r.errno, why: r.why };
      }
      // A paging domain that an earlier attach_rid allocated belongs to whoever attached it (VFIO, iommufd), which
      // frees it once it is replaced; the default domain stays with the group.
      if (old && old !== domain && old !== group.defaultDomain && old.smmuDomain && old.attachedSlots === 0) freeRidDomain(k, old);
      return DONE;
    }
    case 'enqcmd': {
      const p = actor(k, op.args.process);
      // enqcmd() creates a thread on first mention but marks the process dirty only when the fixup loads a PASID.
      k.dirty.processes.add(p);
      const d = device(k, op.args.device);
      const r = enqcmd(k, p, op.args.thread, d);
      if (!r.ok) return { ok: false, errno: r.errno, why: r.why };
      const res: StepResult = { ok: true, pasid: r.pasid, reaches: r.reaches, crossed: r.crossed };
      if (r.crossed) withCause(res, isolationCause(d, r.pasid, p.mm, null, p.mm.pasidBy));
      return res;
    }
    case 'map': {
      const p = actor(k, op.args.process);
      const r = p.mm.as!.mmap(op.args.va, op.args.length, { write: op.args.write });
      k.dirty.processes.add(p);
      if (k.tr.on && r.ok) k.tr.set(`mm:${p.mm.label}`, `vma[0x${op.args.va.toString(16)}]`, { length: op.args.length, write: op.args.write });
      return r.ok ? { ok: true } : { ok: false, errno: 'EINVAL', why: r.why };
    }
    case 'touch': {
      const p = actor(k, op.args.process);
      const as = p.mm.as!;
      k.dirty.processes.add(p);
      if (op.args.write) {
        const data = hexBytes(op.args.data) ?? new Uint8Array([0]);
        const bytes = new Uint8Array(op.args.length);
        for (let i = 0; i < bytes.length; i++) bytes[i] = op.args.data ? data[i % data.length]! : i & 0xff;
        const r = as.cpuWrite(op.args.va, bytes);
        return r.ok ? { ok: true } : { ok: false, errno: 'SIGSEGV', why: `store to 0x${r.va.toString(16)} outside any writable VMA of ${p.mm.label}` };
      }
      const r = as.cpuRead(op.args.va, op.args.length);
      return r.ok ? { ok: true, data: toHex(r.bytes) } : { ok: false, errno: 'SIGSEGV', why: `load from 0x${r.va.toString(16)} outside any VMA of ${p.mm.label}` };
    }
    case 'unmap': {
      const p = actor(k, op.args.process);
      const n = p.mm.as!.munmap(op.args.va, op.args.length);
      k.dirty.processes.add(p);
      if (op.args.notify) invalidateSecondaryTlbs(k, p.mm, op.args.va, op.args.length);
      else if (k.tr.on) k.tr.note(`munmap without the mmu notifier: no TLBI reaches the SMMU`);
      return { ok: true, detail: `${n} page(s) unmapped` };
    }
    case 'dma_map': {
      const d = device(k, op.args.device);
      const dom = d.group.domain;
      if (!dom?.pgtable) return { ok: false, errno: 'EINVAL', why: `${d.name}'s RID is on ${dom?.label ?? 'no domain'}, not a DMA domain: nothing to map into` };
      const data = hexBytes(op.args.data);
      for (let off = 0; off < op.args.length; off += 4096) {
        const iova = op.args.iova - (op.args.iova % 4096) + off;
        const page = k.mem.alloc(4096, `dma-buf:${d.name}@0x${iova.toString(16)}`);
        if (data) for (let i = 0; i < 4096; i++) k.mem.write8(page.base + i, data[(off + i) % data.length]!);
        dom.pgtable.map(iova, page.base, { write: true });
      }
      if (k.tr.on) k.tr.set(dom.label, `iova[0x${op.args.iova.toString(16)}]`, { length: op.args.length });
      return DONE;
    }
    case 'dma': {
      const d = device(k, op.args.device);
      let ssid: number | null = op.args.ssid ?? null;
      let forMm: MmStruct | null = null;
      let pasidBy: StepTag | null = null;
      if (op.args.process !== undefined) {
        const f = dmaFile(existing(k, op.args.process), d.name)!;
        ssid = f.pasid;
        forMm = f.handle.domain.mm;
        pasidBy = f.pasidBy;
      }
      const r = deviceDma(k, d, ssid, op.args.va, op.args.length, op.args.write, hexBytes(op.args.data), op.args.sid);
      const reached = r.reached.map((c) => ({ va: c.va, pa: c.pa, owner: k.mem.regionAt(c.pa)?.owner ?? 'unallocated' }));
      const res: StepResult = {
        ok: r.ok,
        pasid: ssid ?? undefined,
        event: r.events.length ? r.events[r.events.length - 1]!.id : null,
        events: r.events.map((e) => e.id),
        reached,
      };
      if (res.pasid === undefined) delete res.pasid;
      if (!r.ok) Object.assign(res, { errno: 'EFAULT', why: `${r.fault}: ${r.why}` });
      else if (!op.args.write) res.data = toHex(r.bytes);
      if (forMm) {
        const mine = `page:${forMm.label}@`;
        const i = reached.findIndex((c) => !c.owner.startsWith(mine));
        const stray = reached[i];
        if (stray) {
          res.isolation = `DMA from ${d.name} for ${forMm.label} (SSID ${ssid}) reached PA 0x${stray.pa.toString(16)}, which is ${stray.owner === 'unallocated' ? 'unallocated memory' : stray.owner}`;
          withCause(res, isolationCause(d, ssid, forMm, r.reached[i]!, pasidBy));
        }
      }
      return res;
    }
    case 'submit':
      return applySubmit(k, op.args);
  }
}

/** `submit`: the device executes the job (devices/accel.ts, devices/idxd.ts). */
function applySubmit(k: Kernel, a: OpArgs<'submit'>): StepResult {
  const d = device(k, a.device);
  const pattern = hexBytes(a.value);
  if (d.kind === 'platform') {
    const f = dmaFile(existing(k, a.process!), d.name)!;
    const ctx = accelContextOf(f)!;
    const r = accelRun(k, d, ctx, { op: a.op as AccelOp, src: a.src ?? null, dst: a.dst, length: a.length, pattern });
    const mm = f.handle.domain.mm;
    const owner = { ownerPrefix: `page:${mm?.label ?? '?'}@`, forLabel: mm?.label ?? f.label };
    return jobResult(k, d, r.job, { ssid: r.ssid, ok: r.ok, errno: 'EFAULT', why: r.why, detail: `context ${ctx.index}, SSID register ${ctx.ssid}` }, owner, { mm, pasidBy: f.pasidBy });
  }
  const wq = d.wqs.find((w) => w.name === a.wq)!;
  let route: IdxdRoute;
  let who: { mm: MmStruct | null; pasidBy: StepTag | null };
  if (a.process === undefined) {
    const r = idxdRouteKernel(k, d, wq);
    if (!r.ok) return { ok: false, errno: r.errno, why: r.why };
    route = r;
    who = { mm: null, pasidBy: null };
  } else if (wq.mode === 'dedicated') {
    route = idxdRouteDedicated(k, d, wq, wq.owner!);
    who = { mm: wq.owner!.handle.domain.mm, pasidBy: wq.owner!.pasidBy };
  } else {
    const p = actor(k, a.process);
    k.dirty.processes.add(p); // a thread named for the first time appears even when the ENQCMD faults
    const r = idxdRouteEnqcmd(k, d, wq, p, a.thread ?? 'main');
    if (!r.ok) return { ok: false, errno: r.errno, why: r.why };
    route = r;
    who = { mm: p.mm, pasidBy: p.mm.pasidBy };
  }
  const r = idxdRun(k, d, route.ssid, {
    op: a.op as IdxdOp,
    src: a.src ?? null,
    dst: a.dst,
    length: a.length,
    pattern,
    dstLength: a.dst_length ?? 1 << 20,
    completion: a.completion ?? null,
  });
  const status = r.record.status & COMP_STATUS_MASK;
  const errno = status === IAX_COMP.OUTBUF_OVERFLOW && d.kind === 'iaa' ? 'EOVERFLOW' : status === IAX_COMP.ANALYTICS_ERROR && d.kind === 'iaa' ? 'EINVAL' : 'EFAULT';
  const rec = r.record;
  const parts = [`${route.via}`, `status 0x${rec.status.toString(16).padStart(2, '0')}`, `bytes_completed ${rec.bytesCompleted}`];
  if (d.kind === 'dsa' && a.op === 'compare') parts.push(`result ${rec.result}`);
  if (d.kind === 'iaa' && (a.op === 'compress' || a.op === 'decompress')) parts.push(`output_size ${rec.outputSize}`);
  if (rec.faultAddr) parts.push(`fault_addr 0x${rec.faultAddr.toString(16)}`);
  parts.push(r.crWritten === null ? 'no completion record' : r.crWritten ? 'completion record written' : 'no completion record written');
  const res = jobResult(k, d, r.job, { ssid: r.ssid, ok: r.ok, errno, why: r.why, detail: parts.join(', ') }, route, who);
  if (r.crBytes) res.data = toHex(r.crBytes);
  return res;
}

/** A job's StepResult: its SMMU events, where it landed, and an isolation finding if it left its owner's memory. */
function jobResult(
  k: Kernel,
  d: Device,
  job: DeviceJob,
  o: { ssid: number | null; ok: boolean; errno: string; why: string; detail: string },
  route: Pick<IdxdRoute, 'ownerPrefix' | 'forLabel' | 'reaches' | 'crossed'>,
  who: { mm: MmStruct | null; pasidBy: StepTag | null },
): StepResult {
  const reached = job.landings();
  const res: StepResult = {
    ok: o.ok,
    event: job.events.length ? job.events[job.events.length - 1]!.id : null,
    events: job.events.map((e) => e.id),
    reached,
    detail: o.detail,
  };
  if (o.ssid !== null) res.pasid = o.ssid;
  if (!o.ok) Object.assign(res, { errno: o.errno, why: o.why });
  const tag = o.ssid === null ? 'no SSID' : `SSID ${o.ssid}`;
  const stray = job.strayChunk(route.ownerPrefix);
  if (stray) res.isolation = `a job on ${d.name} for ${route.forLabel} (${tag}) reached PA 0x${stray.pa.toString(16)}, which is ${stray.owner === 'unallocated' ? 'unallocated memory' : stray.owner}`;
  else if (route.crossed) res.isolation = `a descriptor from ${route.forLabel} carried PASID ${o.ssid}, which names ${route.reaches} on ${d.name}`;
  if (res.isolation) withCause(res, isolationCause(d, o.ssid, who.mm, stray as DmaChunk | null, who.pasidBy));
  return res;
}
