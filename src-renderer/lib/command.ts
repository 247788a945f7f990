/**
 * The command bar's language: one step per line, the operation then its arguments, either by position in the
 * order meta.info lists the fields (`bind app accel`) or by name (`bind process=app device=accel`), mixed freely.
 * A line in the scenario files' flow form (`bind: { process: app, device: accel }`) is accepted too.
 *
 * Parsing turns the line into the raw step object lab.step takes; the host validates it (bad-step names the field).
 * Completion proposes the operations, then for each field the current names of that kind.
 */
import type { MetaInfo } from '../../shared/contract.js';
import { OPS } from '../../shared/steps.js';

export type OpSpec = MetaInfo['ops'][number];
export type FieldSpec = OpSpec['fields'][number];

/**
 * The names completion draws from. Lists that can be huge (10,000 processes, a million kernel PASIDs) are asked for
 * by prefix with a limit, so a keystroke never walks them all into an array.
 */
export interface Names {
  processes(prefix: string, limit: number): string[];
  hasProcess(name: string): boolean;
  devices(): string[];
  kernelPasids(prefix: string, limit: number): string[];
  wqs(device: string): string[];
  threads(process: string): string[];
}

const LIMIT = 200;

export type Parsed = { ok: true; step: Record<string, Record<string, unknown>>; op: string } | { ok: false; message: string; field?: string };

const TOKEN_RE = /\S+/g;

function tokens(line: string): string[] {
  return line.match(TOKEN_RE) ?? [];
}

function asNumber(raw: string): number | null {
  if (/^0x[0-9a-f]+$/i.test(raw)) return parseInt(raw, 16);
  if (/^\d+$/.test(raw)) return Number(raw);
  return null;
}

/**
 * A token as the value the field takes. meta.info's kind says so for most fields; for the others (`name`) the
 * field's own schema in shared/steps.ts decides: a number-looking token is sent as a number only where a number is
 * accepted (an address, a length), and stays a string where a string is (hex data such as `12`).
 */
function convert(op: string, f: FieldSpec, raw: string): unknown {
  const n = asNumber(raw);
  if (f.kind === 'int') return n ?? raw;
  if (f.kind === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (f.kind !== 'name') return raw;
  const schema = (OPS as unknown as Record<string, { shape?: Record<string, { safeParse(v: unknown): { success: boolean } }> }>)[op]?.shape?.[f.name];
  const tries: unknown[] = [];
  if (n !== null) tries.push(n);
  if (raw === 'true' || raw === 'false') tries.push(raw === 'true');
  for (const v of tries) if (!schema || schema.safeParse(v).success) return v;
  return raw;
}

/** Flow form `op: { a: x, b: y }` -> `op a=x b=y`. */
function fromFlow(line: string): string {
  const m = /^\s*([A-Za-z_]\w*)\s*:\s*\{(.*)\}\s*$/.exec(line);
  if (!m) return line;
  const args = m[2]!
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => p.replace(/\s*:\s*/, '='));
  return [m[1], ...args].join(' ');
}

export function parseCommand(line: string, ops: OpSpec[]): Parsed {
  const t = tokens(fromFlow(line));
  if (t.length === 0) return { ok: false, message: 'type a step, e.g. bind app accel' };
  const [name, ...rest] = t as [string, ...string[]];
  const spec = ops.find((o) => o.name === name);
  if (!spec) return { ok: false, message: `unknown operation '${name}' (known: ${ops.map((o) => o.name).join(', ')})` };
  const args: Record<string, unknown> = {};
  let pos = 0;
  for (const tok of rest) {
    const eq = tok.indexOf('=');
    if (eq > 0) {
      const key = tok.slice(0, eq);
      const f = spec.fields.find((x) => x.name === key);
      if (!f) return { ok: false, message: `${name} has no field '${key}' (fields: ${spec.fields.map((x) => x.name).join(', ')})`, field: key };
      args[key] = convert(name, f, tok.slice(eq + 1));
      continue;
    }
    while (pos < spec.fields.length && spec.fields[pos]!.name in args) pos++;
    const f = spec.fields[pos];
    if (!f) return { ok: false, message: `too many arguments for ${name} (fields: ${spec.fields.map((x) => x.name).join(', ')})` };
    args[f.name] = convert(name, f, tok);
    pos++;
  }
  const missing = spec.fields.find((f) => !f.optional && !(f.name in args));
  if (missing) return { ok: false, message: `${name} needs ${missing.name} (${usage(spec)})`, field: missing.name };
  return { ok: true, op: name, step: { [name]: args } };
}

