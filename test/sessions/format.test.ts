/**
 * The .svalab format: round trips of random sessions, the migration from version 0, a newer version refused, and a
 * clear typed error (kind, and where: a JSON position or a path) for every kind of bad file.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_SESSION_BYTES,
  MAX_SESSION_STEPS,
  SESSION_VERSION,
  SessionError,
  VERSIONS,
  compareRecorded,
  parseSessionText,
  serializeSession,
  summarizeResult,
  validateSessionDoc,
  type Session,
} from '../../shared/session.js';
import { POLICY_NAMES, type Op } from '../../shared/steps.js';
import { Lab } from '../../src-main/lab/lab.js';
import { labFromSession, loadSession, replaySession, saveSession, sessionFromLab } from '../../src-main/lab/session-io.js';
import { opArb, recordData, SMALL_SOC, stateData } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svalab-format-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bind = (process: string, device: string): Op => ({ op: 'bind', args: { process, device } });

function smallSession(): Session {
  const lab = new Lab(SMALL_SOC, 'mainline');
  for (const op of [bind('p1', 'big'), bind('p2', 'big'), bind('p1', 'tiny'), { op: 'exit', args: { process: 'p2', files_kept: false } } as Op]) lab.apply(op);
  return sessionFromLab(lab, 'two processes\n\nsecond line', { panes: { left: 300 } }, { stepNotes: [null, 'the second bind'] });
}

/** What a parse failure says: its kind and where. */
function failure(text: string): { kind: string; where: string; message: string } {
  try {
    parseSessionText(text, 'f.svalab');
  } catch (e) {
    if (e instanceof SessionError) return { kind: e.kind, where: e.where, message: e.message };
    throw e;
  }
  throw new Error('parsed');
}

const docOf = (s: Session): Record<string, any> => JSON.parse(serializeSession(s));

describe('round trips', () => {
  for (const policy of POLICY_NAMES) {
    it(`random sessions under ${policy}: save, load, rebuild give the same lab and the same file`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.nat(40), (ops, back) => {
          const lab = new Lab(SMALL_SOC, policy);
          for (const op of ops) lab.apply(op);
          for (let i = 0; i < back % (lab.records.length + 1); i++) lab.undo(); // some steps left to redo
          const s = sessionFromLab(lab, 'notes', { a: [1, 2] }, { created: '2026-01-01T00:00:00.000Z' });
          const text = serializeSession(s);
          const parsed = parseSessionText(text, 'r.svalab');
          expect(parsed.migratedFrom).toBeNull();
          const again = labFromSession(parsed.session, { checkpoints: { every: 3 } });
          expect(stateData(again)).toBe(stateData(lab));
          expect(recordData(again)).toBe(recordData(lab));
          expect(again.redoSteps().map((r) => r.op)).toEqual(lab.redoSteps().map((r) => r.op));
          expect(serializeSession(sessionFromLab(again, 'notes', { a: [1, 2] }, { created: '2026-01-01T00:00:00.000Z' }))).toBe(text);
          expect(replaySession(parsed).divergences).toEqual([]);
        }),
        { seed: 7, numRuns: 40 },
      );
    });
  }

  it('through a file: the text is readable (header first, one step per line) and the write leaves no temporary file', () => {
    const s = smallSession();
    const file = join(dir, 'small.svalab');
    saveSession(file, s);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').slice(0, 3)).toEqual(['{', '  "format": "svalab-session",', `  "version": ${SESSION_VERSION},`]);
    expect(text).toContain('    {"step":{"bind":{"process":"p1","device":"big"}},"result":{"ok":true,"pasid":2},"findings":[]},');
    expect(text).toContain('"note":"the second bind"');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const back = loadSession(file);
    expect(back.session).toEqual(s);
    expect(back.ops).toHaveLength(4);
  });

  it('a save keeps the target file mode and writes through a symlink', () => {
    const file = join(dir, 'mode.svalab');
    saveSession(file, smallSession());
    chmodSync(file, 0o600);
    saveSession(file, smallSession());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const link = join(dir, 'link.svalab');
    symlinkSync(file, link);
    const s = smallSession();
    s.notes = 'through the link';
    saveSession(link, s);
    expect(loadSession(file).session.notes).toBe('through the link');
    expect(statSync(link).isFile()).toBe(true);
  });

  it('an invalid session is never written', () => {
    const s = smallSession();
    (s.steps[0]!.result as { ok: unknown }).ok = 'yes';
    const file = join(dir, 'never.svalab');
    expect(() => saveSession(file, s)).toThrow(SessionError);
    expect(() => statSync(file)).toThrow();
  });
});

