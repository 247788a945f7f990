/**
 * LabService: the lab behind the contract (shared/contract.ts), with no transport. It holds one Lab, validates every
 * request's input with the contract's schemas (a bad message gets a typed error and changes nothing), and pushes
 * events to its subscribers. The Electron main process and the web host are thin adapters over `handle` and
 * `subscribe`.
 *
 * Events: a step, an undo or a redo pushes `lab.patch` (an undo is a patch too: it refreshes what the undone step
 * touched, read from the restored kernel). configure, reset, stepTo, jumpTo, loadScenario and session.import push
 * `lab.replaced`; the renderer then refetches `lab.snapshot`. Every event carries the next `seq`; a snapshot carries
 * the seq it includes.
 *
 * Sessions: the service is the document. It keeps the session's notes and layout (session.update), its name and
 * creation date, and whether anything changed since it was last saved or opened (`dirty`); session.export writes it
 * (shared/session.ts), session.import replaces the lab with one, session.new with a fresh one. Hosts save to disk
 * (Electron) or offer a download (the browser: session.export with `saved`). session.info gives the whole document;
 * the `session.state` event tells the renderers when its unsaved state or name changes otherwise.
 *
 * Exports (lab/export.ts): the trace as JSON Lines, the steps as a scenario. A host with its own file dialogs
 * (Electron) performs the document actions the renderer asks for with `host.document` (setDocumentHost).
 */
import {
  MAX_MESSAGE_BYTES,
  REQUESTS,
  encodeIdBitmap,
  type ContractError,
  type EventName,
  type EventPayload,
  type LabEvent,
  type MetaInfo,
  type OpenReport,
  type Patch,
  type RequestName,
  type RequestOutput,
  type Response,
  type SessionInfo,
  type Snapshot,
  type StepSummary,
} from '../../shared/contract.js';
import { DEFAULT_SOC, SEED_FAILURE_STEPS } from '../../shared/default-soc.js';
import { INVARIANTS } from '../../shared/results.js';
import { SocConfig, socConfigProblems } from '../../shared/soc-config.js';
import { ERRNO_NAMES, OP_NAMES, OPS, POLICY_NAMES, parseStep, zodProblems, type Op, type PolicyName, type Problem } from '../../shared/steps.js';
import { Lab, type StepRecord } from '../lab/lab.js';
import { addTouched, buildPatch, emptyNames, kernelResolver, opDevices, touchedResolver } from '../lab/patch.js';
import { MAX_SCENARIO_BYTES, opSummary, parseScenarioText, ScenarioInputError } from '../lab/scenario.js';
import { compareRecorded, parseSessionText, serializeSession, SessionError, SESSION_EXTENSION, type ParsedSession, type Session } from '../../shared/session.js';
import { ExportTooLarge, labTimeline, scenarioFromSession, traceJsonLines } from '../lab/export.js';
import { labFromSession, sessionFromLab } from '../lab/session-io.js';
import { stateView } from '../lab/view.js';
import { POLICIES } from '../sim/policies/index.js';
import type { z } from 'zod';

export interface LabServiceOptions {
  soc?: unknown;
  policy?: PolicyName;
  /** Shown by meta.info. */
  version?: string;
  /** Check invariants after every step (default true). */
  check?: boolean;
}

export class RequestError extends Error {
  constructor(readonly error: ContractError) {
    super(error.message);
  }
}

const fail = (code: ContractError['code'], message: string, problems?: Problem[]): never => {
  const e: ContractError = { code, message };
  if (problems?.length) {
    e.problems = problems;
    e.path = problems[0]!.path;
  }
  throw new RequestError(e);
};

/**
 * Requests that change the session document (its timeline or position). session.update marks it when the notes
 * change; session.import and session.new replace the document (clean); session.export with `saved` saves it.
 */
const MUTATING: ReadonlySet<RequestName> = new Set<RequestName>(['lab.configure', 'lab.step', 'lab.undo', 'lab.redo', 'lab.reset', 'lab.stepTo', 'lab.jumpTo', 'lab.loadScenario']);

/** The document actions a host performs itself (Electron: native dialogs). */
export interface DocumentHost {
  action(action: 'new' | 'open' | 'save' | 'saveAs'): void;
}

