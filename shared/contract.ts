/**
 * The contract between the lab (main side: Electron main or the web host) and the renderer: every request with its
 * input and output schema, every event the main side pushes, the wire frames of the WebSocket transport, and the
 * patch format that carries a step's changes. Both ends validate with these schemas; the main side treats the
 * renderer as untrusted input (design.md "Hosts and the renderer").
 *
 * Pure TypeScript and zod: no Node, DOM or Electron imports (the renderer imports this file).
 *
 * State on the wire
 * - `lab.snapshot` returns the whole state once: the lab's `stateView` without its `ida` list, and the global IDA as a
 *   base64 bitmap of 2^20 bits (128 KiB) in `ida`.
 * - Every change afterwards is a `Patch`, pushed as the `lab.patch` event (and also returned by `lab.step` and
 *   `lab.undo`). Patches are numbered by `seq`; each seq is applied once (ignore seq <= the last one applied; a gap
 *   means refetch `lab.snapshot`). `applyPatch` below applies one to a `LiveState`.
 * - Operations that rebuild the lab (configure, reset, loadScenario, stepTo) push `lab.replaced` {seq, reason}
 *   instead: the renderer refetches `lab.snapshot` (a multi-megabyte snapshot is not broadcast to every client).
 */
import { z } from 'zod';
import { INVARIANTS } from './results.js';
import { Layout, MAX_NOTES_CHARS, MAX_SESSION_BYTES } from './session.js';
import { SocConfig } from './soc-config.js';
import { ERRNO_NAMES, POLICY_NAMES } from './steps.js';

/* ------------------------------------------------------------------------------------------------------------ */
/* Errors and responses                                                                                           */

export const ERROR_CODES = [
  /** The message itself is malformed: not JSON, not a frame, unknown request name, too large. */
  'bad-message',
  /** The request's input does not match its schema. */
  'bad-input',
  /** The SoC configuration is invalid (schema or cross-references); `path` names the field. */
  'bad-soc',
  /** A step does not parse (parseStep); `path` names the field. */
  'bad-step',
  /** A scenario file's text does not parse or validate. */
  'bad-scenario',
  /** The lab could not apply the step in its current state; nothing changed. */
  'rejected',
  /** A step index that does not exist. */
  'no-such-step',
  /** A bug on the main side (an exception). Nothing is promised about the lab's state beyond "not half-applied". */
  'internal',
  /** A session file's text does not parse, validate or replay (shared/session.ts); the lab is untouched. */
  'bad-session',
] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const Problem = z.object({ path: z.string(), message: z.string() });
export type Problem = z.infer<typeof Problem>;

export const ContractError = z.object({
  code: ErrorCode,
  message: z.string(),
  /** The first offending field, dotted (`soc.devices[0].sid`, `steps[0].bind.device`). */
  path: z.string().optional(),
  /** Every problem found, when there are several. */
  problems: z.array(Problem).optional(),
});
export type ContractError = z.infer<typeof ContractError>;

export type Response<T> = { ok: true; value: T } | { ok: false; error: ContractError };
export const responseSchema = <T extends z.ZodType>(value: T) =>
  z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), value }), z.object({ ok: z.literal(false), error: ContractError })]);

/* ------------------------------------------------------------------------------------------------------------ */
/* Pieces of state                                                                                                */

export const PolicyName = z.enum(POLICY_NAMES);

/** shared/results.ts StepResult. */
/** The earlier step that made an isolation finding possible (results.ts FindingCause). */
export const FindingCause = z.object({ step: z.int().min(-1), op: z.string(), text: z.string(), what: z.string() });

export const StepResult = z.object({
  ok: z.boolean(),
  errno: z.string().optional(),
  why: z.string().optional(),
  pasid: z.number().optional(),
  reaches: z.string().nullable().optional(),
  crossed: z.boolean().optional(),
  detail: z.string().optional(),
  rejected: z.string().optional(),
  event: z.string().nullable().optional(),
  events: z.array(z.string()).optional(),
  data: z.string().optional(),
  isolation: z.string().optional(),
  cause: FindingCause.optional(),
  reached: z.array(z.object({ va: z.number(), pa: z.number(), owner: z.string() })).optional(),
});

