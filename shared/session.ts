/**
 * Saved lab sessions: the `.svalab` file (design.md "The bench", anchors.md §D.2 "Saving documents").
 *
 * A session is readable, versioned JSON:
 *
 *   { "format": "svalab-session", "version": 1,
 *     "app": { "name": "svalab", "version": "0.1.0" },      the build that wrote it
 *     "created": "2026-04-24T10:00:00.000Z",
 *     "policy": "mainline",
 *     "notes": "what the person wrote",
 *     "soc": { ...the SoC configuration... },
 *     "layout": { ...the UI's layout, opaque here... },
 *     "position": 12,                                        optional: steps applied when saved (time travel)
 *     "steps": [ { "step": { "bind": { "process": "p1", "device": "gpu" } },     a step as in scenario files
 *                  "result": { "ok": true, "pasid": 1 },                           what it gave when recorded
 *                  "findings": [ "refcount" ],                                     invariants it broke
 *                  "note": "optional, per step" }, ... ] }
 *
 * `steps` is the lab's whole timeline, including steps undone or jumped over that redo can still reach; `position`
 * says how many of them were applied when it was saved (absent: all). A replay checks every step.
 * Every load goes through the schema of the file's version, then the migrations up to the current version, then the
 * current schema and the cross-references (every device a step names exists). A file from a newer version is refused
 * with a message saying so. Loading parses data and never executes anything; sizes are bounded. Errors are
 * SessionErrors naming the problem and where it is (a JSON position, or a path such as `steps[123].step.bind.device`).
 *
 * Pure TypeScript and zod (no Node): the renderer may validate with it too.
 */
import { z } from 'zod';
import type { Finding, StepResult } from './results.js';
import { SocConfig, socConfigProblems } from './soc-config.js';
import { POLICY_NAMES, parseStep, zodProblems, type Op, type Problem } from './steps.js';

export const SESSION_FORMAT = 'svalab-session';
/** The version this build writes. */
export const SESSION_VERSION = 1;
export const SESSION_EXTENSION = '.svalab';

/** Limits: a file larger than this is refused before it is read. */
export const MAX_SESSION_BYTES = 64 * 1024 * 1024;
export const MAX_SESSION_STEPS = 1_000_000;
export const MAX_NOTES_CHARS = 1_000_000;
export const MAX_STEP_NOTE_CHARS = 10_000;
/** The UI layout: at most this much JSON, nested at most this deep. */
export const MAX_LAYOUT_BYTES = 1024 * 1024;
export const MAX_LAYOUT_DEPTH = 32;
/** Brackets nested deeper than this anywhere in the file: refused before parsing (no sane session nests past ~10). */
export const MAX_JSON_DEPTH = 256;

/* ------------------------------------------------------------------------------------------------------------ */
/* Errors                                                                                                         */

export const SESSION_ERROR_KINDS = [
  /** The file cannot be read (missing, a directory, no permission). */
  'io',
  /** Larger than MAX_SESSION_BYTES, or more than MAX_SESSION_STEPS steps. */
  'too-large',
  /** Not UTF-8 text. */
  'not-text',
  /** JSON that stops in the middle: a partial copy or an interrupted download. */
  'truncated',
  /** Not JSON (or JSON nested absurdly deep). */
  'not-json',
  /** JSON, but not an SVA Lab session (no "format": "svalab-session"). */
  'not-session',
  /** Written by a newer SVA Lab, whose format this build does not know. */
  'newer-version',
  /** A version number that never existed. */
  'bad-version',
  /** A field has the wrong type or value. */
  'schema',
  /** A step names something the session does not have (an unknown device). */
  'reference',
  /** The lab could not apply a step of the session when rebuilding it. */
  'replay',
] as const;
export type SessionErrorKind = (typeof SESSION_ERROR_KINDS)[number];

const KIND_TEXT: Record<SessionErrorKind, string> = {
  io: 'cannot read the file',
  'too-large': 'too large',
  'not-text': 'not UTF-8 text',
  truncated: 'the file is truncated',
  'not-json': 'not valid JSON',
  'not-session': 'not an SVA Lab session',
  'newer-version': 'written by a newer SVA Lab',
  'bad-version': 'unknown format version',
  schema: 'invalid session',
  reference: 'a step refers to something that does not exist',
  replay: 'the lab could not apply a step',
};