describe('versions', () => {
  const v0 = {
    format: 'svalab-session',
    version: 0,
    createdWith: '0.0.9',
    created: '2025-12-01T10:00:00.000Z',
    policy: 'mainline',
    soc: { smmus: [{ name: 'smmu0' }], devices: [{ name: 'big', smmu: 'smmu0', sid: 32, pasid_bits: 20 }] },
    steps: [
      { step: { bind: { process: 'p1', device: 'big' } }, result: { ok: true, pasid: 1 }, note: 'first' },
      { step: { bind: { process: 'p2', device: 'big' } }, result: { ok: true, pasid: 2 } },
    ],
  };

  it('the migration table covers every version up to the current one', () => {
    for (let v = 0; v <= SESSION_VERSION; v++) expect(VERSIONS[v], `version ${v}`).toBeDefined();
    for (let v = 0; v < SESSION_VERSION; v++) expect(VERSIONS[v]!.up, `version ${v} migrates`).toBeTypeOf('function');
    expect(VERSIONS[SESSION_VERSION]!.up).toBeUndefined();
  });

  it('version 0 -> 1: the app block from createdWith, no findings (not compared), an empty layout and notes', () => {
    const p = parseSessionText(JSON.stringify(v0), 'old.svalab');
    expect(p.migratedFrom).toBe(0);
    expect(p.session).toMatchObject({ version: 1, app: { name: 'svalab', version: '0.0.9' }, created: v0.created, notes: '', layout: {} });
    expect(p.session.steps[0]).toEqual({ step: { bind: { process: 'p1', device: 'big' } }, result: { ok: true, pasid: 1 }, note: 'first' });
    expect(p.session.steps[1]!.findings).toBeUndefined();
    expect(replaySession(p).divergences).toEqual([]);
    // saved again, it is a version 1 file that reads without migration
    const again = parseSessionText(serializeSession(p.session), 'new.svalab');
    expect(again.migratedFrom).toBeNull();
    expect(again.session).toEqual(p.session);
  });

  it('a bad version-0 file is reported in version-0 terms', () => {
    const bad = { ...v0, createdWith: 7 };
    expect(failure(JSON.stringify(bad))).toMatchObject({ kind: 'schema', where: 'createdWith' });
    const newer = { ...v0, layout: {} }; // a version-1 field in a version-0 file
    expect(failure(JSON.stringify(newer)).message).toMatch(/layout/);
  });

  it('a file from a newer version is refused with a message saying so', () => {
    const f = failure(JSON.stringify({ ...docOf(smallSession()), version: SESSION_VERSION + 1, app: { name: 'svalab', version: '9.0.0' } }));
    expect(f.kind).toBe('newer-version');
    expect(f.where).toBe('version');
    expect(f.message).toMatch(/newer SVA Lab \(svalab 9\.0\.0\).*update SVA Lab/);
  });

  it('a version that never existed, or is not a whole number', () => {
    for (const version of [-1, 0.5, '1', null, 1e300]) {
      const f = failure(JSON.stringify({ ...docOf(smallSession()), version }));
      expect(f.kind, String(version)).toBe(version === 1e300 ? 'newer-version' : 'bad-version');
    }
  });
});