const OP_SUMMARIES: Record<string, string> = {
  bind: "open the device's SVA file: the driver binds the process's mm",
  unbind: "close the process's most recent file on the device",
  spawn: 'create a process (otherwise created on first mention)',
  fork: "fork(): the child gets a new mm and copies of the parent's open files",
  exec: 'execve(): a new mm; open files are kept',
  exit: 'exit(): the mm is dropped and the files close (files_kept: another process still holds them)',
  alloc_global_pasid: 'idxd_enable_system_pasid(): a global kernel PASID, named `as`',
  free_global_pasid: 'idxd_disable_system_pasid(): free the kernel PASID named `name`',
  attach_kernel_pasid: 'a kernel driver attaches its DMA domain at a PASID it picked itself',
  attach_rid: "change the RID domain of the device's group",
  open_wq: "idxd: open a work queue's char device",
  enqcmd: 'x86 ENQCMD from a thread of the process to a shared WQ of the device',
};

const FIELD_KINDS: Record<string, MetaInfo['ops'][number]['fields'][number]['kind']> = {
  process: 'process',
  child: 'process',
  device: 'device',
  wq: 'wq',
  thread: 'thread',
  name: 'kernel-pasid',
  as: 'name',
  pasid: 'int',
  files_kept: 'boolean',
  domain: 'enum',
};

function metaInfo(version: string): MetaInfo {
  return {
    version,
    policies: POLICY_NAMES.map((name) => ({ name, summary: POLICIES[name].summary })),
    ops: OP_NAMES.map((name) => {
      const shape = (OPS[name] as unknown as z.ZodObject).shape as Record<string, z.ZodType>;
      return {
        name,
        summary: OP_SUMMARIES[name] ?? name,
        fields: Object.entries(shape).map(([f, s]) => {
          const values = enumValues(s);
          const field: MetaInfo['ops'][number]['fields'][number] = { name: f, optional: s.safeParse(undefined).success, kind: FIELD_KINDS[f] ?? (values ? 'enum' : 'name') };
          if (values) field.values = values;
          return field;
        }),
      };
    }),
    invariants: Object.entries(INVARIANTS).map(([name, description]) => ({ name, description })),
    errnos: [...ERRNO_NAMES],
    defaultSoc: DEFAULT_SOC,
    seedFailureSteps: SEED_FAILURE_STEPS,
    maxMessageBytes: MAX_MESSAGE_BYTES,
  };
}

function enumValues(s: z.ZodType): string[] | undefined {
  const opts = (s as unknown as { options?: unknown }).options;
  return Array.isArray(opts) && opts.every((o) => typeof o === 'string') ? (opts as string[]) : undefined;
}

function summary(rec: StepRecord, note: string | null): StepSummary {
  return { index: rec.index, op: rec.op as StepSummary['op'], text: opSummary(rec.op), note, result: rec.result, findings: rec.findings };
}

/** Parses and cross-checks a SoC; `bad-soc` naming the first field otherwise. */
function parseSoc(raw: unknown): SocConfig {
  const r = SocConfig.safeParse(raw);
  if (!r.success) return fail('bad-soc', 'invalid SoC configuration', zodProblems(r.error, 'soc'));
  const problems = socConfigProblems(r.data);
  if (problems.length) return fail('bad-soc', 'invalid SoC configuration', problems);
  return r.data;
}

/** What session.import reports beyond the new seq. */
export type ImportResult = Omit<RequestOutput<'session.import'>, 'seq'>;

/** Divergences listed in full by session.import (all are counted). */
const SHOWN_DIVERGENCES = 20;

export class LabService {
  private lab: Lab;
  /** Notes of the timeline's steps, by index (applied ones, then those to redo; the Lab keeps ops, not notes). */
  private notes: (string | null)[] = [];
  private scenario: string | null = null;
  private seq = 0;
  private readonly subscribers = new Set<(e: LabEvent) => void>();
  private readonly changeListeners = new Set<() => void>();
  private readonly version: string;
  private readonly check: boolean;
  /** The session document: notes, UI layout, the name it was opened under, when it was first saved. */
  private sessionNotes = '';
  private sessionLayout: Record<string, unknown> = {};
  private sessionName: string | null = null;
  private sessionCreated: string | null = null;
  /** Changes so far, and the count at the last save or open: unequal means unsaved changes. */
  private changes = 0;
  private savedAt = 0;
  /** The last open's report, and the number of opens so far (its id). */
  private opened: OpenReport | null = null;
  private opens = 0;
  /** The unsaved state and name last told to the renderers (session.state). */
  private told: { dirty: boolean; name: string | null } = { dirty: false, name: null };
  private documentHost: DocumentHost | null = null;