/** Problems listed in an error's message (all of them stay in `problems`). */
const SHOWN_PROBLEMS = 10;

export class SessionError extends Error {
  constructor(
    readonly kind: SessionErrorKind,
    /** Every problem found, each with where it is: a JSON path (`steps[3].step.bind.device`) or `line 4, column 2`. */
    readonly problems: Problem[],
    /** The file (or name) concerned. */
    readonly file = 'session',
  ) {
    const shown = problems.slice(0, SHOWN_PROBLEMS).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    if (problems.length > SHOWN_PROBLEMS) shown.push(`and ${problems.length - SHOWN_PROBLEMS} more problem(s)`);
    super(`${file}: ${KIND_TEXT[kind]}${shown.length ? `: ${shown.join('; ')}` : ''}`);
    this.name = 'SessionError';
  }

  /** Where the first problem is (a path or a position), or ''. */
  get where(): string {
    return this.problems[0]?.path ?? '';
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The schema (version 1)                                                                                         */

const InvariantName = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'an invariant name such as "refcount"');

/** What a step gave when it was recorded: the fields a replay compares. */
export const RecordedResult = z
  .object({
    ok: z.boolean(),
    errno: z.string().max(32).optional(),
    pasid: z.int().min(0).max(0xffffffff).optional(),
    reaches: z.string().max(200).nullable().optional(),
    crossed: z.boolean().optional(),
    event: z.string().max(100).nullable().optional(),
    events: z.array(z.string().max(100)).max(100_000).optional(),
    data: z
      .string()
      .max(4 << 20)
      .regex(/^(?:[0-9a-fA-F]{2})*$/, 'hex bytes')
      .optional(),
  })
  .strict();
export type RecordedResult = z.infer<typeof RecordedResult>;

/** A JSON value no deeper than MAX_LAYOUT_DEPTH and no larger than MAX_LAYOUT_BYTES (checked without recursion). */
function jsonBounds(v: unknown): string | null {
  const stack: [unknown, number][] = [[v, 1]];
  let size = 0;
  while (stack.length) {
    const [x, depth] = stack.pop()!;
    if (depth > MAX_LAYOUT_DEPTH) return `nested deeper than ${MAX_LAYOUT_DEPTH} levels`;
    if (typeof x === 'string') size += x.length + 2;
    else if (typeof x === 'number') {
      if (!Number.isFinite(x)) return 'not a JSON value (a non-finite number)';
      size += 24;
    } else if (typeof x === 'boolean' || x === null) size += 5;
    else if (Array.isArray(x)) {
      size += 2;
      for (const y of x) stack.push([y, depth + 1]);
    } else if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
      size += 2;
      for (const [k, y] of Object.entries(x)) {
        size += k.length + 4;
        stack.push([y, depth + 1]);
      }
    } else return 'not a JSON value';
    if (size > MAX_LAYOUT_BYTES) return `larger than ${MAX_LAYOUT_BYTES} bytes`;
  }
  return null;
}

/** The UI's layout: any JSON object, opaque to the main side, bounded in size and depth. */
export const Layout = z
  .record(z.string(), z.unknown())
  .superRefine((v, ctx) => {
    const why = jsonBounds(v);
    if (why) ctx.addIssue({ code: 'custom', message: `the layout is ${why}` });
  });

export const SessionStep = z
  .object({
    /** A step object as in scenario files: one operation and its arguments, e.g. { "bind": { ... } }. */
    step: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an operation name such as "bind"'), z.unknown()),
    result: RecordedResult,
    /** The invariants this step broke (new violations). Absent: not recorded (a session migrated from version 0). */
    findings: z.array(InvariantName).max(10_000).optional(),
    note: z.string().max(MAX_STEP_NOTE_CHARS).optional(),
  })
  .strict();
export type SessionStep = z.infer<typeof SessionStep>;

export const AppInfo = z.object({ name: z.string().min(1).max(100), version: z.string().min(1).max(100) }).strict();

