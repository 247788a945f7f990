/**
 * Thousands of damaged session files fed to the loader (byte flips, truncations at every 1/64th, wrong types in
 * random fields, huge numbers, deep nesting, junk): each gives a typed SessionError or a valid session, never another
 * exception; imported into a LabService, a failure leaves its state exactly as it was. And saving is atomic: a writer
 * killed (SIGKILL) at random points mid-save leaves the target either the old or the new complete file.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionError, serializeSession } from '../../shared/session.js';
import { LabService } from '../../src-main/host/service.js';
import { Lab } from '../../src-main/lab/lab.js';
import { labFromSession, loadSession, parseSessionBytes, saveSession, sessionFromLab } from '../../src-main/lab/session-io.js';
import { ensureBuilt, opArb, ROOT, SMALL_SOC } from './helpers.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svalab-fuzz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A session with some of everything: several policies' worth of steps, notes, a layout, steps left to redo. */
function baseText(): string {
  const lab = new Lab(SMALL_SOC, 'rfc-v1');
  for (const op of fc.sample(opArb, { seed: 99, numRuns: 40 })) lab.apply(op);
  lab.undo();
  return serializeSession(sessionFromLab(lab, 'fuzz base\n\nnotes', { panes: [{ w: 1 }, { w: 2 }], zoom: 1.5 }, { stepNotes: ['a note'] }));
}

/** A small deterministic PRNG (the cases must be the same on every run). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every (container, key) in a document, to pick a random field from. */
function slots(doc: Json): [Json[] | { [k: string]: Json }, string | number][] {
  const out: [Json[] | { [k: string]: Json }, string | number][] = [];
  const stack: Json[] = [doc];
  while (stack.length) {
    const x = stack.pop()!;
    if (Array.isArray(x)) x.forEach((v, i) => (out.push([x, i]), stack.push(v)));
    else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) out.push([x, k]), stack.push(v);
  }
  return out;
}

/** Nested arrays or objects as text (built as text: JSON.stringify of a deep value would overflow the stack). */
function deep(depth: number, arrays: boolean): string {
  return arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

const WRONG: Json[] = [null, true, false, 0, -1, 1.5, 1e300, -1e300, 2 ** 53 + 2, '', 'x', 'x'.repeat(5000), [], [1, 2], {}, { a: 1 }];

/** The damaged variants of `text`, all deterministic. */
function cases(text: string): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  const enc = new TextEncoder();
  const bytes = enc.encode(text);
  const doc = (): Json => JSON.parse(text) as Json;
  const r = rng(20260424);
  // truncations at every 1/64th (and one byte short)
  for (let i = 0; i < 64; i++) out.push({ name: `truncate ${i}/64`, bytes: bytes.slice(0, Math.floor((bytes.length * i) / 64)) });
  out.push({ name: 'truncate -1', bytes: bytes.slice(0, bytes.length - 2) });
  // byte flips: one, a few, and bursts (some land in numbers, strings, structure, or make invalid UTF-8)
  for (let i = 0; i < 1200; i++) {
    const b = bytes.slice();
    const flips = i < 600 ? 1 : 1 + r(8);
    for (let j = 0; j < flips; j++) b[r(b.length)] ^= 1 << r(8);
    out.push({ name: `flip ${i}`, bytes: b });
  }
  for (let i = 0; i < 300; i++) {
    const b = bytes.slice();
    b[r(b.length)] = r(256);
    out.push({ name: `byte ${i}`, bytes: b });
  }
  // wrong types in random fields
  for (let i = 0; i < 900; i++) {
    const d = doc();
    const all = slots(d);
    const [c, k] = all[r(all.length)]!;
    (c as Record<string | number, Json>)[k] = WRONG[r(WRONG.length)]!;
    out.push({ name: `wrong type ${i}`, bytes: enc.encode(JSON.stringify(d)) });
  }
  // huge and odd numbers in every number field, one at a time
  {
    const numbers = slots(doc()).filter(([c, k]) => typeof (c as Record<string | number, Json>)[k] === 'number').length;
    for (let i = 0; i < Math.min(numbers, 200); i++) {
      const d = doc();
      const nums = slots(d).filter(([c, k]) => typeof (c as Record<string | number, Json>)[k] === 'number');
      const [c, k] = nums[i]!;
      (c as Record<string | number, Json>)[k] = [1e308, -1e308, 2 ** 64, -(2 ** 31), 4294967296, 0.1][i % 6]!;
      out.push({ name: `number ${i}`, bytes: enc.encode(JSON.stringify(d)) });
    }
  }
  // deep nesting in a random field, and a document that is only nesting
  for (let i = 0; i < 60; i++) {
    const d = doc();
    const all = slots(d);
    const [c, k] = all[r(all.length)]!;
    (c as Record<string | number, Json>)[k] = '\u0001DEEP';
    out.push({ name: `deep ${i}`, bytes: enc.encode(JSON.stringify(d).replace('"\\u0001DEEP"', deep([10, 40, 300, 5000][i % 4]!, i % 2 === 0))) });
  }
  out.push({ name: 'only brackets', bytes: enc.encode('['.repeat(1_000_000)) });
  out.push({ name: 'deep valid', bytes: enc.encode(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) });
  // removed keys, extra keys, junk spliced in, duplicated steps
  for (let i = 0; i < 300; i++) {
    const d = doc();
    const objs = slots(d).filter(([c]) => !Array.isArray(c));
    const [c, k] = objs[r(objs.length)]!;
    if (i % 3 === 0) delete (c as Record<string, Json>)[k as string];
    else if (i % 3 === 1) (c as Record<string, Json>)[`extra${i}`] = 1;
    else (c as Record<string, Json>)[k] = JSON.parse(JSON.stringify((d as { steps: Json[] }).steps.slice(0, 5))) as Json;
    out.push({ name: `keys ${i}`, bytes: enc.encode(JSON.stringify(d)) });
  }
  for (let i = 0; i < 200; i++) {
    const at = r(text.length);
    const junk = ['}', ']', ',', '"', '\\', '\u0000', 'null', '{"a":', '\ud800', 'ÿ', '1e999'][r(11)]!;
    out.push({ name: `junk ${i}`, bytes: enc.encode(text.slice(0, at) + junk + text.slice(at)) });
  }
  return out;
}

