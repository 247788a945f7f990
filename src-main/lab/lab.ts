/**
 * A lab: one SoC configuration, one policy, and the ordered list of steps applied so far (design.md "The bench").
 * The step list is the source of truth; undo and reset rebuild the SoC and replay it.
 */
import type { StepResult, Finding } from '../../shared/results.js';
import type { SocConfig } from '../../shared/soc-config.js';
import type { Op, PolicyName } from '../../shared/steps.js';
import type { TraceRecord } from '../sim/kernel/trace.js';
import type { Kernel } from '../sim/kernel/kernel.js';
import type { IommuDomain, IommuSva, MmStruct } from '../sim/kernel/structs.js';
import { buildSoc, type BootReport } from '../sim/soc.js';
import { applyOp } from './apply.js';
import { checkDirty, markAll } from './invariants.js';
import { stateView, type View } from './view.js';

export interface LabOptions {
  /** Check invariants after every step (default true). */
  check?: boolean;
  /** Record the trace (default true). */
  trace?: boolean;
  /** Report what each step touched (default true; hosts build their diffs from it). */
  touched?: boolean;
}

/**
 * What a step touched, by name: enough for a view to refresh exactly those parts (compact diffs for the UI)
 * without rebuilding the whole state. Always recorded, whether invariants are checked or not.
 */
export interface Touched {
  devices: string[];
  groups: string[];
  processes: string[];
  mms: MmStruct[];
  domains: IommuDomain[];
  bonds: IommuSva[];
  /** PASID numbers whose global IDA or mm ownership may have changed. */
  pasids: number[];
  /** pasid_array slots, as [group name, PASID]. */
  slots: [string, number][];
  /** CDs written, as [device name, SSID]. */
  cds: [string, number][];
}

export interface StepRecord {
  index: number;
  op: Op;
  result: StepResult;
  touched: Touched;
  /** Invariant violations this step caused. */
  findings: Finding[];
  trace: TraceRecord[];
}

export class Lab {
  kernel!: Kernel;
  boot!: BootReport;
  /** Findings at boot (step -1), e.g. a configuration that breaks an invariant before anything runs. */
  bootFindings: Finding[] = [];
  bootTrace: TraceRecord[] = [];
  records: StepRecord[] = [];
  /** Open violations by invariant|subject. */
  private open = new Map<string, Finding>();
  private readonly check: boolean;
  private readonly trace: boolean;
  private readonly wantTouched: boolean;

  constructor(
    readonly config: SocConfig,
    readonly policy: PolicyName,
    options: LabOptions = {},
  ) {
    this.check = options.check ?? true;
    this.trace = options.trace ?? true;
    this.wantTouched = options.touched ?? true;
    this.reset();
  }

  /** Rebuilds the SoC from the configuration, with no steps applied. */
  reset(): void {
    const { kernel, boot } = buildSoc(this.config, this.policy, this.trace);
    this.kernel = kernel;
    this.boot = boot;
    this.records = [];
    this.open.clear();
    this.bootTrace = kernel.tr.drain();
    if (this.check) {
      markAll(kernel);
      this.bootFindings = this.collect(-1);
    } else {
      kernel.dirty.clear();
      this.bootFindings = [];
    }
  }

  /** Applies one step. A rejected step changes nothing and is not recorded. */
  apply(op: Op): StepRecord {
    const index = this.records.length;
    const result = applyOp(this.kernel, op);
    const trace = this.kernel.tr.drain();
    if (result.rejected !== undefined) {
      this.kernel.dirty.clear();
      return { index, op, result, touched: EMPTY_TOUCHED, findings: [], trace: [] };
    }
    const touched = this.wantTouched ? touchedBy(this.kernel) : EMPTY_TOUCHED;
    const findings = this.check ? this.collect(index) : [];
    if (result.isolation) findings.push({ step: index, invariant: 'isolation', subject: `dma:${index}`, message: result.isolation });
    if (result.crossed) {
      findings.push({ step: index, invariant: 'isolation', subject: `enqcmd:${index}`, message: `ENQCMD from ${'process' in op.args ? op.args.process : '?'} carried PASID ${result.pasid}, which names ${result.reaches} on ${'device' in op.args ? op.args.device : '?'}` });
    }
    if (!this.check) this.kernel.dirty.clear();
    const rec: StepRecord = { index, op, result, touched, findings, trace };
    this.records.push(rec);
    return rec;
  }

  /** Removes the last step by rebuilding and replaying the others. */
  undo(): StepRecord | null {
    const last = this.records.at(-1);
    if (!last) return null;
    const ops = this.records.slice(0, -1).map((r) => r.op);
    this.reset();
    for (const op of ops) this.apply(op);
    return last;
  }

  /** Every finding so far, boot included, in step order. */
  findings(): Finding[] {
    return [...this.bootFindings, ...this.records.flatMap((r) => r.findings)];
  }

  /** Violations not yet resolved. */
  openFindings(): Finding[] {
    return [...this.open.values()];
  }

  view(): View {
    return stateView(this.kernel);
  }

  private collect(step: number): Finding[] {
    const { violations, checked } = checkDirty(this.kernel);
    const now = new Map(violations.map((v) => [`${v.invariant}|${v.subject}`, v]));
    const fresh: Finding[] = [];
    for (const [key, f] of this.open) {
      const subject = key.slice(key.indexOf('|') + 1);
      if (checked.has(subject) && !now.has(key)) this.open.delete(key);
      void f;
    }
    for (const [key, v] of now) {
      if (this.open.has(key)) continue;
      const f: Finding = { step, invariant: v.invariant, subject: v.subject, message: v.message };
      this.open.set(key, f);
      fresh.push(f);
    }
    return fresh;
  }
}

const EMPTY_TOUCHED: Touched = Object.freeze({ devices: [], groups: [], processes: [], mms: [], domains: [], bonds: [], pasids: [], slots: [], cds: [] }) as unknown as Touched;

function touchedBy(k: Kernel): Touched {
  const d = k.dirty;
  const devices = new Set<string>();
  for (const m of d.masters) devices.add(m.dev.name);
  for (const g of d.groups) for (const dev of g.devices) devices.add(dev.name);
  const slots: [string, number][] = [];
  for (const [g, ps] of d.slots) for (const p of ps) slots.push([g.name, p]);
  const cds: [string, number][] = [];
  for (const [m, ss] of d.cds) for (const s of ss) cds.push([m.dev.name, s]);
  return {
    devices: [...devices],
    groups: [...d.groups].map((g) => g.name),
    processes: [...d.processes].map((p) => p.name),
    mms: [...d.mms],
    domains: [...d.domains],
    bonds: [...d.handles],
    pasids: [...d.pasids],
    slots,
    cds,
  };
}
