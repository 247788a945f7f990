/**
 * Scenario files (YAML or JSON): loading with bounded size and precise errors, and running them under a policy
 * with their expectations checked. Files are data: they are parsed, never executed.
 */
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import type { Finding, StepResult } from '../../shared/results.js';
import { socConfigProblems } from '../../shared/soc-config.js';
import { outcomeFor, parseScenario, type Op, type Outcome, type PolicyName, type Problem, type Scenario } from '../../shared/steps.js';
import type { TraceRecord } from '../sim/kernel/trace.js';
import { Lab } from './lab.js';
import { lookup } from './view.js';

/** Scenario files larger than this are refused before parsing. */
export const MAX_SCENARIO_BYTES = 16 * 1024 * 1024;

export class ScenarioInputError extends Error {
  constructor(
    readonly file: string,
    readonly problems: Problem[],
  ) {
    super(`${file}: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`);
  }
}

/** Parses scenario text; `file` names it in errors and picks the syntax by extension (.json, else YAML). */
export function parseScenarioText(text: string, file: string): Scenario {
  let doc: unknown;
  if (extname(file).toLowerCase() === '.json') {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new ScenarioInputError(file, [{ path: '', message: `not valid JSON: ${(e as Error).message}` }]);
    }
  } else {
    const d = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (d.errors.length) {
      throw new ScenarioInputError(file, d.errors.map((e) => ({ path: '', message: `not valid YAML: ${e.message.split('\n')[0]}` })));
    }
    doc = d.toJS({ maxAliasCount: 100 });
  }
  const r = parseScenario(doc, checkReferences);
  if ('problems' in r) throw new ScenarioInputError(file, r.problems);
  return r.scenario;
}