  constructor(opts: LabServiceOptions = {}) {
    this.version = opts.version ?? 'dev';
    this.check = opts.check ?? true;
    const soc = opts.soc === undefined ? SocConfig.parse(DEFAULT_SOC) : (() => {
      try {
        return parseSoc(opts.soc);
      } catch (e) {
        if (e instanceof RequestError) throw new Error(`${e.error.path ?? ''}: ${e.error.problems?.[0]?.message ?? e.message}`);
        throw e;
      }
    })();
    this.lab = new Lab(soc, opts.policy ?? 'mainline', { check: this.check });
  }

  /** The lab (tests, the CLI). Change it only through `handle`. */
  get current(): Lab {
    return this.lab;
  }

  get currentSeq(): number {
    return this.seq;
  }

  /** Changes since the session was last saved or opened. */
  get dirty(): boolean {
    return this.changes !== this.savedAt;
  }

  /** The host saved the session (the current state is what is on disk), under `name` when given (Save As). */
  markSaved(name?: string): void {
    this.savedAt = this.changes;
    if (name !== undefined) this.sessionName = name;
    this.notifyChange();
  }

  /** A host that performs `host.document` actions with its own dialogs (Electron); null: the renderer does them. */
  setDocumentHost(host: DocumentHost | null): void {
    this.documentHost = host;
  }

  /** The session document (session.info). */
  sessionInfo(): SessionInfo {
    return { name: this.sessionName, suggestedName: this.suggestedName(), dirty: this.dirty, notes: this.sessionNotes, layout: this.sessionLayout, opened: this.opened };
  }

  /**
   * New: a fresh lab (the default SoC under mainline unless given) and a fresh document, not dirty. The caller asked
   * about unsaved changes. Throws a RequestError (`bad-soc`) for a bad SoC, changing nothing.
   */
  newSession(soc?: unknown, policy?: PolicyName): number {
    const config = soc === undefined ? SocConfig.parse(DEFAULT_SOC) : parseSoc(soc);
    this.lab = new Lab(config, policy ?? 'mainline', { check: this.check });
    this.notes = [];
    this.scenario = null;
    this.sessionNotes = '';
    this.sessionLayout = {};
    this.sessionName = null;
    this.sessionCreated = null;
    this.opened = null;
    const seq = this.replaced('new');
    this.savedAt = this.changes;
    this.told = { dirty: false, name: null }; // session.info after lab.replaced says so
    this.notifyChange();
    return seq;
  }

  /** The document differs from any saved file (a session restored from a recovery file). */
  markUnsaved(): void {
    this.changed();
  }

  /** Called after every change of the document and after a save (hosts: title, autosave). Returns the unsubscribe. */
  onChange(cb: () => void): () => void {
    this.changeListeners.add(cb);
    return () => void this.changeListeners.delete(cb);
  }

  /** The name of the session file the lab was opened from, if any. */
  get documentName(): string | null {
    return this.sessionName;
  }

  /** A file name for saving: the opened session's, or one made from the scenario's name. */
  suggestedName(): string {
    if (this.sessionName) return this.sessionName.toLowerCase().endsWith(SESSION_EXTENSION) ? this.sessionName : `${this.sessionName.replace(/\.[^.]*$/, '')}${SESSION_EXTENSION}`;
    const base = (this.scenario ?? 'lab').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'lab';
    return `${base}${SESSION_EXTENSION}`;
  }

  /** The lab as a session document (Electron's Save writes this). */
  exportSession(): Session {
    const s = sessionFromLab(this.lab, this.sessionNotes, this.sessionLayout, { stepNotes: this.notes, app: { name: 'svalab', version: this.version } });
    if (this.sessionCreated) s.created = this.sessionCreated;
    else this.sessionCreated = s.created;
    return s;
  }

