/**
 * Sessions on the command line: `svalab run SESSION.svalab` (a session is a regression test: every step must give
 * the result recorded in it) and `svalab convert IN OUT` (scenario -> session, session -> scenario).
 *
 * Exit codes, as for scenarios: 0 every session replays as recorded; 1 one diverges under its own policy; 2 invalid
 * input. Replaying under another policy (--policy P, --all-policies) lists the divergences step by step and does not
 * fail the run: a different policy is expected to give different results, showing where is the point.
 *
 * Session -> scenario is lab/export.ts (the bench's Export uses it too).
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { SESSION_FORMAT, SessionError, type ParsedSession } from '../../shared/session.js';
import type { PolicyName } from '../../shared/steps.js';
import { loadScenarioFile, ScenarioInputError } from '../lab/scenario.js';
import { sessionToScenario } from '../lab/export.js';
import { loadSession, replaySession, saveSession, sessionFromLab, writeFileAtomic, type Divergence } from '../lab/session-io.js';
import { Lab } from '../lab/lab.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** A session file: `.svalab`, or a `.json` file whose head says "format": "svalab-session". */
export function isSessionFile(path: string): boolean {
  const ext = extname(path).toLowerCase();
  if (ext === '.svalab') return true;
  if (ext !== '.json') return false;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return new RegExp(`"format"\\s*:\\s*"${SESSION_FORMAT}"`).test(buf.subarray(0, n).toString('utf8'));
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

export interface SessionRun {
  policy: PolicyName;
  recordedPolicy: PolicyName;
  /** Under the recorded policy: no divergence. Under another: always true (divergences are the finding). */
  passed: boolean;
  steps: number;
  divergences: Divergence[];
}

export interface SessionReport {
  file: string;
  kind: 'session';
  migratedFrom: number | null;
  runs: SessionRun[];
  error: string | null;
}

/** Replays one session file under the policies asked (its own by default). */
export function runSessionFile(file: string, opts: { policy?: PolicyName; policies?: PolicyName[] }): SessionReport {
  let parsed: ParsedSession;
  try {
    parsed = loadSession(file);
  } catch (e) {
    if (e instanceof SessionError) return { file, kind: 'session', migratedFrom: null, runs: [], error: `${file}: ${e.message.slice(e.file.length + 2)}` };
    throw e;
  }
  const own = parsed.session.policy;
  const policies = opts.policies ?? [opts.policy ?? own];
  const runs = policies.map((p): SessionRun => {
    const r = replaySession(parsed, p);
    return { policy: p, recordedPolicy: own, passed: p !== own || r.divergences.length === 0, steps: r.steps, divergences: r.divergences };
  });
  return { file, kind: 'session', migratedFrom: parsed.migratedFrom, runs, error: null };
}

/** Prints a session report the way `svalab run` prints scenarios. */
export function printSessionReport(r: SessionReport, quiet: boolean, io: Io): void {
  if (r.error) {
    io.err(`invalid: ${r.error}\n`);
    return;
  }
  const from = r.migratedFrom !== null ? ` (migrated from format version ${r.migratedFrom})` : '';
  for (const run of r.runs) {
    const n = run.divergences.length;
    if (run.policy === run.recordedPolicy) {
      if (n === 0) {
        if (!quiet) io.out(`ok   ${r.file} [${run.policy}] session replays as recorded (${run.steps} steps)${from}\n`);
        continue;
      }
      io.out(`FAIL ${r.file} [${run.policy}] session: ${n} of ${run.steps} step(s) diverge from the recording${from}\n`);
    } else {
      if (n === 0) {
        if (!quiet) io.out(`same ${r.file} [${run.policy}] no divergence from the recording under ${run.recordedPolicy} (${run.steps} steps)\n`);
        continue;
      }
      io.out(`diff ${r.file} [${run.policy}] ${n} of ${run.steps} step(s) diverge from the recording under ${run.recordedPolicy}\n`);
    }
    for (const d of run.divergences) io.out(`  step ${d.index + 1} (${d.text}): ${d.differences.join('; ')}\n`);
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* convert                                                                                                        */

export interface ConvertOpts {
  policy?: PolicyName;
  force?: boolean;
}

/** `svalab convert IN OUT`: scenario -> session (recorded by running it) or session -> scenario (YAML, or JSON). */
export function convertCommand(input: string, output: string, opts: ConvertOpts, io: Io): number {
  if (existsSync(output) && !opts.force) {
    io.err(`svalab convert: ${output} exists; give --force to replace it\n`);
    return 2;
  }
  try {
    if (isSessionFile(input)) {
      const text = sessionToScenario(loadSession(input), basename(input, extname(input)), extname(output).toLowerCase() === '.json');
      writeFileAtomic(output, text);
      io.out(`wrote scenario ${output}\n`);
      return 0;
    }
    const s = loadScenarioFile(input);
    const policy = opts.policy ?? s.policies[0] ?? 'mainline';
    const lab = new Lab(s.soc, policy, { trace: false, checkpoints: false });
    for (const st of s.steps) {
      const rec = lab.apply(st.op);
      if (rec.result.rejected !== undefined) {
        io.err(`invalid: ${input}: step ${st.index + 1}: ${rec.result.rejected}\n`);
        return 2;
      }
    }
    const notes = s.description?.trim() ? `${s.name}\n\n${s.description.trim()}` : s.name;
    saveSession(output, sessionFromLab(lab, notes, {}, { stepNotes: s.steps.map((st) => st.note) }));
    io.out(`wrote session ${output} (${s.steps.length} steps recorded under ${policy}; the scenario's expectations were not checked: \`svalab run\` does that)\n`);
    return 0;
  } catch (e) {
    if (e instanceof SessionError || e instanceof ScenarioInputError) {
      io.err(`invalid: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