const InvariantName = z.enum(Object.keys(INVARIANTS) as [keyof typeof INVARIANTS, ...(keyof typeof INVARIANTS)[]]);

/** shared/results.ts Finding. step -1: at boot. */
export const Finding = z.object({ step: z.int(), invariant: InvariantName, subject: z.string(), message: z.string(), cause: FindingCause.optional() });

/** An applied operation as the lab holds it: `{op: 'bind', args: {process, device}}`. */
export const OpValue = z.object({ op: z.string(), args: z.record(z.string(), z.unknown()) });

/** One applied step, as listed by the snapshot and appended by patches. */
export const StepSummary = z.object({
  index: z.int().min(0),
  op: OpValue,
  /** The step in words: `bind process=p1 device=accel`. */
  text: z.string(),
  note: z.string().nullable(),
  result: StepResult,
  findings: z.array(Finding),
});
export type StepSummary = z.infer<typeof StepSummary>;

/** A set of small integers (the global PASID IDA) as a bitmap: bit i of byte i>>3 is (i & 7), LSB first; base64. */
export const IdBitmapWire = z.object({ bits: z.int().min(1).max(24), count: z.int().min(0), base64: z.string() });
export type IdBitmapWire = z.infer<typeof IdBitmapWire>;

/** One change to the view: set the value at `path` (creating objects on the way) or delete the key at `path`. */
export const PatchOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('set'), path: z.array(z.string()).min(1), value: z.unknown() }),
  z.object({ op: z.literal('del'), path: z.array(z.string()).min(1) }),
]);
export type PatchOp = z.infer<typeof PatchOp>;

/** Changes to a set of integers (the global IDA, the ASID allocator). */
export const IdSetDelta = z.object({ set: z.array(z.int().min(0)), clear: z.array(z.int().min(0)) });
export type IdSetDelta = z.infer<typeof IdSetDelta>;

/**
 * What one step (or one undo) changed, built in O(what the step touched):
 * - `ops`: sets/deletes into the view (the lab's stateView without `ida`), e.g.
 *   `{op:'set', path:['devices','accel','cds','1'], value:{asid:1,...}}`, `{op:'del', path:['bonds','bond:3']}`.
 *   Whole entities are replaced (a device header's fields one by one, a process, an mm); the per-SSID maps of a
 *   device (`cds`, `pasid_array`) only at the touched slots.
 * - `ida`: PASIDs allocated / freed in the global IDA. `asids`: the same for the ASID allocator (view `asids`).
 * - `steps`: the step list: truncate to `length`, then append `append` (a step: same length, one appended; an undo:
 *   length - 1, none appended). `future`: how many steps of the timeline lie after the position once the patch is
 *   applied (to redo); a client keeps its list of them from it: an undo puts the removed step first, a redo takes
 *   the first, a new step drops them all.
 * - `changed`: what the step touched, for highlighting the last change (device names, process names, PASIDs).
 */
export const Patch = z.object({
  ops: z.array(PatchOp),
  ida: IdSetDelta,
  asids: IdSetDelta,
  steps: z.object({ length: z.int().min(0), append: z.array(StepSummary), future: z.int().min(0).optional() }),
  changed: z.object({ devices: z.array(z.string()), processes: z.array(z.string()), pasids: z.array(z.int()) }),
});
export type Patch = z.infer<typeof Patch>;

export const View = z.record(z.string(), z.unknown());
export type View = z.infer<typeof View>;

/** A step whose replayed result differs from the one recorded in the session file. */
export const Divergence = z.object({ index: z.int().min(0), text: z.string(), differences: z.array(z.string()) });
export type Divergence = z.infer<typeof Divergence>;

/** What the last session open (upload, File > Open, a restored recovery file) found. */
export const OpenReport = z.object({
  /** Counts opens: a renderer shows a report once, when the id is new to it. */
  id: z.int().min(1),
  name: z.string(),
  steps: z.int().min(0),
  position: z.int().min(0),
  migratedFrom: z.int().nullable(),
  /** Steps whose replayed result differs from the recording, and the first few of them. */
  divergences: z.int().min(0),
  firstDivergences: z.array(Divergence),
});
export type OpenReport = z.infer<typeof OpenReport>;