export function loadScenarioFile(file: string): Scenario {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new ScenarioInputError(file, [{ path: '', message: 'not a regular file' }]);
    size = st.size;
  } catch (e) {
    if (e instanceof ScenarioInputError) throw e;
    throw new ScenarioInputError(file, [{ path: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  if (size > MAX_SCENARIO_BYTES) throw new ScenarioInputError(file, [{ path: '', message: `${size} bytes is more than the ${MAX_SCENARIO_BYTES}-byte limit for a scenario file` }]);
  return parseScenarioText(readFileSync(file, 'utf8'), file);
}

/** Cross-references: the SoC itself, then every device a step names must exist, and kernel PASID names must be known. */
function checkReferences(s: Scenario): Problem[] {
  const out = socConfigProblems(s.soc);
  const devices = new Map(s.soc.devices.map((d) => [d.name, d]));
  const kernelNames = new Set(s.soc.devices.filter((d) => d.kernel_pasid).map((d) => `${d.name}-kernel`));
  for (const st of s.steps) {
    const at = `steps[${st.index}].${st.op.op}`;
    const a = st.op.args as Record<string, unknown>;
    if (typeof a.device === 'string' && !devices.has(a.device)) {
      out.push({ path: `${at}.device`, message: `unknown device '${a.device}' (known: ${[...devices.keys()].join(', ') || 'none'})` });
    }
    if ((st.op.op === 'open_wq' || st.op.op === 'enqcmd') && st.op.args.wq !== undefined) {
      const d = devices.get(st.op.args.device);
      if (d && d.kind !== 'dsa' && d.kind !== 'iaa') out.push({ path: `${at}.device`, message: `'${d.name}' is a ${d.kind} device; work queues are on dsa/iaa devices` });
      const wqs = d?.wqs?.map((w) => w.name) ?? (d && (d.kind === 'dsa' || d.kind === 'iaa') ? ['wq0', 'wq1'] : []);
      if (d && (d.kind === 'dsa' || d.kind === 'iaa') && !wqs.includes(st.op.args.wq)) out.push({ path: `${at}.wq`, message: `'${d.name}' has no work queue '${st.op.args.wq}' (it has ${wqs.join(', ')})` });
    }
    if ((st.op.op === 'alloc_global_pasid' || st.op.op === 'attach_kernel_pasid') && st.op.args.as) kernelNames.add(st.op.args.as);
    if (st.op.op === 'free_global_pasid' && !kernelNames.has(st.op.args.name)) {
      out.push({ path: `${at}.name`, message: `no kernel PASID named '${st.op.args.name}' is taken before this step` });
    }
  }
  return out;
}

export interface StepReport {
  index: number;
  op: Op;
  result: StepResult;
  expected: Outcome | null;
  /** Why the result differs from the expectation; empty when it holds. */
  mismatches: string[];
  /** Violations nobody expected under a policy where that is not a failure (see runScenario). */
  warnings: string[];
  findings: Finding[];
  /** The step's trace, when the run was asked to keep it. */
  trace?: TraceRecord[];
}

export interface RunReport {
  scenario: string;
  policy: PolicyName;
  passed: boolean;
  /** A step the lab could not apply: the scenario is invalid for its own state (exit code 2). */
  rejected: { index: number; message: string } | null;
  bootFindings: Finding[];
  steps: StepReport[];
}

/**
 * Runs a scenario under one policy, checking every expectation. A step that breaks an invariant nobody expected
 * (no `violations` in its expectation) fails the run under mainline, which must run clean, and under every policy
 * with `strict`; otherwise it is reported as a warning, since the other policies are there to be studied.
 */
export function runScenario(s: Scenario, policy: PolicyName, strict = false, keepTrace = false): RunReport {
  const lab = new Lab(s.soc, policy);
  const steps: StepReport[] = [];
  let rejected: RunReport['rejected'] = null;
  for (const st of s.steps) {
    const rec = lab.apply(st.op);
    if (rec.result.rejected !== undefined) {
      rejected = { index: st.index, message: rec.result.rejected };
      break;
    }
    const expected = outcomeFor(st.expect, policy);
    const mismatches = compare(expected, rec.result, rec.findings, lab);
    const warnings: string[] = [];
    if (expected?.violations === undefined && rec.findings.length) {
      const msg = `unexpected invariant violation(s): ${rec.findings.map((f) => `${f.invariant} (${f.message})`).join('; ')}`;
      if (policy === 'mainline' || strict) mismatches.push(msg);
      else warnings.push(msg);
    }
    const report: StepReport = { index: st.index, op: st.op, result: rec.result, expected, mismatches, warnings, findings: rec.findings };
    if (keepTrace) report.trace = lab.traceOf(rec);
    steps.push(report);
  }
  const passed = rejected === null && lab.bootFindings.length === 0 && steps.every((r) => r.mismatches.length === 0);
  return { scenario: s.name, policy, passed, rejected, bootFindings: lab.bootFindings, steps };
}

export function describeResult(r: StepResult): string {
  if (r.rejected !== undefined) return `rejected (${r.rejected})`;
  if (!r.ok) return r.events?.length ? `${r.errno} (${r.events.join(',')})` : `${r.errno}`;
  const parts = [r.pasid !== undefined ? `pasid ${r.pasid}` : 'ok'];
  if (r.data !== undefined) parts.push(`data ${r.data.length > 32 ? r.data.slice(0, 32) + '…' : r.data}`);
  if (r.events !== undefined && r.events.length) parts.push(`events ${r.events.join(',')}`);
  if (r.reaches !== undefined) parts.push(`reaches ${r.reaches ?? 'nothing'}`);
  return parts.join(', ');
}

/** Compares a step's result with its expectation. */
function compare(e: Outcome | null, r: StepResult, findings: Finding[], lab: Lab): string[] {
  const out: string[] = [];
  const got = describeResult(r);
  if (e?.ok !== undefined && r.ok !== e.ok) out.push(`expected ${e.ok ? 'success' : 'failure'}, got ${got}`);
  if (e?.pasid !== undefined && (!r.ok || r.pasid !== e.pasid)) out.push(`expected pasid ${e.pasid}, got ${got}`);
  if (e?.error !== undefined && (r.ok || r.errno !== e.error)) out.push(`expected error ${e.error}, got ${got}`);
  if (e?.reaches !== undefined && r.reaches !== e.reaches) out.push(`expected the descriptor to reach ${e.reaches ?? 'nothing'}, got ${r.reaches === undefined ? got : (r.reaches ?? 'nothing')}`);
  if (e?.event !== undefined && (r.event ?? null) !== e.event) out.push(`expected event ${e.event ?? 'none'}, got ${r.event === undefined ? got : (r.event ?? 'none')}`);
  if (e?.events !== undefined && !isDeepStrictEqual(r.events ?? [], e.events)) out.push(`expected events [${e.events.join(', ')}], got [${(r.events ?? []).join(', ')}]`);
  if (e?.data !== undefined && (r.data ?? '').toLowerCase() !== e.data.toLowerCase()) out.push(`expected data ${e.data}, got ${r.data === undefined ? got : r.data}`);
  const names = [...new Set(findings.map((f) => f.invariant))].sort();
  if (e?.violations === undefined) {
    // judged by runScenario, which knows the policy
  } else if (typeof e.violations === 'number') {
    if (findings.length !== e.violations) out.push(`expected ${e.violations} new violation(s), got ${findings.length}${names.length ? ': ' + names.join(', ') : ''}`);
  } else {
    const want = [...new Set(e.violations)].sort();
    if (!isDeepStrictEqual(want, names)) out.push(`expected violations [${want.join(', ')}], got [${names.join(', ')}]`);
  }
  if (e?.state) {
    const view = lab.view();
    for (const [path, want] of Object.entries(e.state)) {
      const have = lookup(view, path);
      if (!isDeepStrictEqual(have, want)) out.push(`state ${path}: expected ${JSON.stringify(want)}, got ${have === undefined ? 'nothing (no such path)' : JSON.stringify(have)}`);
    }
  }
  return out;
}

export function opSummary(op: Op): string {
  const a = Object.entries(op.args)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return `${op.op} ${a}`;
}