export const SessionV1 = z
  .object({
    format: z.literal(SESSION_FORMAT),
    version: z.literal(1),
    app: AppInfo,
    /** When the session was first saved (ISO 8601). */
    created: z.string().max(64),
    policy: z.enum(POLICY_NAMES),
    notes: z.string().max(MAX_NOTES_CHARS),
    soc: SocConfig,
    layout: Layout,
    /** Steps applied when saved; the rest of `steps` is there to redo. Absent: all of them. */
    position: z.int().min(0).max(MAX_SESSION_STEPS).optional(),
    steps: z.array(SessionStep).max(MAX_SESSION_STEPS),
  })
  .strict();
export type Session = z.infer<typeof SessionV1>;

/* ------------------------------------------------------------------------------------------------------------ */
/* Older versions and the migrations                                                                              */

/**
 * Version 0, the first shape: the writer's version as a bare `createdWith` string, per-step results without the
 * enqcmd and dma fields, no per-step findings, and no UI layout.
 */
export const SessionV0 = z
  .object({
    format: z.literal(SESSION_FORMAT),
    version: z.literal(0),
    createdWith: z.string().min(1).max(100),
    created: z.string().max(64),
    policy: z.enum(POLICY_NAMES),
    notes: z.string().max(MAX_NOTES_CHARS).optional(),
    soc: z.unknown(),
    steps: z
      .array(
        z
          .object({
            step: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an operation name such as "bind"'), z.unknown()),
            result: z.object({ ok: z.boolean(), errno: z.string().max(32).optional(), pasid: z.int().min(0).max(0xffffffff).optional() }).strict(),
            note: z.string().max(MAX_STEP_NOTE_CHARS).optional(),
          })
          .strict(),
      )
      .max(MAX_SESSION_STEPS),
  })
  .strict();
export type SessionV0 = z.infer<typeof SessionV0>;

interface VersionEntry {
  schema: z.ZodType;
  /** Turns a valid document of this version into one of the next version; absent for the current one. */
  up?: (doc: never) => unknown;
}

/**
 * The migration table, keyed by the version a migration reads. Adding version N+1: add its schema, give version N an
 * `up`, bump SESSION_VERSION, and add a test that migrates a version-N file.
 */
export const VERSIONS: Record<number, VersionEntry> = {
  0: {
    schema: SessionV0,
    up: (d: SessionV0) => ({
      format: SESSION_FORMAT,
      version: 1,
      app: { name: 'svalab', version: d.createdWith },
      created: d.created,
      policy: d.policy,
      notes: d.notes ?? '',
      soc: d.soc,
      layout: {},
      // findings were not recorded in version 0: left absent, a replay does not compare them
      steps: d.steps.map((s) => (s.note === undefined ? { step: s.step, result: s.result } : { step: s.step, result: s.result, note: s.note })),
    }),
  },
  1: { schema: SessionV1 },
};

/* ------------------------------------------------------------------------------------------------------------ */
/* Parsing                                                                                                        */

export interface ParsedSession {
  session: Session;
  /** The steps as lab operations, in order. */
  ops: Op[];
  /** The version the file had, when it was migrated; null when it was current. */
  migratedFrom: number | null;
}

/** Parses a session file's text: JSON, envelope, version, schema, migrations, cross-references. Executes nothing. */
export function parseSessionText(text: string, file = 'session'): ParsedSession {
  if (text.length > MAX_SESSION_BYTES) throw new SessionError('too-large', [{ path: '', message: `${text.length} characters is more than the ${MAX_SESSION_BYTES}-byte limit` }], file);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const deep = firstTooDeep(text);
  if (deep >= 0) throw new SessionError('not-json', [{ path: position(text, deep), message: `brackets nested deeper than ${MAX_JSON_DEPTH} levels` }], file);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const at = locateJsonError(text);
    if (!at) throw new SessionError('not-json', [{ path: '', message: (e as Error).message }], file);
    throw new SessionError(at.eof ? 'truncated' : 'not-json', [{ path: position(text, at.offset), message: at.eof ? `the text ends early (${at.message})` : at.message }], file);
  }
  return validateSessionDoc(doc, file);
}

