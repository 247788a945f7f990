/**
 * Session files on disk and sessions to and from labs (shared/session.ts holds the format).
 *
 * - loadSession: the size is checked before anything is read; then UTF-8, JSON, schema, migrations, references.
 * - saveSession: atomic (anchors.md §D.2): the text goes to a temporary file in the target's directory, which is
 *   flushed (fsync) and renamed over the target, then the directory is flushed so the rename itself is durable. A
 *   crash at any point leaves either the previous file or the new one, never a mix; at worst a stray temporary file.
 * - sessionFromLab / labFromSession: a lab's steps with their recorded results, and back (a failed rebuild leaves
 *   nothing half-built: the lab is returned only once every step applied).
 */
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import {
  MAX_SESSION_BYTES,
  SESSION_FORMAT,
  SESSION_VERSION,
  SessionError,
  compareRecorded,
  findingNames,
  parseSessionText,
  rawStep,
  serializeSession,
  summarizeResult,
  validateSessionDoc,
  type ParsedSession,
  type Session,
} from '../../shared/session.js';
import type { Op, PolicyName } from '../../shared/steps.js';
import { packageVersion } from './paths.js';
import { Lab, type LabOptions, type StepRecord } from './lab.js';
import { opSummary } from './scenario.js';

/* ------------------------------------------------------------------------------------------------------------ */
/* Files                                                                                                          */

/** Reads and validates a session file. Throws a SessionError (kind `io`, `too-large`, `truncated`, ...). */
export function loadSession(path: string): ParsedSession {
  const name = basename(path);
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO named like a session must not hang the open (regular files ignore the flag)
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new SessionError('io', [{ path: '', message: ioMessage(e) }], name);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SessionError('io', [{ path: '', message: 'not a regular file' }], name);
    if (st.size > MAX_SESSION_BYTES) throw new SessionError('too-large', [{ path: '', message: `${st.size} bytes is more than the ${MAX_SESSION_BYTES}-byte limit for a session file` }], name);
    // Read at most the limit plus one byte: a file growing under us is caught too.
    const buf = Buffer.allocUnsafe(Math.min(st.size, MAX_SESSION_BYTES) + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got === buf.length) break;
    }
    return parseSessionBytes(buf.subarray(0, got), name);
  } catch (e) {
    if (e instanceof SessionError) throw e;
    throw new SessionError('io', [{ path: '', message: ioMessage(e) }], name);
  } finally {
    closeSync(fd);
  }
}

/** A session file's bytes (an upload, a file read): size, UTF-8, then parseSessionText. */
export function parseSessionBytes(bytes: Uint8Array, name = 'session'): ParsedSession {
  if (bytes.length > MAX_SESSION_BYTES) throw new SessionError('too-large', [{ path: '', message: `${bytes.length} bytes is more than the ${MAX_SESSION_BYTES}-byte limit for a session file` }], name);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SessionError('not-text', [{ path: '', message: 'the file is not UTF-8 text (a binary file, or a session damaged on disk)' }], name);
  }
  return parseSessionText(text, name);
}

function ioMessage(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'a directory, not a file';
  return code ?? (e as Error)?.message ?? String(e);
}

/**
 * Writes `data` to `path` atomically: temporary file beside it, fsync, rename over it, fsync the directory. The
 * target keeps its permissions; a symlink target is followed (the link stays a link).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  let target = path;
  let mode = 0o644;
  try {
    target = realpathSync(path);
    mode = statSync(target).mode & 0o7777;
  } catch {
    // a new file
  }
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  let renamed = false;
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 20));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, target);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or gone
      }
    }
  }
  fsyncDir(dir);
}

/** Makes a rename in `dir` durable. Some filesystems refuse fsync on a directory: nothing more can be done there. */
function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // EINVAL/EISDIR on filesystems without directory fsync
  } finally {
    closeSync(fd);
  }
}