  /**
   * Replaces the lab with a parsed session (session.import, or a file main read). Builds the new lab completely before
   * swapping it in: a session that cannot be replayed throws a RequestError (`bad-session`) and changes nothing.
   */
  openSession(parsed: ParsedSession, name: string): RequestOutput<'session.import'> {
    let lab: Lab;
    try {
      lab = labFromSession(parsed, { check: this.check });
    } catch (e) {
      if (e instanceof SessionError) return fail('bad-session', `${name}: ${e.message.slice(e.file.length + 2)}`, e.problems);
      throw e;
    }
    const s = parsed.session;
    const timeline = [...lab.records, ...lab.redoSteps()];
    let divergences = 0;
    const firstDivergences: ImportResult['firstDivergences'] = [];
    timeline.forEach((rec, i) => {
      const st = s.steps[i]!;
      const differences = compareRecorded(st.result, st.findings, rec.result, rec.findings);
      if (!differences.length) return;
      divergences++;
      if (firstDivergences.length < SHOWN_DIVERGENCES) firstDivergences.push({ index: i, text: opSummary(rec.op), differences });
    });
    this.lab = lab;
    this.notes = s.steps.map((st) => st.note ?? null);
    this.scenario = null;
    this.sessionNotes = s.notes;
    this.sessionLayout = s.layout;
    this.sessionName = name;
    this.sessionCreated = s.created;
    this.opened = { id: ++this.opens, name, steps: timeline.length, position: lab.records.length, migratedFrom: parsed.migratedFrom, divergences, firstDivergences };
    const seq = this.replaced('session');
    this.savedAt = this.changes;
    this.told = { dirty: false, name }; // session.info after lab.replaced says so
    this.notifyChange();
    return { seq, steps: timeline.length, position: lab.records.length, migratedFrom: parsed.migratedFrom, notes: s.notes, layout: s.layout, divergences, firstDivergences };
  }

  subscribe(cb: (e: LabEvent) => void): () => void {
    this.subscribers.add(cb);
    return () => void this.subscribers.delete(cb);
  }

  /**
   * Handles one request: `name` and `input` are untrusted. Never throws; a bad request changes nothing. The
   * events a request causes are pushed before it returns.
   */
  handle(name: string, input: unknown): Response<unknown> {
    if (typeof name !== 'string' || !Object.hasOwn(REQUESTS, name)) {
      return { ok: false, error: { code: 'bad-message', message: `unknown request '${String(name).slice(0, 100)}' (known: ${Object.keys(REQUESTS).join(', ')})` } };
    }
    const req = REQUESTS[name as RequestName];
    const parsed = req.input.safeParse(input ?? {});
    if (!parsed.success) {
      const problems = zodProblems(parsed.error, '');
      return { ok: false, error: { code: 'bad-input', message: `invalid input for ${name}: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`, path: problems[0]?.path ?? '', problems } };
    }
    try {
      const value = this.dispatch(name as RequestName, parsed.data);
      const noop = (name === 'lab.undo' || name === 'lab.redo') && (value as { patch: unknown }).patch === null;
      if (MUTATING.has(name as RequestName) && !noop) this.changed();
      return { ok: true, value };
    } catch (e) {
      if (e instanceof RequestError) return { ok: false, error: e.error };
      return { ok: false, error: { code: 'internal', message: `internal error in ${name}: ${(e as Error)?.message ?? String(e)}` } };
    }
  }

  /** Typed convenience over `handle` (tests, Electron menu actions). */
  request<N extends RequestName>(name: N, input: unknown): Response<RequestOutput<N>> {
    return this.handle(name, input) as Response<RequestOutput<N>>;
  }