describe('fuzz: damaged session files', () => {
  const text = baseText();
  const all = cases(text);

  it(`${all.length} damaged files: each is a typed SessionError or a valid session, never a crash`, () => {
    expect(all.length).toBeGreaterThan(3000);
    const kinds = new Map<string, number>();
    let valid = 0;
    for (const c of all) {
      try {
        const p = parseSessionBytes(c.bytes, 'fuzz.svalab');
        valid++;
        // a valid one also rebuilds, or fails with a typed replay error
        try {
          labFromSession(p.session, { trace: false });
        } catch (e) {
          if (!(e instanceof SessionError)) throw new Error(`${c.name}: rebuilding threw ${(e as Error).stack}`);
          expect(e.kind).toBe('replay');
        }
      } catch (e) {
        if (!(e instanceof SessionError)) throw new Error(`${c.name}: ${(e as Error)?.stack ?? String(e)}`);
        expect(e.message.length, c.name).toBeLessThan(5000);
        expect(e.problems.length, c.name).toBeGreaterThan(0);
        kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      }
    }
    // the fuzzing reaches the different checks
    for (const k of ['truncated', 'not-json', 'not-text', 'schema', 'not-session']) expect(kinds.get(k) ?? 0, k).toBeGreaterThan(0);
    expect(valid).toBeGreaterThan(0);
  });

  it('imported into a LabService, a failure leaves its state unchanged (and a success replaces it)', () => {
    const svc = new LabService({ soc: SMALL_SOC });
    const good = svc.request('session.import', { name: 'base.svalab', text });
    expect(good.ok).toBe(true);
    const fingerprint = (): string => JSON.stringify([svc.currentSeq, svc.dirty, svc.snapshot()]);
    let before = fingerprint();
    const events: unknown[] = [];
    svc.subscribe((e) => events.push(e));
    let failed = 0;
    for (const c of all.filter((_, i) => i % 6 === 0)) {
      let t: string;
      try {
        t = new TextDecoder('utf-8', { fatal: true }).decode(c.bytes);
      } catch {
        continue; // not text: a transport delivers strings
      }
      const r = svc.request('session.import', { name: 'fuzz.svalab', text: t });
      if (!r.ok) {
        failed++;
        expect(['bad-session', 'bad-input'], c.name).toContain(r.error.code);
        expect(events, c.name).toEqual([]);
        expect(fingerprint(), c.name).toBe(before);
      } else {
        events.length = 0;
        expect(svc.request('session.import', { name: 'base.svalab', text }).ok).toBe(true);
        events.length = 0;
        before = fingerprint();
      }
    }
    expect(failed).toBeGreaterThan(300);
  });

  it('through files too: loadSession on a sample of them', () => {
    for (const c of all.filter((_, i) => i % 25 === 0)) {
      const f = join(dir, 'fuzz.svalab');
      writeFileSync(f, c.bytes);
      try {
        loadSession(f);
      } catch (e) {
        if (!(e instanceof SessionError)) throw new Error(`${c.name}: ${(e as Error).stack}`);
      }
    }
  });
});