/** Validates and writes a session atomically. An invalid or oversized session throws before anything is written. */
export function saveSession(path: string, session: Session): void {
  const text = serializeSession(session);
  if (Buffer.byteLength(text, 'utf8') > MAX_SESSION_BYTES) {
    throw new SessionError('too-large', [{ path: '', message: `the session would take more than the ${MAX_SESSION_BYTES}-byte limit` }], basename(path));
  }
  writeFileAtomic(path, text);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Labs                                                                                                           */

export interface SessionMeta {
  /** Per-step notes, by step index. */
  stepNotes?: readonly (string | null | undefined)[];
  /** The writer (default: this build). */
  app?: { name: string; version: string };
  /** When the session was first saved (default: now). */
  created?: string;
}

/**
 * The lab as a session: its whole timeline (applied steps, then those left to redo) with their results and findings
 * as recorded, and the position (how many are applied) when some are left to redo.
 */
export function sessionFromLab(lab: Lab, notes = '', layout: Record<string, unknown> = {}, meta: SessionMeta = {}): Session {
  const timeline = [...lab.records, ...lab.redoSteps()];
  const s: Session = {
    format: SESSION_FORMAT,
    version: SESSION_VERSION,
    app: meta.app ?? { name: 'svalab', version: appVersion() },
    created: meta.created ?? new Date().toISOString(),
    policy: lab.policy,
    notes,
    soc: lab.config,
    layout,
    steps: timeline.map((r, i) => {
      const note = meta.stepNotes?.[i];
      const st: Session['steps'][number] = { step: rawStep(r.op), result: summarizeResult(r.result), findings: findingNames(r.findings) };
      if (note !== null && note !== undefined && note !== '') st.note = note;
      return st;
    }),
  };
  if (lab.records.length < timeline.length) s.position = lab.records.length;
  return s;
}

function appVersion(): string {
  try {
    return packageVersion();
  } catch {
    return 'dev';
  }
}

export interface RebuildOptions extends LabOptions {
  /** Rebuild under this policy instead of the session's (the steps must still apply: see replaySession otherwise). */
  policy?: PolicyName;
}

/**
 * A lab with the session's SoC and policy, its steps applied and the session's position restored (the steps after
 * it left to redo). Validates the session first (a session built in memory gets the same checks as a file). A step
 * the lab rejects is a SessionError (`replay`, naming the step); the lab is returned only when every step applied, so
 * a failure leaves nothing half-built behind.
 */
export function labFromSession(session: Session | ParsedSession, opts: RebuildOptions = {}): Lab {
  // a ParsedSession comes out of parseSessionText/validateSessionDoc: already checked
  const { session: s, ops } = 'ops' in session && 'session' in session ? session : validateSessionDoc(session);
  const { policy, ...labOpts } = opts;
  const lab = new Lab(s.soc, policy ?? s.policy, labOpts);
  ops.forEach((op, i) => {
    const rec = lab.apply(op);
    if (rec.result.rejected !== undefined) {
      throw new SessionError('replay', [{ path: `steps[${i}].step.${op.op}`, message: `${opSummary(op)}: ${rec.result.rejected}` }]);
    }
  });
  if (s.position !== undefined && s.position < ops.length) lab.jumpTo(s.position);
  return lab;
}

export interface Divergence {
  index: number;
  op: Op;
  /** The step in words. */
  text: string;
  /** What differs from the recording (a rejected step says so). */
  differences: string[];
}

export interface ReplayReport {
  /** The policy the session was recorded under, and the one replayed. */
  recordedPolicy: PolicyName;
  policy: PolicyName;
  steps: number;
  divergences: Divergence[];
  /** The lab after the replay (rejected steps skipped: they change nothing). */
  lab: Lab;
}

/**
 * Replays a session (under its own policy, or another) and compares every step with its recording. Never throws on
 * a divergence: a step the lab rejects (possible under another policy, whose earlier results differ) is reported and
 * skipped, which is what a rejection means anyway (nothing changes).
 */
export function replaySession(parsed: ParsedSession, policy?: PolicyName, opts: LabOptions = {}): ReplayReport {
  const s = parsed.session;
  const lab = new Lab(s.soc, policy ?? s.policy, { trace: false, checkpoints: false, ...opts }); // one pass: no time travel
  const divergences: Divergence[] = [];
  parsed.ops.forEach((op, i) => {
    const rec: StepRecord = lab.apply(op);
    const st = s.steps[i]!;
    const differences = compareRecorded(st.result, st.findings, rec.result, rec.findings);
    if (differences.length) divergences.push({ index: i, op, text: opSummary(op), differences });
  });
  return { recordedPolicy: s.policy, policy: policy ?? s.policy, steps: parsed.ops.length, divergences, lab };
}
