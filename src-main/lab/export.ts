/**
 * What a lab exports besides its session file (issue 5 "Export"): the trace as JSON Lines and the steps as a scenario
 * file (YAML or JSON). The CLI's `svalab convert` (session -> scenario) and the hosts' export requests share these,
 * through the Lab's public API only.
 */
import { Document, isMap, isSeq } from 'yaml';
import type { StepResult } from '../../shared/results.js';
import type { ParsedSession, Session } from '../../shared/session.js';
import { ERRNO_NAMES, type Op, type Outcome } from '../../shared/steps.js';
import type { Lab } from './lab.js';
import { opSummary } from './scenario.js';
import { labFromSession } from './session-io.js';

/* ------------------------------------------------------------------------------------------------------------ */
/* Steps as a scenario                                                                                            */

/** The expectation a recorded result makes: what `svalab run` checks of the scenario. */
function expectationOf(st: Session['steps'][number]): Outcome {
  const r = st.result;
  const e: Outcome = { ok: r.ok };
  if (r.ok && r.pasid !== undefined) e.pasid = r.pasid;
  if (!r.ok && r.errno !== undefined && (ERRNO_NAMES as readonly string[]).includes(r.errno)) e.error = r.errno as Outcome['error'];
  if (r.reaches !== undefined) e.reaches = r.reaches;
  if (r.event !== undefined) e.event = r.event;
  if (r.events !== undefined) e.events = r.events;
  if (r.data !== undefined) e.data = r.data;
  if (st.findings?.length) e.violations = [...new Set(st.findings)];
  return e;
}

/**
 * A scenario from a session and the lab's records of the same steps (`timeline[i]` applied `s.steps[i]`): the SoC
 * and policy, the steps with the recorded results as expectations, the notes as name (first line) and description.
 * Kernel PASIDs the lab named itself (k1, k2, ...; the record's `detail`) are named explicitly, as a scenario must name
 * what a later step frees.
 */
export function scenarioFromSession(s: Session, timeline: readonly { op: Op; result: StepResult }[], fallbackName: string, json: boolean): string {
  const [first, ...rest] = s.notes.split('\n');
  const name = (first ?? '').trim().slice(0, 200) || fallbackName || 'session';
  const description = rest.join('\n').trim();
  const steps = s.steps.map((st, i) => {
    const raw: Record<string, unknown> = { ...st.step };
    const rec = timeline[i];
    if (rec && (rec.op.op === 'alloc_global_pasid' || rec.op.op === 'attach_kernel_pasid') && rec.op.args.as === undefined && rec.result.detail) {
      raw[rec.op.op] = { ...rec.op.args, as: rec.result.detail };
    }
    raw.expect = expectationOf(st);
    if (st.note !== undefined) raw.note = st.note;
    return raw;
  });
  const doc: Record<string, unknown> = { name };
  if (description) doc.description = description;
  doc.policy = s.policy;
  doc.soc = s.soc;
  doc.steps = steps;
  if (json) return JSON.stringify(doc, null, 2) + '\n';
  const y = new Document(doc);
  const seq = y.get('steps', true);
  if (isSeq(seq)) for (const item of seq.items) if (isMap(item)) for (const pair of item.items) if (isMap(pair.value)) pair.value.flow = true;
  const header = `# Converted from a session recorded under ${s.policy} by ${s.app.name} ${s.app.version} (${s.created}).\n# Expectations are the recorded results.\n`;
  return header + y.toString({ lineWidth: 0 });
}

/** The lab's whole timeline: the applied steps, then those left to redo. */
export function labTimeline(lab: Lab): readonly { op: Op; result: StepResult }[] {
  return [...lab.records, ...lab.redoSteps()];
}

/**
 * A scenario from a parsed session file (`svalab convert`): the session is replayed (without traces or checks) to
 * learn the names the lab gave kernel PASIDs.
 */
export function sessionToScenario(parsed: ParsedSession, fallbackName: string, json: boolean): string {
  const lab = labFromSession(parsed, { trace: false, check: false, checkpoints: false });
  return scenarioFromSession(parsed.session, labTimeline(lab), fallbackName, json);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The trace as JSON Lines                                                                                        */

/** The most a trace export may hold (it travels as one message to a browser). */
export const MAX_TRACE_EXPORT_CHARS = 64 * 1024 * 1024;

export class ExportTooLarge extends Error {}

/**
 * The trace of the lab as it stands (the boot, then the applied steps `from` to `to` - 1), as JSON Lines: one JSON
 * object per line, so that `jq`, `grep` and a line-by-line reader all work.
 *
 * - `{"t":"boot","step":-1,"policy":...,"problems":[...]}` opens the boot's records (when `from` is -1);
 * - `{"t":"step","step":i,"text":"bind process=p1 device=gpu","step_op":{"bind":{...}},"result":{...},"findings":[...]}`
 *   opens each step's records;
 * - every trace record follows as it is (`call`, `ret`, `set`, `note`, with its depth `d`), with the step it
 *   belongs to in `step`.
 *
 * Throws ExportTooLarge past MAX_TRACE_EXPORT_CHARS (ask for a range then).
 */
export function traceJsonLines(lab: Lab, from = -1, to = lab.records.length, maxChars = MAX_TRACE_EXPORT_CHARS): { text: string; records: number; steps: number } {
  const lines: string[] = [];
  let chars = 0;
  let records = 0;
  const push = (o: unknown): void => {
    const line = JSON.stringify(o);
    chars += line.length + 1;
    if (chars > maxChars) throw new ExportTooLarge(`the trace is larger than ${maxChars} characters: export a range of steps`);
    lines.push(line);
  };
  const first = Math.max(-1, from);
  const last = Math.min(lab.records.length, to);
  if (first === -1) {
    push({ t: 'boot', step: -1, policy: lab.policy, problems: lab.boot.problems.map((p) => ({ device: p.device, why: p.why })), findings: lab.bootFindings });
    for (const r of lab.bootTrace) {
      push({ step: -1, ...r });
      records++;
    }
  }
  let steps = 0;
  // One pass over the range: traces outside the lab's window are regenerated by a single replay (Lab.traces), not
  // one replay per step as reading record.trace step by step would cost.
  let i = Math.max(0, first);
  for (const trace of lab.traces(i, Math.max(i, last))) {
    const rec = lab.records.at(i)!;
    push({ t: 'step', step: i, text: opSummary(rec.op), step_op: { [rec.op.op]: rec.op.args }, result: rec.result, findings: rec.findings });
    steps++;
    for (const r of trace) {
      push({ step: i, ...r });
      records++;
    }
    i++;
  }
  return { text: lines.length ? lines.join('\n') + '\n' : '', records, steps };
}
