/**
 * Processes: spawn, fork (kernel/fork.c copy_process/dup_mm), exec (fs/exec.c exec_mmap), exit (kernel/exit.c
 * do_exit). What matters for PASIDs: a new mm never inherits a PASID (mm_pasid_init); fork shares open files;
 * exec keeps them; exit drops the mm (exit_mm) before it closes the files (exit_files), as do_exit does.
 */
import { removeAt } from './list.js';
import type { Kernel } from './kernel.js';
import { mmput, newMm } from './mm.js';
import { fput } from './drivers.js';
import { Process, type OpenFile, type Thread } from './structs.js';

export function newThread(name: string): Thread {
  return { name, pasidActivated: false, ia32Pasid: null };
}

export function spawnProcess(k: Kernel, name: string): Process {
  const p = new Process(name, k.nextId('pid'));
  p.mm = newMm(k, p);
  p.threads.set('main', newThread('main'));
  k.processes.set(name, p);
  k.dirty.processes.add(p);
  if (k.tr.on) k.tr.set(`process:${name}`, 'spawned', { pid: p.pid, mm: p.mm.label });
  return p;
}

/**
 * fork(): the child gets a new mm without a PASID, one thread whose pasid_activated is clear ([U] §7.1: not re-read
 * in copy_process), and the parent's open files (each file's count goes up; its bond is not touched).
 */
export function forkProcess(k: Kernel, parent: Process, childName: string): Process {
  const fn = 'copy_process';
  if (k.tr.on) k.tr.enter(fn, { parent: parent.name, child: childName });
  const child = spawnProcess(k, childName);
  for (const f of parent.fds) {
    f.refs++;
    child.fds.push(f);
  }
  return k.tr.leave(fn, child);
}

/**
 * execve(): a fresh mm (no PASID); the old one is mmput. Other threads die (de_thread) and the survivor's
 * IA32_PASID goes back to its init state ([I] the FPU/xstate reset of exec). Open files are kept (no O_CLOEXEC).
 */
export function execProcess(k: Kernel, p: Process): void {
  const fn = 'exec_mmap';
  if (k.tr.on) k.tr.enter(fn, { process: p.name });
  const old = p.mm;
  p.mm = newMm(k, p);
  p.threads.clear();
  p.threads.set('main', newThread('main'));
  k.dirty.processes.add(p);
  mmput(k, old);
  k.tr.leave(fn, null);
}

/**
 * do_exit(): exit_mm() (mmput) then exit_files(). With `filesKept`, another process still holds the files (S5):
 * they stay open, listed under the exited process, until a later unbind step closes them.
 */
export function exitProcess(k: Kernel, p: Process, filesKept: boolean): void {
  const fn = 'do_exit';
  if (k.tr.on) k.tr.enter(fn, { process: p.name, files_kept: filesKept });
  p.alive = false;
  p.threads.clear();
  mmput(k, p.mm);
  const fds = p.fds;
  p.fds = [];
  if (filesKept) p.kept.push(...fds);
  else for (const f of fds) fput(k, f);
  k.dirty.processes.add(p);
  k.tr.leave(fn, null);
}

/**
 * close() of `list[i]`, where `list` is the process's fds (or its kept files, once it has exited) and `i` what
 * fileToClose picked: its most recently opened file on a device. Returns the file (its `refs` tell whether that was
 * the last reference, which ran the driver's release).
 */
export function closeDeviceFileAt(k: Kernel, p: Process, list: OpenFile[], i: number): OpenFile {
  const f = list[i]!;
  removeAt(list, i);
  k.dirty.processes.add(p);
  if (k.tr.on) k.tr.set(`process:${p.name}`, `fd:${f.label}`, null);
  fput(k, f);
  return f;
}

/** Which of `list` an unbind of `devName` closes: the last one opened on it (an index), or -1. */
export function fileToClose(list: readonly OpenFile[], devName: string): number {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.dev.name === devName) return i;
  return -1;
}