/** The session document as the host keeps it (LabService). */
export const SessionInfo = z.object({
  /** The file it was opened from or last saved to (a base name), null for a lab never saved. */
  name: z.string().nullable(),
  /** A file name to save it under. */
  suggestedName: z.string(),
  /** Changes since it was last saved or opened. */
  dirty: z.boolean(),
  notes: z.string(),
  layout: z.record(z.string(), z.unknown()),
  /** The last open's report (divergences), null when the lab was not opened from a file. */
  opened: OpenReport.nullable(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

export const Snapshot = z.object({
  /** The seq of the last patch or replacement this snapshot includes. */
  seq: z.int().min(0),
  config: SocConfig,
  policy: PolicyName,
  /** The scenario the lab was loaded from (lab.loadScenario), else null. */
  scenario: z.string().nullable(),
  steps: z.array(StepSummary),
  bootFindings: z.array(Finding),
  /** Driver probes that failed at boot. */
  bootProblems: z.array(z.object({ device: z.string(), why: z.string() })),
  /** The lab's stateView without its `ida` list (policy, arch, enqcmd, asids, devices, groups, processes, ...). */
  view: View,
  /** The global PASID IDA (view `ida`) as a bitmap. */
  ida: IdBitmapWire,
  /**
   * The timeline after the current step: steps undone or jumped over, in order, which lab.redo and lab.jumpTo can
   * reach (`steps.length + future.length` is the timeline's length). A new step drops them.
   */
  future: z.array(StepSummary).optional(),
});
export type Snapshot = z.infer<typeof Snapshot>;

/** A trace record (src-main/sim/kernel/trace.ts). */
export const TraceRecord = z.union([
  z.object({ t: z.literal('call'), d: z.int(), fn: z.string(), args: z.record(z.string(), z.unknown()) }),
  z.object({ t: z.literal('ret'), d: z.int(), fn: z.string(), ret: z.unknown() }),
  z.object({ t: z.literal('set'), d: z.int(), obj: z.string(), field: z.string(), to: z.unknown(), from: z.unknown().optional() }),
  z.object({ t: z.literal('note'), d: z.int(), msg: z.string() }),
]);

export const OpField = z.object({
  name: z.string(),
  optional: z.boolean(),
  /** What kind of value: a device name, a process name, a kernel PASID name, a wq name, a number, ... */
  kind: z.enum(['process', 'device', 'wq', 'thread', 'kernel-pasid', 'name', 'int', 'boolean', 'enum']),
  /** For enums: the allowed values. */
  values: z.array(z.string()).optional(),
});

export const MetaInfo = z.object({
  version: z.string(),
  policies: z.array(z.object({ name: PolicyName, summary: z.string() })),
  /** Every operation a step can name, with its argument fields (for the command bar's completion). */
  ops: z.array(z.object({ name: z.string(), summary: z.string(), fields: z.array(OpField) })),
  invariants: z.array(z.object({ name: z.string(), description: z.string() })),
  errnos: z.array(z.string()),
  /** The ready default SoC (shared/default-soc.ts), as input (defaults not filled in). */
  defaultSoc: z.unknown(),
  /** The seed's failure, steps away on the default SoC. */
  seedFailureSteps: z.array(z.unknown()),
  /** The largest message a transport accepts, in bytes. */
  maxMessageBytes: z.int(),
});
export type MetaInfo = z.infer<typeof MetaInfo>;

/* ------------------------------------------------------------------------------------------------------------ */
/* Requests                                                                                                       */

const Empty = z.object({}).strict();
const SeqOut = z.object({ seq: z.int().min(0) });

/** Step-applied summary: the record's index, result and findings, and the patch (same seq as the lab.patch event). */
export const StepOut = z.object({ seq: z.int().min(0), index: z.int().min(0), result: StepResult, findings: z.array(Finding), patch: Patch });

export const REQUESTS = {
  /** Static facts: policies, operations with their fields, invariants, the default SoC. */
  'meta.info': { input: Empty, output: MetaInfo },
  /** The whole state (see "State on the wire"). */
  'lab.snapshot': { input: Empty, output: Snapshot },
  /** Rebuilds the lab with this SoC and policy, no steps. A bad SoC: `bad-soc` naming the field; nothing changes. */
  'lab.configure': { input: z.object({ soc: z.unknown(), policy: PolicyName }).strict(), output: SeqOut },
  /**
   * Applies one step, a raw step object as in a scenario file: `{ bind: { process: 'p1', device: 'accel' } }`
   * (validated by parseStep; `bad-step`). A step the lab cannot apply here: `rejected`, nothing changes.
   */
  'lab.step': { input: z.object({ step: z.unknown() }).strict(), output: StepOut },
  /** Removes the last step (replay). `undone` is the removed step's index, null when there was none (no patch then). */
  'lab.undo': { input: Empty, output: z.object({ seq: z.int().min(0), undone: z.int().nullable(), patch: Patch.nullable() }) },
  /** Back to boot: the same SoC and policy, no steps. */
  'lab.reset': { input: Empty, output: SeqOut },
  /** Time travel backwards: keep the first `length` steps (replay). */
  'lab.stepTo': { input: z.object({ length: z.int().min(0) }).strict(), output: SeqOut },
  /**
   * Replaces the lab with a scenario file's SoC, its first policy (or `policy`) and its steps. `name` is the file name
   * (`.json` parses as JSON, anything else as YAML). Bad text: `bad-scenario` with the problems; the lab is untouched.
   * A step the lab rejects stops the load there (`stoppedAt`, `stopReason`).
   */
  'lab.loadScenario': {
    input: z.object({ name: z.string().min(1).max(255), text: z.string(), policy: PolicyName.optional() }).strict(),
    output: z.object({ seq: z.int().min(0), steps: z.int().min(0), stoppedAt: z.int().nullable(), stopReason: z.string().nullable() }),
  },
  /** A step's trace records, fetched on demand (never pushed). step -1: the boot trace. */
  'lab.trace': { input: z.object({ step: z.int().min(-1) }).strict(), output: z.object({ step: z.int(), records: z.array(TraceRecord) }) },
  /**
   * Time travel to the state after the first `step` steps of the timeline, backwards or forwards (checkpoints, not a
   * replay from boot). The steps after it stay in the timeline (snapshot `future`). Pushes `lab.replaced`.
   */
  'lab.jumpTo': { input: z.object({ step: z.int().min(0) }).strict(), output: z.object({ seq: z.int().min(0), length: z.int().min(0), total: z.int().min(0) }) },
  /** Applies the next step of the timeline again, as lab.step would (a patch); `redone` null when there is none. */
  'lab.redo': { input: Empty, output: z.object({ seq: z.int().min(0), redone: z.int().nullable(), patch: Patch.nullable() }) },
  /**
   * The lab as a session file (shared/session.ts): the whole timeline with recorded results, the current position,
   * the notes and layout last given by session.update (or these). `name` is a suggested file name. A browser host
   * offers `text` as a download.
   */
  'session.export': {
    input: z
      .object({
        notes: z.string().max(MAX_NOTES_CHARS).optional(),
        layout: Layout.optional(),
        /** The caller saves this text as the document (a browser's download): the session is then not dirty. */
        saved: z.boolean().optional(),
      })
      .strict(),
    output: z.object({ name: z.string(), text: z.string(), steps: z.int().min(0) }),
  },
  /**
   * Replaces the lab with a session file's text (an upload, or a file main read). Validated and migrated first, then
   * replayed; any problem is `bad-session` naming it and where (`steps[12].step.bind.device`, `line 3, column 7`), and
   * the lab is untouched. Steps whose results differ from the recording (a newer build) are counted, not refused.
   */
  'session.import': {
    input: z.object({ name: z.string().min(1).max(255), text: z.string().max(MAX_SESSION_BYTES) }).strict(),
    output: z.object({
      seq: z.int().min(0),
      steps: z.int().min(0),
      position: z.int().min(0),
      migratedFrom: z.int().nullable(),
      notes: z.string(),
      layout: z.record(z.string(), z.unknown()),
      /** Steps whose replayed result differs from the recorded one, and the first few of them. */
      divergences: z.int().min(0),
      firstDivergences: z.array(Divergence),
    }),
  },
  /**
   * The session document: its name, unsaved state, notes, layout and the last open's report (divergences). A renderer
   * asks at start and whenever the lab is replaced; `session.state` tells it of later changes of the unsaved state.
   */
  'session.info': { input: Empty, output: SessionInfo },
  /**
   * The session's notes and UI layout, kept by the main side for the next save or export. New notes mark the session
   * unsaved; a layout alone does not (it is how the bench looks, saved with the next save).
   */
  'session.update': {
    input: z.object({ notes: z.string().max(MAX_NOTES_CHARS).optional(), layout: Layout.optional() }).strict(),
    output: z.object({ dirty: z.boolean() }),
  },
  /**
   * New: a fresh lab (the default SoC under mainline, or `soc` and `policy`) and a fresh document (no name, notes or
   * layout; not dirty). Does not ask: the renderer (or the host's own dialog) asks about unsaved changes first.
   * Pushes `lab.replaced` reason `new`.
   */
  'session.new': { input: z.object({ soc: z.unknown().optional(), policy: PolicyName.optional() }).strict(), output: SeqOut },
  /**
   * The trace of the lab as it stands (the boot, then the applied steps from `from` to `to` - 1) as JSON Lines
   * (src-main/lab/export.ts): a `boot` line, a `step` line per step, each followed by its trace records. `bad-input`
   * when it would be larger than 64 MiB (ask for a range).
   */
  'export.trace': {
    input: z.object({ from: z.int().min(-1).optional(), to: z.int().min(0).optional() }).strict(),
    output: z.object({ name: z.string(), text: z.string(), records: z.int().min(0), steps: z.int().min(0) }),
  },
  /**
   * The session's steps (the whole timeline, as `svalab convert` writes it) as a scenario file: YAML, or JSON with
   * `json`; the recorded results become the expectations.
   */
  'export.scenario': {
    input: z.object({ json: z.boolean().optional() }).strict(),
    output: z.object({ name: z.string(), text: z.string(), steps: z.int().min(0) }),
  },
  /**
   * The document actions a host performs with its own dialogs (Electron: New, Open, Save, Save As through the native
   * dialogs, asking about unsaved changes first). `handled` false: the host has none (the web host), and the
   * renderer does it itself (its own question, an upload, a download).
   */
  'host.document': {
    input: z.object({ action: z.enum(['new', 'open', 'save', 'saveAs']) }).strict(),
    output: z.object({ handled: z.boolean() }),
  },
} as const;

export type RequestName = keyof typeof REQUESTS;
export const REQUEST_NAMES = Object.keys(REQUESTS) as RequestName[];
export type RequestInput<N extends RequestName> = z.input<(typeof REQUESTS)[N]['input']>;
export type RequestOutput<N extends RequestName> = z.infer<(typeof REQUESTS)[N]['output']>;

/* ------------------------------------------------------------------------------------------------------------ */
/* Events (main -> renderer)                                                                                      */

export const UI_ACTIONS = ['step', 'undo', 'redo', 'reset', 'run', 'export-trace', 'export-scenario', 'export-png'] as const;

export const EVENTS = {
  /** A step or an undo changed the state. */
  'lab.patch': z.object({ seq: z.int().min(1), patch: Patch }),
  /** The lab was rebuilt (configure, reset, loadScenario, stepTo): refetch lab.snapshot. */
  'lab.replaced': z.object({ seq: z.int().min(1), reason: z.enum(['configure', 'reset', 'loadScenario', 'stepTo', 'jumpTo', 'session', 'new']) }),
  /**
   * Electron only: a menu item or accelerator the renderer performs as if its own button were pressed
   * (Step F10 takes the command bar's step; Undo Shift+F10; Redo; Reset; Export the trace, the steps or the view as
   * a download; Run F5 is done by main, which then sends `lab.replaced` or a `ui.notice`).
   */
  'ui.action': z.object({ action: z.enum(UI_ACTIONS) }),
  /** Something to tell the person (a scenario file that failed to load from the menu). */
  'ui.notice': z.object({ level: z.enum(['info', 'error']), message: z.string() }),
  /**
   * The session document's unsaved state changed (a first change after a save or open, a save), or it was saved
   * under a new name. Not sent when the lab is replaced (session.import, session.new): session.info then says it.
   */
  'session.state': z.object({ dirty: z.boolean(), name: z.string().nullable() }),
} as const;

export type EventName = keyof typeof EVENTS;
export const EVENT_NAMES = Object.keys(EVENTS) as EventName[];
export type EventPayload<N extends EventName> = z.infer<(typeof EVENTS)[N]>;
export type LabEvent = { [N in EventName]: { name: N; payload: EventPayload<N> } }[EventName];

/* ------------------------------------------------------------------------------------------------------------ */
/* The API the renderer sees (Electron preload: window.svalab; web: the WebSocket client builds the same object)   */

/** One function per request, named after it: `meta.info` -> `metaInfo`, `lab.loadScenario` -> `labLoadScenario`. */
export const API_FUNCTIONS = {
  'meta.info': 'metaInfo',
  'lab.snapshot': 'labSnapshot',
  'lab.configure': 'labConfigure',
  'lab.step': 'labStep',
  'lab.undo': 'labUndo',
  'lab.reset': 'labReset',
  'lab.stepTo': 'labStepTo',
  'lab.loadScenario': 'labLoadScenario',
  'lab.trace': 'labTrace',
  'lab.jumpTo': 'labJumpTo',
  'lab.redo': 'labRedo',
  'session.export': 'sessionExport',
  'session.import': 'sessionImport',
  'session.update': 'sessionUpdate',
  'session.info': 'sessionInfo',
  'session.new': 'sessionNew',
  'export.trace': 'exportTrace',
  'export.scenario': 'exportScenario',
  'host.document': 'hostDocument',
} as const satisfies Record<RequestName, string>;

type FnName<N extends RequestName> = (typeof API_FUNCTIONS)[N];
export type ClientApi = {
  [N in RequestName as FnName<N>]: (input: RequestInput<N>) => Promise<Response<RequestOutput<N>>>;
} & {
  /** Subscribes to every event; returns the unsubscribe function. */
  onEvent(cb: (e: LabEvent) => void): () => void;
};

/** Builds a ClientApi over any transport's generic invoke and subscribe. */
export function makeClientApi(
  invoke: (name: RequestName, input: unknown) => Promise<Response<unknown>>,
  subscribe: (cb: (e: LabEvent) => void) => () => void,
): ClientApi {
  const api: Record<string, unknown> = { onEvent: subscribe };
  for (const name of REQUEST_NAMES) api[API_FUNCTIONS[name]] = (input: unknown) => invoke(name, input ?? {});
  return api as ClientApi;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* WebSocket frames (web host). Text frames of JSON; the URL carries the token: ws://host:port/ws?token=...       */

export const WsRequestFrame = z.object({ id: z.int().min(0).max(Number.MAX_SAFE_INTEGER), name: z.string(), input: z.unknown().optional() }).strict();
export type WsRequestFrame = z.infer<typeof WsRequestFrame>;
/** The answer to request `id`; id null when the frame could not be read far enough to know its id. */
export type WsResponseFrame = { id: number | null; response: Response<unknown> };
export type WsEventFrame = { event: EventName; payload: unknown };
export type WsServerFrame = WsResponseFrame | WsEventFrame;

/** The largest message (WebSocket frame or IPC payload, serialised) a host accepts: a 16 MiB scenario plus framing. */
export const MAX_MESSAGE_BYTES = 17 * 1024 * 1024;

/* ------------------------------------------------------------------------------------------------------------ */
/* Bitmaps and patches (used by both ends)                                                                        */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

export function base64Encode(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = i + 1 < bytes.length ? bytes[i + 1]! : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2]! : 0;
    const n = (a << 16) | (b << 8) | c;
    chunk += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (i + 1 < bytes.length ? B64[(n >> 6) & 63]! : '=') + (i + 2 < bytes.length ? B64[n & 63]! : '=');
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  parts.push(chunk);
  return parts.join('');
}

export function base64Decode(s: string): Uint8Array {
  if (s.length % 4 !== 0) throw new Error('base64: length is not a multiple of 4');
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const q = [0, 1, 2, 3].map((j) => {
      const ch = s.charCodeAt(i + j);
      if (ch === 61 /* = */ && i + 4 === s.length && j >= 4 - pad) return 0;
      const v = ch < 128 ? B64_INDEX[ch]! : -1;
      if (v < 0) throw new Error(`base64: bad character at ${i + j}`);
      return v;
    });
    const n = (q[0]! << 18) | (q[1]! << 12) | (q[2]! << 6) | q[3]!;
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** Encodes a set of ids below 2^bits as a wire bitmap. */
export function encodeIdBitmap(ids: Iterable<number>, bits: number): IdBitmapWire {
  const bytes = new Uint8Array(Math.ceil(2 ** bits / 8));
  let count = 0;
  for (const id of ids) {
    const m = 1 << (id & 7);
    if (!(bytes[id >> 3]! & m)) count++;
    bytes[id >> 3]! |= m;
  }
  return { bits, count, base64: base64Encode(bytes) };
}

/** The bitmap's bytes (bit i of byte i>>3 = id (i>>3)*8 + (i&7)). Throws on a size mismatch. */
export function decodeIdBitmap(w: IdBitmapWire): Uint8Array {
  const bytes = base64Decode(w.base64);
  if (bytes.length !== Math.ceil(2 ** w.bits / 8)) throw new Error(`bitmap of ${bytes.length} bytes for ${w.bits} bits`);
  return bytes;
}

export function bitmapHas(bytes: Uint8Array, id: number): boolean {
  return ((bytes[id >> 3] ?? 0) & (1 << (id & 7))) !== 0;
}

/** The ids set in a bitmap, ascending. */
export function bitmapIds(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b) for (let j = 0; j < 8; j++) if (b & (1 << j)) out.push(i * 8 + j);
  }
  return out;
}

/** What a client holds: the view (without `ida`), the IDA bitmap and its population, the step list, the seq. */
export interface LiveState {
  seq: number;
  view: View;
  ida: Uint8Array;
  idaCount: number;
  steps: StepSummary[];
}

export function liveStateFrom(s: Snapshot): LiveState {
  return { seq: s.seq, view: structuredClone(s.view), ida: decodeIdBitmap(s.ida), idaCount: s.ida.count, steps: [...s.steps] };
}

/** Applies one patch in place; costs O(patch). `seq` is the patch's number (the caller checks ordering). */
export function applyPatch(state: LiveState, patch: Patch, seq: number): void {
  for (const op of patch.ops) {
    let cur = state.view as Record<string, unknown>;
    const last = op.path.length - 1;
    for (let i = 0; i < last; i++) {
      const k = op.path[i]!;
      let next = cur[k];
      if (next === null || typeof next !== 'object') {
        if (op.op === 'del') break;
        next = {};
        cur[k] = next;
      }
      cur = next as Record<string, unknown>;
    }
    const key = op.path[last]!;
    if (op.op === 'set') cur[key] = op.value;
    else delete cur[key];
  }
  for (const id of patch.ida.clear) {
    const m = 1 << (id & 7);
    if (state.ida[id >> 3]! & m) state.idaCount--;
    state.ida[id >> 3]! &= ~m;
  }
  for (const id of patch.ida.set) {
    const m = 1 << (id & 7);
    if (!(state.ida[id >> 3]! & m)) state.idaCount++;
    state.ida[id >> 3]! |= m;
  }
  if (patch.asids.set.length || patch.asids.clear.length) {
    // view.asids is an ascending list (at most 2^16): binary search and splice, no re-sort
    const asids = Array.isArray(state.view.asids) ? (state.view.asids as number[]) : (state.view.asids = []);
    for (const a of patch.asids.clear) {
      const i = lowerBound(asids, a);
      if (asids[i] === a) asids.splice(i, 1);
    }
    for (const a of patch.asids.set) {
      const i = lowerBound(asids, a);
      if (asids[i] !== a) asids.splice(i, 0, a);
    }
  }
  state.steps.length = Math.min(state.steps.length, patch.steps.length);
  state.steps.push(...patch.steps.append);
  state.seq = seq;
}

/**
 * The steps to redo after a patch: `before` the client's list of them, `removed` the applied steps the patch truncated
 * (an undo's last step), `appended` how many it appended, `future` the patch's count. Null when they do not agree
 * (refetch the snapshot).
 */
export function futureAfter(before: readonly StepSummary[], removed: readonly StepSummary[], appended: number, future: number): StepSummary[] | null {
  // An undo puts what it removed first; a redo takes from the front what it appended; a new step drops the rest.
  const all = removed.length ? [...removed, ...before] : before;
  const left = all.slice(appended);
  if (left.length < future) return null;
  return left.length === future ? left : left.slice(0, future);
}

/** Index of the first element >= x in an ascending array (binary search). */
export function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