/** Validates (and migrates) a parsed document; the same checks as parseSessionText after JSON. */
export function validateSessionDoc(doc: unknown, file = 'session'): ParsedSession {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SessionError('not-session', [{ path: '', message: `the file holds ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : `a ${typeof doc}`}, not a session object` }], file);
  }
  const o = doc as Record<string, unknown>;
  if (o.format !== SESSION_FORMAT) {
    const scenario = 'steps' in o && 'soc' in o && 'name' in o;
    const message = scenario
      ? `this looks like a scenario file (it has name, soc and steps but no "format": "${SESSION_FORMAT}"); \`svalab convert\` turns a scenario into a session`
      : `expected "format": "${SESSION_FORMAT}", found ${o.format === undefined ? 'no format field' : JSON.stringify(o.format).slice(0, 60)}`;
    throw new SessionError('not-session', [{ path: 'format', message }], file);
  }
  const v = o.version;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new SessionError('bad-version', [{ path: 'version', message: `the format version must be a whole number >= 0, found ${JSON.stringify(v)?.slice(0, 40) ?? 'nothing'}` }], file);
  }
  if (v > SESSION_VERSION) {
    throw new SessionError(
      'newer-version',
      [{ path: 'version', message: `this session has format version ${v}, written by a newer SVA Lab${appOf(o)}; this build reads versions up to ${SESSION_VERSION}: update SVA Lab to open it` }],
      file,
    );
  }
  const entry = VERSIONS[v];
  if (!entry) throw new SessionError('bad-version', [{ path: 'version', message: `format version ${v} never existed (known: ${Object.keys(VERSIONS).join(', ')})` }], file);
  if (Array.isArray(o.steps) && o.steps.length > MAX_SESSION_STEPS) {
    throw new SessionError('too-large', [{ path: 'steps', message: `${o.steps.length} steps is more than the limit of ${MAX_SESSION_STEPS}` }], file);
  }
  let cur: unknown = doc;
  for (let ver = v; ; ver++) {
    const e = VERSIONS[ver]!;
    const r = e.schema.safeParse(cur);
    if (!r.success) {
      const problems = zodProblems(r.error, '');
      if (ver !== v) problems.forEach((p) => (p.message += ` (after migrating from version ${v})`));
      throw new SessionError('schema', problems, file);
    }
    if (!e.up) {
      const session = r.data as Session;
      return { session, ops: checkSession(session, file), migratedFrom: v === SESSION_VERSION ? null : v };
    }
    cur = (e.up as (d: unknown) => unknown)(r.data);
  }
}

function appOf(o: Record<string, unknown>): string {
  const app = o.app as { name?: unknown; version?: unknown } | undefined;
  return app && typeof app.version === 'string' ? ` (${typeof app.name === 'string' ? app.name.slice(0, 40) : 'svalab'} ${app.version.slice(0, 40)})` : '';
}

/**
 * The checks a schema cannot express: the SoC's cross-references, each step parsed as a lab operation, and every
 * device a step names present in the SoC. Returns the operations; throws a SessionError naming each problem.
 */
export function checkSession(s: Session, file = 'session'): Op[] {
  const soc = socConfigProblems(s.soc);
  if (soc.length) throw new SessionError('schema', soc, file);
  if (s.position !== undefined && s.position > s.steps.length) {
    throw new SessionError('schema', [{ path: 'position', message: `position ${s.position} is past the last of the ${s.steps.length} step(s)` }], file);
  }
  const devices = new Set(s.soc.devices.map((d) => d.name));
  const problems: Problem[] = [];
  const refs: Problem[] = [];
  const ops: Op[] = [];
  for (let i = 0; i < s.steps.length && problems.length < 1000; i++) {
    const raw = s.steps[i]!.step;
    const at = `steps[${i}].step`;
    const keys = Object.keys(raw);
    if (keys.length !== 1) {
      problems.push({ path: at, message: keys.length === 0 ? 'no operation in this step' : `one operation per step, found ${keys.slice(0, 5).join(', ')} (a note goes in steps[${i}].note; the expectation is the recorded result)` });
      continue;
    }
    const r = parseStep(raw, i);
    if ('problems' in r) {
      for (const p of r.problems) problems.push({ path: p.path.replace(`steps[${i}]`, at), message: p.message });
      continue;
    }
    const a = r.step.op.args as Record<string, unknown>;
    if (typeof a.device === 'string' && !devices.has(a.device)) {
      refs.push({ path: `${at}.${r.step.op.op}.device`, message: `unknown device '${a.device}' (the SoC has ${[...devices].join(', ') || 'no devices'})` });
    }
    ops.push(r.step.op);
  }
  if (problems.length) throw new SessionError('schema', problems, file);
  if (refs.length) throw new SessionError('reference', refs, file);
  return ops;
}

