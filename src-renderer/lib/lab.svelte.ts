/**
 * The bench's model of the lab: the state the host sent (a snapshot, then patches), kept as plain objects, plus
 * fine-grained versions so that a view re-renders only when a patch touched what it shows. A step therefore costs
 * O(change) on screen: the patch is applied in place (shared/contract.ts applyPatch), the versions of the touched
 * entities are bumped, and only the components that read those entities update.
 *
 * Readers call the getters (`device(name)`, `process(name)`, ...), which register the dependency and return the raw
 * object. Nothing here mutates from inside an effect.
 *
 * The store also holds the timeline around the position (the steps applied, `future` the steps to redo, kept from the
 * patches' counts) for time travel, and the session document (session.info: name, unsaved state, notes, layout, the
 * last open's report), kept up to date by session.state events and refetched whenever the lab is replaced.
 */
import type { z } from 'zod';
import {
  applyPatch,
  futureAfter,
  liveStateFrom,
  type ClientApi,
  type ContractError,
  type LabEvent,
  type LiveState,
  type MetaInfo,
  type Patch,
  type Response,
  type SessionInfo,
  type Snapshot,
  type StepSummary,
  type TraceRecord as TraceRecordSchema,
  type UI_ACTIONS,
} from '../../shared/contract.js';
import type { Finding } from '../../shared/results.js';
import type { SocConfig } from '../../shared/soc-config.js';
import type { PolicyName } from '../../shared/steps.js';
import type { Names } from './command.js';
import { formatBytes } from './decode.js';
import { PasidIndex } from './pasid-index.js';
import { SlotIndex } from './slot-index.js';

type Obj = Record<string, unknown>;
export type UiAction = (typeof UI_ACTIONS)[number];
const asObj = (v: unknown): Obj | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);

export type TraceRecord = z.infer<typeof TraceRecordSchema>;

/** What the last step or undo touched, for the highlight (Ripes-style "last change"). */
export interface LastChange {
  /** seq of the patch; views key their fade animation on it. */
  seq: number;
  devices: Set<string>;
  processes: Set<string>;
  pasids: Set<number>;
  /** `${device}:${ssid}` slots of cds / pasid_array written. */
  slots: Set<string>;
  /** Other entities written: `mms:label`, `bonds:label`, `domains:label`, `kernel_pasids:name`. */
  entities: Set<string>;
}

const NO_CHANGE: LastChange = { seq: 0, devices: new Set(), processes: new Set(), pasids: new Set(), slots: new Set(), entities: new Set() };

/** The outcome of the last request the person made, for the status line. */
export interface Outcome {
  kind: 'step' | 'undo' | 'redo' | 'jump' | 'configure' | 'reset' | 'load' | 'new' | 'open' | 'save' | 'export' | 'error';
  text: string;
  ok: boolean;
  error?: ContractError;
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  return n;
});

/** PASIDs per block of the IDA's population counts (idaFreeIn). */
const BLOCK_SHIFT = 10;
const BLOCK = 1 << BLOCK_SHIFT;

function blockCounts(ida: Uint8Array): Uint16Array {
  const out = new Uint16Array(Math.ceil((ida.length * 8) / BLOCK));
  for (let i = 0; i < ida.length; i++) out[i >>> (BLOCK_SHIFT - 3)]! += POPCOUNT[ida[i]!]!;
  return out;
}

/** A counter signal: reading it subscribes, incrementing it re-runs the readers. */
class Version {
  v = $state(0);
}