describe('bad files: the problem and where it is', () => {
  const good = serializeSession(smallSession());

  it('truncated: the position where the text ends', () => {
    const f = failure(good.slice(0, Math.floor(good.length / 2)));
    expect(f.kind).toBe('truncated');
    expect(f.where).toMatch(/^line \d+, column \d+$/);
    expect(f.message).toMatch(/truncated/);
    expect(failure('').kind).toBe('truncated');
  });

  it('not JSON: the line and column of the first bad character', () => {
    const f = failure('{\n  "format": "svalab-session",\n  "version": tru\n}');
    expect(f).toMatchObject({ kind: 'not-json', where: 'line 3, column 14' });
    expect(failure('{"a": 1} x')).toMatchObject({ kind: 'not-json', where: 'line 1, column 10' });
    expect(failure(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toMatchObject({ kind: 'not-json' });
  });

  it('not a session: JSON of another kind; a scenario is pointed at svalab convert', () => {
    expect(failure('[1, 2]')).toMatchObject({ kind: 'not-session' });
    expect(failure('{"format": "other"}')).toMatchObject({ kind: 'not-session', where: 'format' });
    expect(failure(JSON.stringify({ name: 'S1', soc: {}, steps: [] })).message).toMatch(/scenario.*svalab convert/);
  });

  it('wrong schema: the path of the field', () => {
    const d = docOf(smallSession());
    d.steps[2].result.ok = 'yes';
    expect(failure(JSON.stringify(d))).toMatchObject({ kind: 'schema', where: 'steps[2].result.ok' });
    const e = docOf(smallSession());
    e.steps[1].step.bind.extra = 1;
    expect(failure(JSON.stringify(e))).toMatchObject({ kind: 'schema', where: 'steps[1].step.bind' });
    const g = docOf(smallSession());
    g.steps[0].step = { bind: { process: 'p', device: 'big' }, fork: { process: 'p', child: 'q' } };
    expect(failure(JSON.stringify(g))).toMatchObject({ kind: 'schema', where: 'steps[0].step' });
    const h = docOf(smallSession());
    h.soc.devices[1].smmu = 'nosuch';
    expect(failure(JSON.stringify(h))).toMatchObject({ kind: 'schema', where: 'soc.devices[1].smmu' });
  });

  it('an unknown device referenced by a step', () => {
    const d = docOf(smallSession());
    d.steps[3] = { step: { bind: { process: 'p1', device: 'nosuch' } }, result: { ok: true } };
    const f = failure(JSON.stringify(d));
    expect(f).toMatchObject({ kind: 'reference', where: 'steps[3].step.bind.device' });
    expect(f.message).toMatch(/unknown device 'nosuch'/);
  });

  it('absurd sizes: huge numbers, too many steps, a huge or deep layout, a file past the limit', () => {
    const d = docOf(smallSession());
    d.steps[0].result.pasid = 1e300;
    expect(failure(JSON.stringify(d))).toMatchObject({ kind: 'schema', where: 'steps[0].result.pasid' });
    const many = { ...docOf(smallSession()), steps: new Array(MAX_SESSION_STEPS + 1).fill(0) };
    expect(() => validateSessionDoc(many)).toThrow(expect.objectContaining({ kind: 'too-large' }));
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { x: deep };
    expect(failure(JSON.stringify({ ...docOf(smallSession()), layout: deep })).message).toMatch(/layout is nested deeper/);
    expect(failure(JSON.stringify({ ...docOf(smallSession()), layout: { s: 'x'.repeat(2 << 20) } })).message).toMatch(/layout is larger/);
    const d2 = docOf(smallSession());
    d2.position = 99;
    expect(failure(JSON.stringify(d2))).toMatchObject({ kind: 'schema', where: 'position' });
    const big = join(dir, 'big.svalab');
    writeFileSync(big, '');
    truncateSync(big, MAX_SESSION_BYTES + 1); // sparse: refused by its size before a byte is read
    expect(() => loadSession(big)).toThrow(expect.objectContaining({ kind: 'too-large' }));
  });

  it('not text, not a file, no file', () => {
    const bin = join(dir, 'bin.svalab');
    writeFileSync(bin, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(() => loadSession(bin)).toThrow(expect.objectContaining({ kind: 'not-text' }));
    expect(() => loadSession(dir)).toThrow(expect.objectContaining({ kind: 'io' }));
    expect(() => loadSession(join(dir, 'missing.svalab'))).toThrow(/no such file/);
  });

  it('loading executes nothing: a __proto__ key stays data (dropped by the schema), nothing is polluted', () => {
    const d = good.replace('"steps": [\n    {"step":{"bind"', '"steps": [\n    {"step":{"__proto__":{"polluted":true},"bind"');
    expect(d).not.toBe(good);
    const p = parseSessionText(d.replace('"layout": {', '"layout": {\n    "__proto__": {"polluted": true},'), 'p.svalab');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(p.session.steps[0]!.step)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(p.session.layout)).toBe(Object.prototype);
    expect(serializeSession(p.session)).not.toContain('polluted');
  });

  it('a session the lab cannot replay (a rejected step) is a replay error naming the step', () => {
    const d = docOf(smallSession());
    d.steps.push({ step: { unbind: { process: 'nobody', device: 'big' } }, result: { ok: true } });
    const p = parseSessionText(JSON.stringify(d), 'r.svalab');
    expect(() => labFromSession(p.session)).toThrow(expect.objectContaining({ kind: 'replay', where: 'steps[4].step.unbind' }));
  });
});

describe('recorded results', () => {
  it('record what a replay compares, not the wording', () => {
    expect(summarizeResult({ ok: false, errno: 'EBUSY', why: 'words', detail: 'more words' })).toEqual({ ok: false, errno: 'EBUSY' });
    expect(summarizeResult({ ok: true, pasid: 3, events: ['C_BAD_CD'], event: 'C_BAD_CD', data: 'ab', reached: [] })).toEqual({ ok: true, pasid: 3, events: ['C_BAD_CD'], event: 'C_BAD_CD', data: 'ab' });
  });

  it('compare field by field, findings as a multiset, rejections said', () => {
    expect(compareRecorded({ ok: true, pasid: 1 }, [], { ok: true, pasid: 1 }, [])).toEqual([]);
    expect(compareRecorded({ ok: true, pasid: 1 }, [], { ok: true, pasid: 2 }, [])).toEqual(['pasid: recorded 1, got 2']);
    expect(compareRecorded({ ok: true, pasid: 1 }, undefined, { ok: false, errno: 'ENOSPC' }, [])).toEqual(['recorded success, pasid 1, got ENOSPC']);
    expect(compareRecorded({ ok: true }, ['refcount'], { ok: true }, [])).toEqual(['findings: recorded [refcount], got []']);
    expect(compareRecorded({ ok: true }, undefined, { ok: true }, [{ step: 0, invariant: 'refcount', subject: 'x', message: 'm' }])).toEqual([]);
    expect(compareRecorded({ ok: true }, [], { ok: false, rejected: 'no such process' }, [])[0]).toMatch(/rejected/);
  });
});