export function usage(spec: OpSpec): string {
  return [spec.name, ...spec.fields.map((f) => (f.optional ? `[${f.name}]` : `<${f.name}>`))].join(' ');
}

/** Which field the word being typed fills, given the words before it. */
function fieldAt(spec: OpSpec, before: string[]): { field: FieldSpec | null; args: Record<string, string> } {
  const args: Record<string, string> = {};
  let pos = 0;
  for (const tok of before) {
    const eq = tok.indexOf('=');
    if (eq > 0) {
      args[tok.slice(0, eq)] = tok.slice(eq + 1);
      continue;
    }
    while (pos < spec.fields.length && spec.fields[pos]!.name in args) pos++;
    const f = spec.fields[pos];
    if (f) args[f.name] = tok;
    pos++;
  }
  while (pos < spec.fields.length && spec.fields[pos]!.name in args) pos++;
  return { field: spec.fields[pos] ?? null, args };
}

function candidates(spec: OpSpec, f: FieldSpec, args: Record<string, string>, names: Names, prefix: string): string[] {
  const starts = (xs: string[]): string[] => xs.filter((x) => x.startsWith(prefix));
  switch (f.kind) {
    case 'process': {
      // fork's child must be a new name: propose one that is free.
      if (f.name === 'child') {
        const base = `${args.process ?? 'p'}-child`;
        let n = base;
        for (let i = 2; names.hasProcess(n); i++) n = `${base}${i}`;
        return starts([n]);
      }
      return names.processes(prefix, LIMIT);
    }
    case 'device': {
      // Steps on work queues (open_wq, enqcmd) make sense only on devices that have them.
      const needsWq = spec.fields.some((x) => x.kind === 'wq');
      return starts(needsWq ? names.devices().filter((d) => names.wqs(d).length > 0) : names.devices());
    }
    case 'wq':
      return starts(args.device ? names.wqs(args.device) : [...new Set(names.devices().flatMap((d) => names.wqs(d)))]);
    case 'thread':
      return starts(args.process ? [...new Set(['main', ...names.threads(args.process)])] : ['main']);
    case 'kernel-pasid':
      return names.kernelPasids(prefix, LIMIT);
    case 'boolean':
      return starts(['true', 'false']);
    case 'enum':
      return starts(f.values ?? []);
    default:
      return [];
  }
}

export interface Completion {
  /** The whole line with the completion applied (and a trailing space to go on). */
  line: string;
  /** What is shown in the list. */
  label: string;
  /** What it fills, e.g. `device` or `operation`. */
  hint: string;
}

/** Completions for the word at the end of `line`. */
export function complete(line: string, ops: OpSpec[], names: Names): Completion[] {
  const flow = line;
  const endsInSpace = /\s$/.test(flow) || flow.length === 0;
  const t = tokens(flow);
  const partial = endsInSpace ? '' : (t.pop() ?? '');
  const head = flow.slice(0, flow.length - partial.length);
  if (t.length === 0) {
    return ops
      .filter((o) => o.name.startsWith(partial))
      .map((o) => ({ line: `${o.name} `, label: usage(o), hint: o.summary }));
  }
  const spec = ops.find((o) => o.name === t[0]);
  if (!spec) return [];
  const before = t.slice(1);
  // `key=partial`: complete the value of that key.
  const eq = partial.indexOf('=');
  if (eq > 0) {
    const key = partial.slice(0, eq);
    const f = spec.fields.find((x) => x.name === key);
    if (!f) return [];
    const { args } = fieldAt(spec, before);
    const v = partial.slice(eq + 1);
    return candidates(spec, f, args, names, v)
      .map((c) => ({ line: `${head}${key}=${c} `, label: c, hint: f.name }));
  }
  const { field, args } = fieldAt(spec, before);
  if (!field) return [];
  return candidates(spec, field, args, names, partial)
    .slice(0, LIMIT)
    .map((c) => ({ line: `${head}${c} `, label: c, hint: field.name }));
}