  private dispatch(name: RequestName, input: any): unknown {
    switch (name) {
      case 'meta.info':
        return metaInfo(this.version);
      case 'lab.snapshot':
        return this.snapshot();
      case 'lab.configure': {
        const soc = parseSoc(input.soc);
        const lab = new Lab(soc, input.policy as PolicyName, { check: this.check });
        this.lab = lab;
        this.notes = [];
        this.scenario = null;
        return { seq: this.replaced('configure') };
      }
      case 'lab.step':
        return this.step(input.step);
      case 'lab.undo':
        return this.undo();
      case 'lab.reset':
        this.lab.reset();
        this.notes = [];
        return { seq: this.replaced('reset') };
      case 'lab.stepTo': {
        const n = input.length as number;
        if (n > this.lab.records.length) fail('no-such-step', `there are ${this.lab.records.length} steps; cannot go to step ${n}`);
        this.lab.jumpTo(n); // the nearest checkpoint, then a short replay
        this.lab.discardRedo();
        this.notes.length = n;
        return { seq: this.replaced('stepTo') };
      }
      case 'lab.jumpTo': {
        const n = input.step as number;
        const total = this.lab.timelineLength;
        if (n > total) fail('no-such-step', `the timeline has ${total} steps; cannot jump to step ${n}`);
        this.lab.jumpTo(n);
        return { seq: this.replaced('jumpTo'), length: this.lab.records.length, total };
      }
      case 'lab.redo':
        return this.redo();
      case 'session.export': {
        if (input.notes !== undefined && input.notes !== this.sessionNotes) {
          this.sessionNotes = input.notes;
          this.changed();
        }
        if (input.layout !== undefined) this.sessionLayout = input.layout;
        const session = this.exportSession();
        let text: string;
        try {
          text = serializeSession(session);
        } catch (e) {
          if (e instanceof SessionError) return fail('bad-session', e.message, e.problems);
          throw e;
        }
        const name = this.suggestedName();
        if (input.saved) this.markSaved(name);
        return { name, text, steps: session.steps.length };
      }
      case 'session.import': {
        let parsed: ParsedSession;
        try {
          parsed = parseSessionText(input.text, input.name);
        } catch (e) {
          if (e instanceof SessionError) return fail('bad-session', e.message, e.problems);
          throw e;
        }
        return this.openSession(parsed, input.name);
      }
      case 'session.update':
        if (input.layout !== undefined) this.sessionLayout = input.layout;
        if (input.notes !== undefined && input.notes !== this.sessionNotes) {
          this.sessionNotes = input.notes;
          this.changed();
        }
        return { dirty: this.dirty };
      case 'session.info':
        return this.sessionInfo();
      case 'session.new':
        return { seq: this.newSession(input.soc, input.policy) };
      case 'export.trace': {
        const len = this.lab.records.length;
        const from = input.from ?? -1;
        const to = Math.min(input.to ?? len, len);
        if (from > len) fail('no-such-step', `there are ${len} applied steps; cannot export from step ${from}`);
        try {
          const t = traceJsonLines(this.lab, from, to);
          return { name: this.exportName('-trace.jsonl'), text: t.text, records: t.records, steps: t.steps };
        } catch (e) {
          if (e instanceof ExportTooLarge) return fail('bad-input', e.message);
          throw e;
        }
      }
      case 'export.scenario': {
        const session = this.exportSession();
        const base = this.exportName('');
        const text = scenarioFromSession(session, labTimeline(this.lab), base, input.json === true);
        return { name: `${base}${input.json ? '.json' : '.yaml'}`, text, steps: session.steps.length };
      }
      case 'host.document':
        if (!this.documentHost) return { handled: false };
        this.documentHost.action(input.action);
        return { handled: true };
      case 'lab.loadScenario':
        return this.loadScenario(input.name, input.text, input.policy);
      case 'lab.trace': {
        const step = input.step as number;
        if (step === -1) return { step, records: this.lab.bootTrace };
        const rec = this.lab.records.at(step);
        if (!rec) return fail('no-such-step', `no step ${step} (there are ${this.lab.records.length})`);
        return { step, records: this.lab.traceOf(rec) };
      }
    }
  }

  /** The suggested file name without its extension, plus `suffix`. */
  private exportName(suffix: string): string {
    return this.suggestedName().replace(/\.svalab$/i, '') + suffix;
  }

  snapshot(): Snapshot {
    const k = this.lab.kernel;
    const view = stateView(k);
    delete view.ida;
    return {
      seq: this.seq,
      config: this.lab.config,
      policy: this.lab.policy,
      scenario: this.scenario,
      steps: this.lab.records.map((r, i) => summary(r, this.notes[i] ?? null)),
      future: this.lab.redoSteps().map((r, i) => summary(r, this.notes[this.lab.records.length + i] ?? null)),
      bootFindings: this.lab.bootFindings,
      bootProblems: this.lab.boot.problems.map((p) => ({ device: p.device, why: p.why })),
      view,
      ida: encodeIdBitmap(k.globalPasidIda.ids(), 20),
    };
  }