/** The raw step object of an operation, as scenario files and sessions write it: `{ bind: { process, device } }`. */
export function rawStep(op: Op): Record<string, unknown> {
  return { [op.op]: op.args };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Writing                                                                                                        */

/**
 * The file's text: the header pretty-printed, then one step per line (readable, and a diff of two sessions shows the
 * steps that differ). Validates first: an invalid session is never written.
 */
export function serializeSession(s: Session): string {
  const r = SessionV1.safeParse(s);
  if (!r.success) throw new SessionError('schema', zodProblems(r.error, ''), 'session');
  const v = r.data;
  const head = (k: string, val: unknown): string => `  ${JSON.stringify(k)}: ${JSON.stringify(val, null, 2).replace(/\n/g, '\n  ')}`;
  const parts = [
    head('format', v.format),
    head('version', v.version),
    head('app', v.app),
    head('created', v.created),
    head('policy', v.policy),
    head('notes', v.notes),
    head('soc', v.soc),
    head('layout', v.layout),
  ];
  if (v.position !== undefined) parts.push(head('position', v.position));
  const steps = v.steps.length ? `  "steps": [\n${v.steps.map((st) => `    ${JSON.stringify(st)}`).join(',\n')}\n  ]` : '  "steps": []';
  const text = `{\n${parts.join(',\n')},\n${steps}\n}\n`;
  if (text.length > MAX_SESSION_BYTES) throw new SessionError('too-large', [{ path: '', message: `the session would take ${text.length} bytes, more than the ${MAX_SESSION_BYTES}-byte limit` }], 'session');
  return text;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Recorded results and comparisons                                                                               */

/** The part of a step's result a session records and a replay compares (not `why` and `detail`: wording). */
export function summarizeResult(r: StepResult): RecordedResult {
  const out: RecordedResult = { ok: r.ok };
  if (r.errno !== undefined) out.errno = r.errno;
  if (r.pasid !== undefined) out.pasid = r.pasid;
  if (r.reaches !== undefined) out.reaches = r.reaches;
  if (r.crossed !== undefined) out.crossed = r.crossed;
  if (r.event !== undefined) out.event = r.event;
  if (r.events !== undefined) out.events = [...r.events];
  if (r.data !== undefined) out.data = r.data;
  return out;
}

/** Invariant names of a step's findings, in order. */
export const findingNames = (fs: readonly Finding[]): string[] => fs.map((f) => f.invariant);

const RESULT_KEYS = ['errno', 'pasid', 'reaches', 'crossed', 'event', 'events', 'data'] as const;

const show = (v: unknown): string => (v === undefined ? 'nothing' : typeof v === 'string' ? (v.length > 40 ? v.slice(0, 40) + '…' : v) : JSON.stringify(v));

/**
 * How a replayed step differs from its recording, one line per difference (empty: the same). `findings` undefined:
 * not recorded, not compared.
 */
export function compareRecorded(recorded: RecordedResult, findings: readonly string[] | undefined, result: StepResult, got: readonly Finding[]): string[] {
  if (result.rejected !== undefined) return [`the lab rejected the step (${result.rejected}); recorded ${describeRecorded(recorded)}`];
  const now = summarizeResult(result);
  const out: string[] = [];
  if (recorded.ok !== now.ok) out.push(`recorded ${describeRecorded(recorded)}, got ${describeRecorded(now)}`);
  else {
    for (const k of RESULT_KEYS) {
      const a = recorded[k];
      const b = now[k];
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${k}: recorded ${show(a)}, got ${show(b)}`);
    }
  }
  if (findings !== undefined) {
    const a = [...findings].sort();
    const b = findingNames(got).sort();
    if (a.join(',') !== b.join(',')) out.push(`findings: recorded [${a.join(', ')}], got [${b.join(', ')}]`);
  }
  return out;
}

export function describeRecorded(r: RecordedResult): string {
  if (!r.ok) return r.errno ?? 'failure';
  return r.pasid !== undefined ? `success, pasid ${r.pasid}` : 'success';
}

/* ------------------------------------------------------------------------------------------------------------ */
/* JSON diagnostics                                                                                               */

/** `line L, column C` of a character offset (1-based), for messages. */
export function position(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${end - lineStart + 1}`;
}

/** The offset of the first bracket nested deeper than MAX_JSON_DEPTH (outside strings), or -1. */
function firstTooDeep(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > MAX_JSON_DEPTH) return i;
    } else if (c === 93 || c === 125) depth--;
  }
  return -1;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Where a JSON text first goes wrong, and whether it is because the text ended (truncated): a small iterative
 * scanner, used only after JSON.parse has refused the text (its messages do not always carry a position).
 */
export function locateJsonError(s: string): { offset: number; message: string; eof: boolean } | null {
  const n = s.length;
  let i = 0;
  const stack: number[] = []; // 0: in an array, 1: in an object
  let state: 'value' | 'after' | 'key' | 'colon' = 'value';
  const fail = (message: string): { offset: number; message: string; eof: boolean } => ({ offset: i, message, eof: i >= n });
  const skipWs = (): void => {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  /** Scans a string starting at s[i] === '"'; null when fine, else the failure. */
  const str = (): ReturnType<typeof fail> | null => {
    i++;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        i++;
        return null;
      }
      if (c < 0x20) return fail('a control character inside a string');
      if (c === 92) {
        const e = s[i + 1];
        if (e === undefined) {
          i++;
          return fail('inside a string');
        }
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
            i += 2;
            return fail(i + 4 > n ? 'inside a \\u escape' : 'a bad \\u escape');
          }
          i += 6;
        } else if ('"\\/bfnrt'.includes(e)) i += 2;
        else {
          i++;
          return fail(`a bad escape \\${e}`);
        }
        continue;
      }
      i++;
    }
    return fail('inside a string');
  };
  for (;;) {
    skipWs();
    if (state === 'value') {
      if (i >= n) return fail(stack.length ? 'where a value should be' : 'the text is empty');
      const c = s[i]!;
      if (c === '{' || c === '[') {
        stack.push(c === '{' ? 1 : 0);
        i++;
        skipWs();
        if (s[i] === (c === '{' ? '}' : ']')) {
          i++;
          stack.pop();
          state = 'after';
        } else state = c === '{' ? 'key' : 'value';
        continue;
      }
      if (c === '"') {
        const f = str();
        if (f) return f;
        state = 'after';
        continue;
      }
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(s);
      if (m) {
        i += m[0].length;
        state = 'after';
        continue;
      }
      const lit = ['true', 'false', 'null'].find((w) => s.startsWith(w, i) || (i + w.length > n && w.startsWith(s.slice(i))));
      if (lit) {
        if (i + lit.length > n) {
          i = n;
          return fail(`inside '${lit}'`);
        }
        i += lit.length;
        state = 'after';
        continue;
      }
      return fail(`unexpected ${JSON.stringify(c)} where a value should be`);
    }
    if (state === 'key') {
      if (i >= n) return fail('where a property name should be');
      if (s[i] !== '"') return fail(`expected a property name in double quotes, found ${JSON.stringify(s[i])}`);
      const f = str();
      if (f) return f;
      state = 'colon';
      continue;
    }
    if (state === 'colon') {
      if (i >= n) return fail("where ':' should be");
      if (s[i] !== ':') return fail(`expected ':' after a property name, found ${JSON.stringify(s[i])}`);
      i++;
      state = 'value';
      continue;
    }
    // after a value
    if (!stack.length) return i < n ? fail(`unexpected ${JSON.stringify(s[i])} after the end of the document`) : null;
    const inObject = stack.at(-1) === 1;
    if (i >= n) return fail(inObject ? 'inside an object' : 'inside an array');
    const c = s[i];
    if (c === ',') {
      i++;
      state = inObject ? 'key' : 'value';
    } else if (c === (inObject ? '}' : ']')) {
      i++;
      stack.pop();
    } else return fail(`expected ',' or '${inObject ? '}' : ']'}', found ${JSON.stringify(c)}`);
  }
}

