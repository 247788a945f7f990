/**
 * x86 ENQCMD with the lazily loaded IA32_PASID (arch/x86/kernel/traps.c try_fixup_enqcmd_gp(), §7.1), kernel side:
 * which PASID a descriptor carries, and whose address space that PASID names on the device it reaches.
 */
import { err, type KResult } from './errno.js';
import { entryLabel } from './iommu.js';
import type { Kernel } from './kernel.js';
import { newThread } from './process.js';
import type { Device, MmStruct, Process } from './structs.js';

export interface EnqcmdResult {
  pasid: number;
  /** Who owns the pasid_array slot the descriptor's PASID names on the device, or null when nothing is attached. */
  reaches: string | null;
  /** The slot belongs to another address space than the submitter's: an isolation failure. */
  crossed: boolean;
}

export function enqcmd(k: Kernel, p: Process, threadName: string, dev: Device): KResult<EnqcmdResult> {
  const fn = 'enqcmd';
  if (k.tr.on) k.tr.enter(fn, { process: p.name, thread: threadName, dev: dev.name });
  if (!k.enqcmd) return k.tr.leave(fn, err('SIGILL', `${k.arch} has no ENQCMD-like instruction in this SoC`));
  let t = p.threads.get(threadName);
  if (!t) {
    p.threads.set(threadName, (t = newThread(threadName))); // CLONE_VM thread, created on first mention
    k.dirty.processes.add(p);
  }
  if (!t.pasidActivated) {
    // #GP -> exc_general_protection -> try_fixup_enqcmd_gp()
    const pasid = k.policy.mmEnqcmdPasid(p.mm);
    if (pasid === null) return k.tr.leave(fn, err('SIGSEGV', `#GP: ${p.mm.label} has no valid PASID (mm_valid_pasid() is false)`));
    t.ia32Pasid = pasid;
    t.pasidActivated = true;
    k.dirty.processes.add(p);
    if (k.tr.on) k.tr.set(`process:${p.name}/${threadName}`, 'IA32_PASID', pasid);
  }
  const pasid = t.ia32Pasid!;
  const e = dev.group.pasidArray.load(pasid);
  const owner: MmStruct | null = e?.tag === 'HANDLE' ? e.handle.domain.mm : null;
  const crossed = e !== undefined && owner !== p.mm;
  return k.tr.leave(fn, { ok: true as const, pasid, reaches: entryLabel(e), crossed });
}
