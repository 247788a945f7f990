/**
 * Applies one lab step to the simulated kernel. A step is either carried out (its result is a kernel outcome:
 * a PASID, or an errno the kernel returned) or rejected because it makes no sense in the lab's current state (an
 * exited process, a device that does not exist, a close without an open file); a rejection changes nothing.
 */
import type { Op } from '../../shared/steps.js';
import type { StepResult } from '../../shared/results.js';
import { driverAttachKernelPasid, idxdDisableSystemPasid, idxdEnableSystemPasid, svaCdevOpen } from '../sim/kernel/drivers.js';
import { enqcmd } from '../sim/kernel/enqcmd.js';
import { iommuAttachGroup } from '../sim/kernel/iommu.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import { closeDeviceFile, execProcess, exitProcess, forkProcess, spawnProcess } from '../sim/kernel/process.js';
import type { Device, IommuDomain, Process } from '../sim/kernel/structs.js';
import { allocRidDomain, freeRidDomain } from '../sim/soc.js';

class Rejected extends Error {}

function reject(msg: string): never {
  throw new Rejected(msg);
}

function device(k: Kernel, name: string): Device {
  return k.devices.get(name) ?? reject(`unknown device '${name}'`);
}

/** The named process, created on first mention; an exited one cannot act. */
function actor(k: Kernel, name: string): Process {
  const p = k.processes.get(name) ?? spawnProcess(k, name);
  if (!p.alive) reject(`process '${name}' has exited`);
  return p;
}

function existing(k: Kernel, name: string): Process {
  return k.processes.get(name) ?? reject(`no process named '${name}'`);
}

/**
 * Checks a step against the current state without changing anything: the reason it would be rejected, or null.
 * Kept apart from applyOp so that a rejected step never leaves half a change behind (a spawned process, say).
 */
export function precheck(k: Kernel, op: Op): string | null {
  try {
    const a = op.args as Record<string, unknown>;
    if (typeof a.device === 'string') device(k, a.device);
    const proc = (n: unknown): void => {
      const p = k.processes.get(n as string);
      if (p && !p.alive) reject(`process '${String(n)}' has exited`);
    };
    switch (op.op) {
      case 'bind':
      case 'fork':
      case 'exec':
      case 'exit':
      case 'open_wq':
      case 'enqcmd':
        proc(op.args.process);
        break;
      case 'spawn':
        if (k.processes.has(op.args.process)) reject(`process '${op.args.process}' already exists`);
        break;
      case 'unbind': {
        const p = existing(k, op.args.process);
        const files = p.alive ? p.fds : p.kept;
        if (!files.some((f) => f.dev.name === op.args.device)) reject(`process '${p.name}' has no open file on '${op.args.device}'${p.alive ? '' : ' (it has exited and no file of it was kept)'}`);
        break;
      }
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

/** `k<N>`, the first N whose name is free (a scenario may have named a kernel PASID `k1` itself). */
function freshKernelPasidName(k: Kernel): string {
  for (;;) {
    const name = `k${k.nextId('kpasid')}`;
    if (!k.kernelPasids.has(name)) return name;
  }
}

/** Carries out a step that passed precheck(). */
export function applyOp(k: Kernel, op: Op): StepResult {
  const why = precheck(k, op);
  if (why !== null) return { ok: false, rejected: why };
  switch (op.op) {
    case 'bind': {
      const r = svaCdevOpen(k, actor(k, op.args.process), device(k, op.args.device), null);
      return r.ok ? { ok: true, pasid: r.pasid } : { ok: false, errno: r.errno, why: r.why };
    }
    case 'open_wq': {
      const d = device(k, op.args.device);
      const wq = d.wqs.find((w) => w.name === op.args.wq)!;
      const r = svaCdevOpen(k, actor(k, op.args.process), d, wq);
      return r.ok ? { ok: true, pasid: r.pasid } : { ok: false, errno: r.errno, why: r.why };
    }
    case 'unbind':
      closeDeviceFile(k, existing(k, op.args.process), op.args.device);
      return { ok: true };
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
      return { ok: true };
    case 'exit':
      exitProcess(k, actor(k, op.args.process), op.args.files_kept);
      return { ok: true };
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
      return { ok: true };
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
      if (old && old !== domain && old !== group.defaultDomain && old.smmuDomain && old.attachments.size === 0) freeRidDomain(k, old);
      return { ok: true };
    }
    case 'enqcmd': {
      const r = enqcmd(k, actor(k, op.args.process), op.args.thread, device(k, op.args.device));
      if (!r.ok) return { ok: false, errno: r.errno, why: r.why };
      return { ok: true, pasid: r.pasid, reaches: r.reaches, crossed: r.crossed };
    }
  }
}