  private step(raw: unknown): RequestOutput<'lab.step'> {
    const index = this.lab.records.length;
    const parsed = parseStep(raw, index);
    if ('problems' in parsed) {
      const problems = parsed.problems.map((p) => ({ path: p.path.replace(`steps[${index}]`, 'step'), message: p.message }));
      return fail('bad-step', `invalid step: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
    }
    const op = parsed.step.op;
    const names = emptyNames();
    opDevices(this.lab.kernel, op, names.devices); // files an exit or unbind is about to close
    const rec = this.lab.apply(op);
    if (rec.result.rejected !== undefined) return fail('rejected', rec.result.rejected);
    this.notes.length = rec.index; // a new step ends the timeline here
    this.notes[rec.index] = parsed.step.note;
    opDevices(this.lab.kernel, op, names.devices);
    const touched = this.lab.touchedOf(rec);
    addTouched(names, touched, op, rec.result);
    const resolver = touchedResolver(this.lab.kernel, touched);
    const stepSummary = summary(rec, parsed.step.note);
    const patch: Patch = { ...buildPatch(this.lab.kernel, names, resolver), steps: { length: rec.index, append: [stepSummary], future: this.lab.redoSteps().length } };
    const seq = this.emit('lab.patch', (s) => ({ seq: s, patch }));
    return { seq, index: rec.index, result: rec.result, findings: rec.findings, patch };
  }

  private undo(): RequestOutput<'lab.undo'> {
    const last = this.lab.records.at(-1);
    if (!last) return { seq: this.seq, undone: null, patch: null };
    const names = emptyNames();
    opDevices(this.lab.kernel, last.op, names.devices);
    this.lab.undo(); // the step stays in the timeline, with its note, for redo
    opDevices(this.lab.kernel, last.op, names.devices);
    addTouched(names, this.lab.touchedOf(last), last.op, last.result);
    const patch: Patch = { ...buildPatch(this.lab.kernel, names, kernelResolver(this.lab.kernel)), steps: { length: this.lab.records.length, append: [], future: this.lab.redoSteps().length } };
    const seq = this.emit('lab.patch', (s) => ({ seq: s, patch }));
    return { seq, undone: last.index, patch };
  }

  private redo(): RequestOutput<'lab.redo'> {
    const next = this.lab.redoSteps().at(0);
    if (!next) return { seq: this.seq, redone: null, patch: null };
    const names = emptyNames();
    opDevices(this.lab.kernel, next.op, names.devices);
    const rec = this.lab.redo()!;
    opDevices(this.lab.kernel, rec.op, names.devices);
    const touched = this.lab.touchedOf(rec);
    addTouched(names, touched, rec.op, rec.result);
    const stepSummary = summary(rec, this.notes[rec.index] ?? null);
    const patch: Patch = { ...buildPatch(this.lab.kernel, names, touchedResolver(this.lab.kernel, touched)), steps: { length: rec.index, append: [stepSummary], future: this.lab.redoSteps().length } };
    const seq = this.emit('lab.patch', (s) => ({ seq: s, patch }));
    return { seq, redone: rec.index, patch };
  }

  private changed(): void {
    this.changes++;
    this.notifyChange();
  }

  private notifyChange(): void {
    const now = { dirty: this.dirty, name: this.sessionName };
    if (now.dirty !== this.told.dirty || now.name !== this.told.name) {
      this.told = now;
      this.publish('session.state', now);
    }
    for (const cb of [...this.changeListeners]) {
      try {
        cb();
      } catch {
        // a host's listener (a window title) must not fail the request
      }
    }
  }

  private loadScenario(name: string, text: string, policy: PolicyName | undefined): RequestOutput<'lab.loadScenario'> {
    if (text.length > MAX_SCENARIO_BYTES) fail('bad-scenario', `${name}: ${text.length} characters is more than the ${MAX_SCENARIO_BYTES}-byte limit for a scenario file`);
    let s;
    try {
      s = parseScenarioText(text, name);
    } catch (e) {
      if (e instanceof ScenarioInputError) return fail('bad-scenario', e.message, e.problems.map((p) => ({ path: p.path, message: p.message })));
      throw e;
    }
    const lab = new Lab(s.soc, policy ?? s.policies[0] ?? 'mainline', { check: this.check });
    const notes: (string | null)[] = [];
    let stoppedAt: number | null = null;
    let stopReason: string | null = null;
    for (const st of s.steps) {
      const rec = lab.apply(st.op);
      if (rec.result.rejected !== undefined) {
        stoppedAt = st.index;
        stopReason = rec.result.rejected;
        break;
      }
      notes.push(st.note);
    }
    this.lab = lab;
    this.notes = notes;
    this.scenario = s.name;
    return { seq: this.replaced('loadScenario'), steps: lab.records.length, stoppedAt, stopReason };
  }

  private replaced(reason: EventPayload<'lab.replaced'>['reason']): number {
    return this.emit('lab.replaced', (seq) => ({ seq, reason }));
  }

  private emit<N extends EventName>(name: N, make: (seq: number) => EventPayload<N>): number {
    const seq = ++this.seq;
    const payload = make(seq);
    this.publish(name, payload);
    return seq;
  }

  /** Pushes an event that does not change the lab (ui.action, ui.notice: hosts use this). */
  publish<N extends EventName>(name: N, payload: EventPayload<N>): void {
    const ev = { name, payload } as LabEvent;
    for (const cb of [...this.subscribers]) {
      try {
        cb(ev);
      } catch {
        // a broken subscriber (a closed socket) must not stop the others or fail the request
      }
    }
  }
}