export class LabStore {
  readonly api: ClientApi;
  meta = $state.raw<MetaInfo | null>(null);
  /** Set once the first snapshot arrived. */
  loaded = $state(false);
  config = $state.raw<SocConfig | null>(null);
  policy = $state<PolicyName>('mainline');
  scenario = $state<string | null>(null);
  /** The applied steps. The list is the store's own (appended and truncated in place, not copied per step). */
  get steps(): StepSummary[] {
    void this.stepsVersion;
    return this.stepList;
  }
  private stepsVersion = $state(0);
  private stepList: StepSummary[] = [];
  /** Every finding so far (boot first), replaced only when it changes. */
  findingList = $state.raw<Finding[]>([]);
  bootFindings = $state.raw<Finding[]>([]);
  bootProblems = $state.raw<{ device: string; why: string }[]>([]);
  idaCount = $state(0);
  lastChange = $state.raw<LastChange>(NO_CHANGE);
  outcome = $state.raw<Outcome | null>(null);
  busy = $state(false);
  /** The step whose trace the timeline shows (null: none). */
  selectedStep = $state<number | null>(null);
  /** The timeline after the position: steps undone or jumped over, which redo and a forward jump apply again. */
  future = $state.raw<StepSummary[]>([]);
  /** The session document (null until the first session.info). */
  session = $state.raw<SessionInfo | null>(null);
  /** Notes typed but not yet sent with session.update (null: none pending). */
  notesDraft = $state<string | null>(null);
  /** ms from a Step press to the screen update of its patch (measured by the view; see App.svelte). */
  lastStepMs = $state<number | null>(null);

  /** The PASID space's owner index and bitmap (not reactive itself; `pasidVersion` says when it changed). */
  readonly pasids = new PasidIndex();
  pasidVersion = $state(0);

  private live: LiveState | null = null;
  /** One signal per key anyone has read (`devices:accel`, `processes`, ...); keys nobody reads cost nothing. */
  private readonly versions = new Map<string, Version>();
  private readonly slotIndexes = new Map<string, SlotIndex>();
  private processOrder: string[] | null = null;
  private processPos: Map<string, number> | null = null;
  /** Allocated PASIDs per 1024-PASID block of the IDA (built on first use, then kept from patches). */
  private idaBlocks: Uint16Array | null = null;
  private readonly traces = new Map<number, TraceRecord[]>();
  private pendingPatches = new Map<number, Patch>();
  private snapshotting: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private notesTimer: ReturnType<typeof setTimeout> | null = null;
  private jumpTarget: number | null = null;
  private jumping: Promise<void> | null = null;
  /** How long typed notes wait before they are sent (ms); a blur, a save or an export sends them at once. */
  notesDelayMs = 400;
  /** Handlers for ui.action events (Electron menu accelerators), set by the app. */
  onAction: ((a: UiAction) => void) | null = null;
  onNotice: ((level: 'info' | 'error', message: string) => void) | null = null;

  constructor(api: ClientApi) {
    this.api = api;
    for (const k of ['*', 'devices', 'groups', 'processes', 'mms', 'domains', 'bonds', 'kernel_pasids', 'smmus', 'policy', 'arch', 'enqcmd', 'asids']) this.version(k);
  }