describe('atomic save', () => {
  it('a writer killed mid-save (SIGKILL at random points) leaves the old or the new complete file, never a mix', async () => {
    ensureBuilt();
    const seed = join(dir, 'seed.svalab');
    saveSession(seed, sessionFromLab((() => {
      const lab = new Lab(SMALL_SOC, 'mainline');
      for (const op of fc.sample(opArb, { seed: 5, numRuns: 30 })) lab.apply(op);
      return lab;
    })(), 'seed'));
    const target = join(dir, 'target.svalab');
    const refA = join(dir, 'ref-a.json');
    const refB = join(dir, 'ref-b.json');
    const child = join(dir, 'writer.mjs');
    const dist = (p: string): string => pathToFileURL(join(ROOT, 'dist', p)).href;
    // The child makes two large sessions (the seed's steps repeated, different notes), saves A once with saveSession,
    // keeps their texts as references, then rewrites the target A, B, A, ... with the same atomic write until killed.
    writeFileSync(
      child,
      `import { writeFileSync } from 'node:fs';
import { loadSession, saveSession, writeFileAtomic } from ${JSON.stringify(dist('src-main/lab/session-io.js'))};
import { serializeSession } from ${JSON.stringify(dist('shared/session.js'))};
const [seed, target, refA, refB] = process.argv.slice(2);
const base = loadSession(seed).session;
const steps = [];
while (steps.length < 80000) steps.push(...base.steps);
const a = { ...base, notes: 'A', steps };
const b = { ...base, notes: 'B'.repeat(1000), steps };
const ta = serializeSession(a), tb = serializeSession(b);
writeFileSync(refA, ta);
writeFileSync(refB, tb);
saveSession(target, a);
process.stdout.write('ready\\n');
for (let i = 1; ; i++) writeFileAtomic(target, i % 2 ? tb : ta);
`,
    );
    const texts = new Set<string>();
    let strays = 0;
    const runs = 6;
    for (let run = 0; run < runs; run++) {
      const p = spawn(process.execPath, [child, seed, target, refA, refB], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => void (err += d.toString()));
      await new Promise<void>((res, rej) => {
        p.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) res();
        });
        p.on('exit', () => rej(new Error(`writer exited early: ${err}`)));
      });
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 400)));
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
      const got = readFileSync(target, 'utf8');
      const a = readFileSync(refA, 'utf8');
      const b = readFileSync(refB, 'utf8');
      expect(got === a || got === b, `run ${run}: the target is neither complete file (${got.length} bytes)`).toBe(true);
      expect(loadSession(target).session.notes.startsWith(got === a ? 'A' : 'B')).toBe(true);
      texts.add(got === a ? 'A' : 'B');
      const tmps = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
      strays += tmps.length;
      for (const t of tmps) rmSync(join(dir, t));
    }
    // killed during a write at least once: the partial temporary file it left proves it (and was never the target)
    expect(strays).toBeGreaterThan(0);
  }, 180_000);

  it('a save that fails (an invalid session; the rename refused) leaves the previous file and no temporary file', () => {
    const sub = mkdtempSync(join(dir, 'fail-'));
    const file = join(sub, 's.svalab');
    const lab = new Lab(SMALL_SOC, 'mainline');
    lab.apply({ op: 'bind', args: { process: 'p', device: 'big' } });
    const s = sessionFromLab(lab, 'old');
    saveSession(file, s);
    const old = readFileSync(file, 'utf8');
    expect(() => saveSession(file, { ...s, notes: 7 as unknown as string })).toThrow(SessionError);
    expect(readFileSync(file, 'utf8')).toBe(old);
    // a target the rename cannot replace (a non-empty directory): the written temporary file is removed again
    const blocked = join(sub, 'blocked.svalab');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    expect(() => saveSession(blocked, s)).toThrow();
    expect(readdirSync(sub).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => saveSession(join(sub, 'no-such-dir', 'x.svalab'), s)).toThrow();
  });
});