  /** Subscribes to events and loads meta.info and the first snapshot. */
  async start(): Promise<void> {
    this.unsubscribe = this.api.onEvent((e) => this.onEvent(e));
    const meta = await this.api.metaInfo({});
    if (!meta.ok) throw new Error(meta.error.message);
    this.meta = meta.value;
    await this.refresh();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  get seq(): number {
    return this.live?.seq ?? -1;
  }

  /** How many steps of the timeline are applied: the state on screen is the one after them. */
  get position(): number {
    return this.steps.length;
  }

  /** The timeline's length: applied steps plus those to redo. */
  get total(): number {
    return this.steps.length + this.future.length;
  }

  /** Unsaved changes: the host's word, or notes typed and not yet sent. */
  get dirty(): boolean {
    return (this.session?.dirty ?? false) || (this.notesDraft !== null && this.notesDraft !== this.session?.notes);
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Reading (each getter registers the dependency it needs)                                                     */

  /**
   * Registers a dependency on `key`. Signals are created only outside reactions (at install and when a patch touches
   * a key): Svelte does not track a signal inside the reaction that created it. A key without a signal yet (an entity
   * that does not exist) is tracked through its collection's membership, which changes when it appears.
   */
  private track(key: string): void {
    this.versions.get('*')!.v;
    const x = this.versions.get(key);
    if (x) x.v;
    else {
      const coll = key.slice(0, key.indexOf(':'));
      this.version(coll === 'slots' ? 'devices' : coll || key).v;
    }
  }

  /** The signal of a key, created if missing (call only outside reactions). */
  private version(key: string): Version {
    let x = this.versions.get(key);
    if (!x) this.versions.set(key, (x = new Version()));
    return x;
  }

  private bump(key: string): void {
    this.version(key).v++;
  }

  /** Creates the signals of every key of a state, so that reading them later never creates one. */
  private ensureKeys(view: Obj): void {
    this.version('*');
    for (const [k, v] of Object.entries(view)) {
      this.version(k);
      const o = asObj(v);
      if (!o || k === 'asids') continue;
      for (const name of Object.keys(o)) {
        this.version(`${k}:${name}`);
        if (k === 'devices') this.version(`slots:${name}`);
      }
    }
  }

  private coll(name: string): Obj {
    return asObj(this.live?.view[name]) ?? {};
  }

  /** A top-level scalar of the view: policy, arch, enqcmd. */
  top(field: string): unknown {
    this.track(field);
    return this.live?.view[field];
  }

  names(collection: 'devices' | 'groups' | 'kernel_pasids' | 'mms' | 'domains' | 'bonds' | 'smmus'): string[] {
    this.track(collection);
    return Object.keys(this.coll(collection));
  }

  entity(collection: string, name: string): Obj | null {
    this.track(`${collection}:${name}`);
    return asObj(this.coll(collection)[name]);
  }

  device(name: string): Obj | null {
    return this.entity('devices', name);
  }

  /**
   * Process names in creation order, kept incrementally: a new process is appended in place (no copy per patch), so
   * the array is the same object from step to step; read `.length` or index it inside a reaction, which re-runs
   * when the membership changes.
   */
  processNames(): string[] {
    this.track('processes');
    if (!this.processOrder) this.processOrder = Object.keys(this.coll('processes'));
    return this.processOrder;
  }

  /** A process's position in processNames() (-1: none), from an index kept beside the list. */
  processIndex(name: string): number {
    const order = this.processNames();
    if (!this.processPos) {
      this.processPos = new Map();
      for (let i = 0; i < order.length; i++) this.processPos.set(order[i]!, i);
    }
    return this.processPos.get(name) ?? -1;
  }

  process(name: string): Obj | null {
    return this.entity('processes', name);
  }

  /**
   * The SSIDs/PASIDs of a device's rows: the union of its CD table's valid CDs and its group's pasid_array, ascending.
   * Built on first use, then kept up to date from patches.
   */
  slots(device: string): SlotIndex {
    this.track(`slots:${device}`);
    this.track(`devices:${device}`);
    let ix = this.slotIndexes.get(device);
    if (!ix) {
      ix = SlotIndex.from(asObj(this.coll('devices')[device]));
      this.slotIndexes.set(device, ix);
    }
    return ix;
  }

  /**
   * How many PASIDs in [lo, hi] the global IDA has free. Whole 1024-PASID blocks come from per-block populations
   * kept up to date from patches (O(change) per step); only the partial blocks at the ends read the bitmap, so a
   * device's usable range costs at most 1024 additions and 256 bytes, not a 128 KiB scan, on every step.
   */
  idaFreeIn(lo: number, hi: number): number {
    void this.idaCount; // re-run when the IDA changes
    const ida = this.live?.ida;
    if (!ida) return 0;
    lo = Math.max(0, lo);
    hi = Math.min(ida.length * 8 - 1, hi);
    if (hi < lo) return 0;
    const blocks = this.idaBlocks ?? (this.idaBlocks = blockCounts(ida));
    let used = 0;
    let i = lo;
    while (i <= hi) {
      if ((i & (BLOCK - 1)) === 0 && i + BLOCK - 1 <= hi) {
        used += blocks[i >>> BLOCK_SHIFT]!;
        i += BLOCK;
      } else if ((i & 7) === 0 && i + 7 <= hi) {
        used += POPCOUNT[ida[i >> 3]!]!;
        i += 8;
      } else {
        if (ida[i >> 3]! & (1 << (i & 7))) used++;
        i++;
      }
    }
    return hi - lo + 1 - used;
  }

  /** Every finding so far (boot first), with the step that caused it. */
  findings(): Finding[] {
    return this.findingList;
  }

  /**
   * Names the command bar completes from. It depends only on which names exist (membership), and the long lists
   * are scanned by prefix up to a limit, so neither a step nor a keystroke walks a million kernel PASIDs.
   */
  completionNames(): Names {
    this.track('processes');
    this.track('devices');
    this.track('kernel_pasids');
    const procs = this.coll('processes');
    const kps = this.coll('kernel_pasids');
    const devs = this.coll('devices');
    const byPrefix = (o: Obj, prefix: string, limit: number, keep: (v: unknown) => boolean = () => true): string[] => {
      const out: string[] = [];
      for (const k in o) {
        if (k.startsWith(prefix) && keep(o[k])) out.push(k);
        if (out.length >= limit) break;
      }
      return out;
    };
    return {
      processes: (prefix, limit) => byPrefix(procs, prefix, limit, (p) => asObj(p)?.alive !== false),
      hasProcess: (n) => n in procs,
      devices: () => Object.keys(devs),
      kernelPasids: (prefix, limit) => byPrefix(kps, prefix, limit),
      wqs: (d) => Object.keys(asObj(asObj(devs[d])?.wqs) ?? {}),
      threads: (p) => Object.keys(asObj(asObj(procs[p])?.threads) ?? {}),
    };
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Acting                                                                                                       */

  private async run<T>(kind: Outcome['kind'], p: Promise<Response<T>>, describe: (v: T) => string): Promise<Response<T>> {
    this.busy = true;
    try {
      const r = await p;
      this.outcome = r.ok ? { kind, text: describe(r.value), ok: true } : { kind, text: r.error.message, ok: false, error: r.error };
      return r;
    } finally {
      this.busy = false;
    }
  }

  /** Applies one step (a raw step object, `{ bind: { process, device } }`). */
  async step(raw: unknown): Promise<Response<{ seq: number; index: number; patch: Patch; result: StepSummary['result'] }>> {
    // Marks for the browser tests' timing: request sent, answer in, patch applied to the store.
    mark('svalab:step:sent');
    const r = await this.run('step', this.api.labStep({ step: raw }), (v) => describeStep(v.index, this.steps[v.index]?.text ?? '', v.result));
    mark('svalab:step:answered');
    if (r.ok) {
      this.receivePatch(r.value.seq, r.value.patch);
      mark('svalab:step:applied');
      this.selectedStep = r.value.index;
      const s = this.steps[r.value.index];
      if (s) this.outcome = { kind: 'step', text: describeStep(s.index, s.text, s.result), ok: s.result.ok };
    }
    return r;
  }

  async undo(): Promise<void> {
    const r = await this.run('undo', this.api.labUndo({}), (v) => (v.undone === null ? 'nothing to undo' : `undid step ${v.undone}`));
    if (r.ok && r.value.patch) this.receivePatch(r.value.seq, r.value.patch);
    if (this.selectedStep !== null && this.selectedStep >= this.steps.length) this.selectedStep = this.steps.length ? this.steps.length - 1 : null;
  }

  async reset(): Promise<void> {
    const r = await this.run('reset', this.api.labReset({}), () => 'reset: the SoC as booted, no steps');
    if (r.ok) await this.refresh(r.value.seq);
  }

  /** Rebuilds the lab (lab.configure). The error, if any, names the field (`soc.devices[0].sid`). */
  async configure(soc: unknown, policy: PolicyName): Promise<Response<{ seq: number }>> {
    const r = await this.run('configure', this.api.labConfigure({ soc, policy }), () => `configured: policy ${policy}`);
    if (r.ok) await this.refresh(r.value.seq);
    return r;
  }

  async loadScenario(name: string, text: string): Promise<void> {
    const r = await this.run('load', this.api.labLoadScenario({ name, text }), (v) =>
      v.stoppedAt === null ? `loaded ${name}: ${v.steps} steps` : `loaded ${name}: stopped at step ${v.stoppedAt}: ${v.stopReason ?? ''}`,
    );
    if (r.ok) {
      await this.refresh(r.value.seq);
      this.selectedStep = this.steps.length ? this.steps.length - 1 : null;
    }
  }

  /** Applies the next step of the timeline again (lab.redo): a patch, like a step. */
  async redo(): Promise<void> {
    const r = await this.run('redo', this.api.labRedo({}), (v) => (v.redone === null ? 'nothing to redo' : `redid step ${v.redone}`));
    if (r.ok && r.value.patch) {
      this.receivePatch(r.value.seq, r.value.patch);
      this.selectedStep = r.value.redone;
      const s = r.value.redone === null ? undefined : this.steps[r.value.redone];
      if (s) this.outcome = { kind: 'redo', text: `redo: ${describeStep(s.index, s.text, s.result)}`, ok: s.result.ok };
    }
  }

  /**
   * Time travel (lab.jumpTo): the state after the first `n` steps of the timeline. Calls made while one is under way
   * coalesce: only the last target is jumped to next (a slider dragged or a key held sends many).
   */
  jumpTo(n: number): Promise<void> {
    this.jumpTarget = Math.max(0, Math.min(n, this.total));
    if (this.jumping) return this.jumping;
    this.jumping = (async () => {
      try {
        while (this.jumpTarget !== null) {
          const target = this.jumpTarget;
          this.jumpTarget = null;
          if (target === this.position) continue;
          const r = await this.run('jump', this.api.labJumpTo({ step: target }), (v) => (v.length === v.total ? `at the latest step: ${v.total} of ${v.total}` : `viewing step ${v.length} of ${v.total}`));
          if (!r.ok) break;
          await this.refresh(r.value.seq);
          this.selectedStep = this.steps.length ? this.steps.length - 1 : null;
        }
      } finally {
        this.jumping = null;
      }
    })();
    return this.jumping;
  }

  /** New (session.new): a fresh lab on the default SoC and a fresh document. The caller asked about unsaved changes. */
  async newSession(): Promise<Response<{ seq: number }>> {
    this.cancelNotes();
    const r = await this.run('new', this.api.sessionNew({}), () => 'new lab: the default SoC under mainline');
    if (r.ok) await this.refresh(r.value.seq);
    return r;
  }

  /**
   * The session file's text (session.export), with the notes typed so far. `saved`: the caller saves it (a browser
   * download), so the session is no longer unsaved.
   */
  async exportSession(saved: boolean, layout?: Record<string, unknown>): Promise<Response<{ name: string; text: string; steps: number }>> {
    const input: { notes?: string; layout?: Record<string, unknown>; saved?: boolean } = { saved };
    const notes = this.takeNotes();
    if (notes !== null) input.notes = notes;
    if (layout) input.layout = layout;
    const r = await this.run('save', this.api.sessionExport(input), (v) => (saved ? `saved ${v.name}: ${v.steps} steps` : `exported ${v.name}`));
    if (r.ok) await this.refreshSession();
    return r;
  }

  /**
   * Opens a session file's text (session.import). A bad file is a `bad-session` error naming the problem and where;
   * the lab is untouched. A file too large for the transport is refused here, before it is sent.
   */
  async importSession(name: string, text: string): Promise<Response<{ steps: number; position: number; divergences: number }>> {
    const max = this.meta?.maxMessageBytes;
    if (max !== undefined) {
      const bytes = new Blob([JSON.stringify({ id: 0, name: 'session.import', input: { name, text } })]).size;
      if (bytes > max) {
        const error: ContractError = { code: 'bad-session', message: `${name}: too large to send to the lab: ${bytes} bytes with its framing, more than the ${max}-byte message limit (open it with the desktop app or \`svalab run\`)` };
        this.outcome = { kind: 'open', text: error.message, ok: false, error };
        return { ok: false, error };
      }
    }
    const r = await this.run('open', this.api.sessionImport({ name, text }), (v) => `opened ${name}: ${v.steps} steps, viewing step ${v.position} of ${v.steps}`);
    if (r.ok) {
      this.cancelNotes();
      await this.refresh(r.value.seq);
      this.selectedStep = this.steps.length ? this.steps.length - 1 : null;
    }
    return r;
  }

  /** The trace as JSON Lines, or the steps as a scenario (export.trace, export.scenario). */
  async exportText(what: 'trace' | 'scenario'): Promise<Response<{ name: string; text: string }>> {
    if (what === 'trace') return this.run('export', this.api.exportTrace({}), (v) => `exported the trace of ${v.steps} steps (${v.records} records) as ${v.name}`);
    await this.flushNotes(); // the notes' first line names the scenario
    return this.run('export', this.api.exportScenario({}), (v) => `exported ${v.steps} steps as ${v.name}`);
  }

  /** Notes typed in the editor: sent after a pause, or at once by flushNotes. */
  setNotes(text: string): void {
    this.notesDraft = text;
    if (this.notesTimer) clearTimeout(this.notesTimer);
    this.notesTimer = setTimeout(() => void this.flushNotes(), this.notesDelayMs);
  }

  /** Sends the notes typed so far (session.update), if they differ from the document's. */
  async flushNotes(): Promise<void> {
    const notes = this.takeNotes();
    if (notes === null) return;
    const r = await this.api.sessionUpdate({ notes });
    if (!r.ok) {
      this.outcome = { kind: 'error', text: r.error.message, ok: false, error: r.error };
      return;
    }
    if (this.session) this.session = { ...this.session, notes, dirty: r.value.dirty };
  }

  /** The UI layout, kept by the host for the next save (session.update; it does not mark the session unsaved). */
  async setLayout(layout: Record<string, unknown>): Promise<void> {
    const r = await this.api.sessionUpdate({ layout });
    if (r.ok && this.session) this.session = { ...this.session, layout };
  }

  /** The pending notes, cleared (null: none, or the same as the document's). */
  private takeNotes(): string | null {
    if (this.notesTimer) clearTimeout(this.notesTimer);
    this.notesTimer = null;
    const d = this.notesDraft;
    this.notesDraft = null;
    return d !== null && d !== this.session?.notes ? d : null;
  }

  private cancelNotes(): void {
    if (this.notesTimer) clearTimeout(this.notesTimer);
    this.notesTimer = null;
    this.notesDraft = null;
  }

  /** Refetches session.info (after a replacement, a save). */
  async refreshSession(): Promise<void> {
    const r = await this.api.sessionInfo({});
    if (r.ok) this.session = r.value;
  }

  /** A step's trace records (-1: boot), fetched once and cached until the step list changes under it. */
  async trace(step: number): Promise<TraceRecord[] | ContractError> {
    const hit = this.traces.get(step);
    if (hit) return hit;
    const r = await this.api.labTrace({ step });
    if (!r.ok) return r.error;
    this.traces.set(step, r.value.records);
    return r.value.records;
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Receiving                                                                                                    */

  private onEvent(e: LabEvent): void {
    switch (e.name) {
      case 'lab.patch':
        this.receivePatch(e.payload.seq, e.payload.patch);
        break;
      case 'lab.replaced':
        if (e.payload.seq > this.seq) void this.refresh(e.payload.seq);
        break;
      case 'ui.action':
        this.onAction?.(e.payload.action);
        break;
      case 'ui.notice':
        this.onNotice?.(e.payload.level, e.payload.message);
        break;
      case 'session.state':
        if (this.session) this.session = { ...this.session, dirty: e.payload.dirty, name: e.payload.name };
        else void this.refreshSession();
        break;
    }
  }

  /** Applies a patch once, in seq order; a gap (a lost event) refetches the snapshot. */
  receivePatch(seq: number, patch: Patch): void {
    if (seq <= this.seq) return;
    if (!this.live || this.snapshotting || seq > this.seq + 1) {
      this.pendingPatches.set(seq, patch);
      if (!this.snapshotting && this.live && seq > this.seq + 1) void this.refresh(seq);
      return;
    }
    this.applyOne(seq, patch);
    this.drainPending();
  }

  private drainPending(): void {
    for (;;) {
      const next = this.pendingPatches.get(this.seq + 1);
      if (!next) break;
      this.pendingPatches.delete(this.seq + 1);
      this.applyOne(this.seq + 1, next);
    }
    for (const s of [...this.pendingPatches.keys()]) if (s <= this.seq) this.pendingPatches.delete(s);
  }

  private applyOne(seq: number, patch: Patch): void {
    const live = this.live!;
    const prep = this.pasids.prepare(patch);
    // Which entities appear or disappear (membership of a collection) and which change.
    const keys = new Set<string>();
    const members = new Set<string>();
    const slots = new Set<string>();
    const entities = new Set<string>();
    for (const op of patch.ops) {
      const [coll, name, sub, slot] = op.path as [string, string?, string?, string?];
      if (name === undefined) {
        keys.add(coll);
        members.add(coll);
        if (coll === 'devices') for (const d of this.slotIndexes.keys()) keys.add(`slots:${d}`);
        if (coll === 'devices') this.slotIndexes.clear();
        if (coll === 'processes') {
          this.processOrder = null;
          this.processPos = null;
        }
        continue;
      }
      const c = asObj(live.view[coll]);
      const existed = c !== null && name in c;
      if (op.path.length === 2 && (op.op === 'del' ? existed : !existed)) {
        members.add(coll);
        if (coll === 'processes' && this.processOrder) {
          if (op.op === 'del') {
            const at = this.processPos?.get(name) ?? this.processOrder.indexOf(name);
            if (at >= 0) this.processOrder.splice(at, 1);
            this.processPos = null;
          } else {
            this.processPos?.set(name, this.processOrder.length);
            this.processOrder.push(name);
          }
        }
      }
      keys.add(`${coll}:${name}`);
      if (coll !== 'devices' && coll !== 'processes') entities.add(`${coll}:${name}`);
      if (coll === 'devices') {
        const ix = this.slotIndexes.get(name);
        if (sub === 'cds' || sub === 'pasid_array') {
          if (slot !== undefined) slots.add(`${name}:${slot}`);
          if (ix && slot !== undefined) ix.note(sub, Number(slot), op.op === 'set' && op.value !== null && op.value !== undefined);
          else this.slotIndexes.delete(name);
        } else if (op.path.length === 2) this.slotIndexes.delete(name);
        keys.add(`slots:${name}`);
      }
    }
    const before = live.steps.length;
    // The steps an undo removes go to the front of the steps to redo (futureAfter).
    const removed = live.steps.length > patch.steps.length ? live.steps.slice(patch.steps.length) : [];
    const blocks = this.idaBlocks;
    if (blocks) {
      // The blocks' populations, from the bits that actually flip (applyPatch clears, then sets).
      const ida = live.ida;
      const inRange = (id: number): boolean => id >= 0 && id >> 3 < ida.length;
      const bit = (id: number): boolean => (ida[id >> 3]! & (1 << (id & 7))) !== 0;
      const after = new Map<number, boolean>();
      for (const id of patch.ida.clear) if (inRange(id)) after.set(id, false);
      for (const id of patch.ida.set) if (inRange(id)) after.set(id, true);
      for (const [id, on] of after) if (on !== bit(id)) blocks[id >>> BLOCK_SHIFT]! += on ? 1 : -1;
    }
    applyPatch(live, patch, seq);
    const future = patch.steps.future === undefined ? (patch.steps.append.length ? [] : [...removed, ...this.future]) : futureAfter(this.future, removed, patch.steps.append.length, patch.steps.future);
    if (future === null) void this.refresh(seq + 1);
    else if (future.length !== this.future.length || future.some((f, i) => f !== this.future[i])) this.future = future;
    // Traces of steps that were removed (undo) are stale.
    for (const k of [...this.traces.keys()]) if (k >= patch.steps.length) this.traces.delete(k);
    const redrawn = this.pasids.update(live, patch, prep);
    for (const k of keys) this.bump(k);
    for (const m of members) this.bump(m);
    if (live.steps.length !== before || patch.steps.append.length) {
      this.stepList = live.steps;
      this.stepsVersion++;
      const dropped = live.steps.length < before || patch.steps.length < before;
      const added = patch.steps.append.flatMap((st) => st.findings as Finding[]);
      if (dropped && this.findingList.some((f) => f.step >= patch.steps.length)) this.findingList = [...this.findingList.filter((f) => f.step < patch.steps.length), ...added];
      else if (added.length) this.findingList = [...this.findingList, ...added];
    }
    this.idaCount = live.idaCount;
    if (redrawn.length || patch.ida.set.length || patch.ida.clear.length) this.pasidVersion++;
    this.lastChange = {
      seq,
      devices: new Set(patch.changed.devices),
      processes: new Set(patch.changed.processes),
      pasids: new Set(patch.changed.pasids),
      slots,
      entities,
    };
  }

  /** Fetches the whole state (at start, after a rebuild, after a gap). Concurrent calls share one fetch. */
  async refresh(atLeast = 0): Promise<void> {
    while (this.snapshotting) await this.snapshotting;
    if (this.live && this.seq >= atLeast && atLeast > 0) return;
    this.snapshotting = (async () => {
      const [r, info] = await Promise.all([this.api.labSnapshot({}), this.api.sessionInfo({})]);
      if (!r.ok) {
        this.outcome = { kind: 'error', text: r.error.message, ok: false, error: r.error };
        return;
      }
      if (info.ok) this.session = info.value;
      this.install(r.value);
    })();
    try {
      await this.snapshotting;
    } finally {
      this.snapshotting = null;
    }
    this.drainPending();
  }

  private install(s: Snapshot): void {
    this.live = liveStateFrom(s);
    this.idaBlocks = null;
    this.slotIndexes.clear();
    this.processOrder = null;
    this.processPos = null;
    this.traces.clear();
    this.pasids.rebuild(this.live);
    this.config = s.config;
    this.policy = s.policy;
    this.scenario = s.scenario;
    this.stepList = this.live.steps;
    this.stepsVersion++;
    this.future = s.future ?? [];
    this.bootFindings = s.bootFindings as Finding[];
    this.findingList = [...this.bootFindings, ...this.live.steps.flatMap((st) => st.findings as Finding[])];
    this.bootProblems = s.bootProblems;
    this.idaCount = this.live.idaCount;
    this.lastChange = NO_CHANGE;
    if (this.selectedStep !== null && this.selectedStep >= this.steps.length) this.selectedStep = null;
    this.pasidVersion++;
    this.ensureKeys(this.live.view);
    this.bump('*');
    this.loaded = true;
  }
}

function mark(name: string): void {
  if (typeof performance !== 'undefined' && typeof performance.mark === 'function') performance.mark(name);
}

export function describeStep(index: number, text: string, r: StepSummary['result']): string {
  const head = `#${index} ${text}`;
  const body = r.ok ? `${head} -> ok${r.pasid !== undefined ? `, PASID ${r.pasid}` : ''}${r.detail ? ` (${r.detail})` : ''}` : `${head} -> ${r.errno ?? 'failed'}${r.why ? `: ${r.why}` : ''}`;
  // What a DMA or a read reports: the events by name, the bytes as hex, an isolation failure.
  const extra: string[] = [];
  const events = [...(r.events ?? [])];
  if (r.event && !events.includes(r.event)) events.push(r.event);
  if (events.length) extra.push(`events ${events.join(', ')}`);
  if (r.data !== undefined) extra.push(`data ${formatBytes(r.data).shown}`);
  if (r.isolation) extra.push(`isolation: ${r.isolation}`);
  return extra.length ? `${body}; ${extra.join('; ')}` : body;
}
