/**
 * Time travel: the graph clone behind checkpoints, and the property that matters: after any jump, undo or redo the
 * lab is exactly what a fresh lab replayed to the same step is (view, open findings, every record with its trace),
 * under all four policies, with checkpoints close together so that restores happen all the time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { POLICY_NAMES, type Op } from '../../shared/steps.js';
import { checkpointDue, CheckpointStore, cloneGraph, cloneKernel, emptyStats, reusableCopies, SHARED_SINGLETONS } from '../../src-main/lab/checkpoint.js';
import { Lab } from '../../src-main/lab/lab.js';
import { POLICIES } from '../../src-main/sim/policies/index.js';
import { StepTag } from '../../src-main/sim/hw/attribution.js';
import { isShareable } from '../../src-main/sim/immutable.js';
import { opArb, recordData, SMALL_SOC, stateData } from './helpers.js';

describe('cloneGraph', () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
    get sum(): number {
      return this.x + this.y;
    }
  }

  it('keeps prototypes, shared references and cycles', () => {
    const p = new Point(1, 2);
    const root: { a: Point; b: Point; self?: unknown; list: Point[] } = { a: p, b: p, list: [p] };
    root.self = root;
    const c = cloneGraph(root);
    expect(c).not.toBe(root);
    expect(c.a).toBeInstanceOf(Point);
    expect(c.a).not.toBe(p);
    expect(c.a.sum).toBe(3);
    expect(c.b).toBe(c.a);
    expect(c.list[0]).toBe(c.a);
    expect(c.self).toBe(c);
    c.a.x = 10;
    expect(p.x).toBe(1);
  });

  it('typed arrays over one buffer stay views of one (copied) buffer', () => {
    const buf = new ArrayBuffer(16);
    const bytes = new Uint8Array(buf);
    const words = new Uint32Array(buf);
    const tail = new Uint8Array(buf, 8, 4);
    words[0] = 0x04030201;
    const c = cloneGraph({ bytes, words, tail });
    expect(c.bytes.buffer).toBe(c.words.buffer);
    expect(c.tail.buffer).toBe(c.bytes.buffer);
    expect(c.bytes.buffer).not.toBe(buf);
    expect([c.tail.byteOffset, c.tail.length]).toEqual([8, 4]);
    expect([...c.bytes.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    c.words[0] = 0xffffffff;
    expect(c.bytes[0]).toBe(0xff);
    expect(bytes[0]).toBe(1);
  });

  it('copies Maps and Sets in insertion order, keys and values deeply', () => {
    const k1 = { id: 1 };
    const k2 = { id: 2 };
    const m = new Map<object, object>([
      [k2, { v: 'b' }],
      [k1, { v: 'a' }],
    ]);
    const s = new Set([k1, k2]);
    const c = cloneGraph({ m, s });
    const keys = [...c.m.keys()];
    expect(keys.map((k) => (k as { id: number }).id)).toEqual([2, 1]);
    expect(keys[0]).not.toBe(k2);
    expect([...c.s][0]).toBe(keys[1]); // k1 copied once, shared by the Map and the Set
    expect(c.m.get(keys[1]!)).toEqual({ v: 'a' });
  });

  it('shares frozen objects, functions and the policy singletons; keeps property attributes', () => {
    const frozen = Object.freeze({ tag: 'ZERO' });
    const fn = (): number => 1;
    const o: Record<string, unknown> = { frozen, fn, policy: POLICIES.mainline };
    Object.defineProperty(o, 'hidden', { value: { n: 1 }, enumerable: false, writable: false });
    Object.preventExtensions(o);
    const c = cloneGraph(o);
    expect(c.frozen).toBe(frozen);
    expect(c.fn).toBe(fn);
    expect(c.policy).toBe(POLICIES.mainline);
    expect(SHARED_SINGLETONS.has(POLICIES['rfc-v1'])).toBe(true);
    const d = Object.getOwnPropertyDescriptor(c, 'hidden')!;
    expect([d.enumerable, d.writable, (d.value as { n: number }).n]).toEqual([false, false, 1]);
    expect(d.value).not.toBe(Object.getOwnPropertyDescriptor(o, 'hidden')!.value);
    expect(Object.isExtensible(c)).toBe(false);
  });

  it('shares instances of IMMUTABLE-marked classes (write-attribution tags) as it shares frozen objects', () => {
    const lab = new Lab(SMALL_SOC, 'mainline');
    lab.apply({ op: 'bind', args: { process: 'p', device: 'big' } });
    const file = lab.kernel.processes.get('p')!.fds[0]!;
    const tag = file.pasidBy!;
    expect(tag).toBeInstanceOf(StepTag);
    expect(Object.isFrozen(tag)).toBe(false); // shared because marked, not because frozen
    const copy = cloneKernel(lab.kernel);
    const copied = copy.processes.get('p')!.fds[0]!;
    expect(copied === file).toBe(false); // not .not.toBe: vitest deep-compares the two kernel graphs for its message
    expect(copied.pasidBy).toBe(tag);
    expect(tag.text).toBe('bind { process: p, device: big }');
  });

  it('keeps array holes, and does not overflow the stack on a long chain', () => {
    // eslint-disable-next-line no-sparse-arrays
    const holes = [1, , 3];
    expect(1 in cloneGraph(holes)).toBe(false);
    let chain: { next: unknown } = { next: null };
    for (let i = 0; i < 200_000; i++) chain = { next: chain };
    expect(() => cloneGraph(chain)).not.toThrow();
  });

  it('refuses state it cannot copy (a WeakMap, a Promise)', () => {
    expect(() => cloneGraph({ w: new WeakMap() })).toThrow(/WeakMap/);
    expect(() => cloneGraph({ p: Promise.resolve() })).toThrow(/Promise/);
  });
});

describe('cloneKernel', () => {
  it('a kernel holds no state outside its graph: two independent kernels share only constants', () => {
    // Anything reachable from both is a module-level object. Those must be the shared policy objects, frozen
    // sentinels or functions; a mutable one would be shared between a checkpoint and the live kernel.
    const a = new Lab(SMALL_SOC, 'mainline');
    const b = new Lab(SMALL_SOC, 'mainline');
    const ops: Op[] = [
      { op: 'bind', args: { process: 'p', device: 'tiny' } },
      { op: 'bind', args: { process: 'p', device: 'fnA' } },
      { op: 'map', args: { process: 'p', va: 0x400000, length: 8192, write: true } },
      { op: 'touch', args: { process: 'p', va: 0x400000, length: 16, write: true } },
      { op: 'dma', args: { device: 'tiny', process: 'p', va: 0x400000, length: 32, write: false } },
    ];
    for (const op of ops) {
      a.apply(op);
      b.apply(op);
    }
    const reach = (root: object): Set<object> => {
      const seen = new Set<object>();
      const stack: unknown[] = [root];
      while (stack.length) {
        const o = stack.pop();
        if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o as object)) continue;
        seen.add(o as object);
        if (o instanceof Map) for (const [k, v] of o) stack.push(k, v);
        else if (o instanceof Set) for (const v of o) stack.push(v);
        if (ArrayBuffer.isView(o)) stack.push(o.buffer);
        else for (const k of Reflect.ownKeys(o as object)) stack.push(Object.getOwnPropertyDescriptor(o as object, k)!.value);
      }
      return seen;
    };
    const ra = reach(a.kernel);
    const shared = [...reach(b.kernel)].filter((o) => ra.has(o));
    const unexpected = shared.filter((o) => typeof o !== 'function' && !Object.isFrozen(o) && !SHARED_SINGLETONS.has(o));
    expect(unexpected.map((o) => Object.getPrototypeOf(o)?.constructor?.name)).toEqual([]);
  });

  it.each(POLICY_NAMES)('a kernel holds plain fields only, as cloneKernel copies them (%s)', (policy) => {
    // cloneKernel copies by key and value (GraphCloneOptions.plain): a property defined otherwise (an accessor, a
    // read-only, non-enumerable or symbol-keyed one, an own property of an array, Map or Set besides its elements) would
    // be copied wrong or not at all. Walk kernels after random steps, boot included, and check every object the copy
    // would descend into.
    const shared = (o: object): boolean => SHARED_SINGLETONS.has(o) || Object.isFrozen(o) || isShareable(o);
    const problems = (root: object): string[] => {
      const out: string[] = [];
      const seen = new Set<object>();
      const stack: unknown[] = [root];
      while (stack.length && out.length < 5) {
        const o = stack.pop();
        if (o === null || typeof o !== 'object' || seen.has(o) || shared(o)) continue;
        seen.add(o);
        const name = (Object.getPrototypeOf(o) as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'null-prototype object';
        if (o instanceof ArrayBuffer) continue;
        if (ArrayBuffer.isView(o)) {
          stack.push(o.buffer);
          continue;
        }
        const keys = Reflect.ownKeys(o);
        if (o instanceof Map || o instanceof Set) {
          if (keys.length) out.push(`a ${name} with own properties ${keys.map(String).join(', ')}`);
          if (o instanceof Map) for (const [k, v] of o) stack.push(k, v);
          else for (const v of o) stack.push(v);
          continue;
        }
        if (!Object.isExtensible(o)) continue; // copied with its extensibility either way
        for (const key of keys) {
          if (Array.isArray(o) && (key === 'length' || (typeof key === 'string' && String(Number(key)) === key))) {
            stack.push((o as unknown as Record<string, unknown>)[key as string]);
            continue;
          }
          const d = Object.getOwnPropertyDescriptor(o, key)!;
          if (typeof key !== 'string' || !('value' in d) || !d.writable || !d.enumerable || !d.configurable) out.push(`${name}.${String(key)} is not a plain field`);
          else stack.push(d.value);
        }
      }
      return out;
    };
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 0, maxLength: 60 }), (ops) => {
        const lab = new Lab(SMALL_SOC, policy, { checkpoints: false });
        for (const op of ops) lab.apply(op);
        expect(problems(lab.kernel)).toEqual([]);
      }),
      { numRuns: 15, seed: 0x91a1 },
    );
  });

  it('a copy evolves exactly like the original, and the original is untouched by it', () => {
    const lab = new Lab(SMALL_SOC, 'rfc-v1');
    lab.apply({ op: 'bind', args: { process: 'p', device: 'big' } });
    lab.apply({ op: 'map', args: { process: 'p', va: 0x400000, length: 8192, write: true } });
    const before = JSON.stringify(lab.view());
    const stats = emptyStats();
    const copy = cloneKernel(lab.kernel, { stats });
    expect(stats.buffers).toBeGreaterThan(0);
    expect(copy.policy).toBe(lab.kernel.policy);
    const saved = lab.kernel;
    lab.kernel = copy;
    lab.apply({ op: 'bind', args: { process: 'q', device: 'big' } });
    lab.apply({ op: 'touch', args: { process: 'p', va: 0x400000, length: 16, write: true } });
    lab.kernel = saved;
    expect(JSON.stringify(lab.view())).toBe(before);
  });
});

describe('structural sharing between checkpoints', () => {
  class Node {
    constructor(
      public name: string,
      public next: Node | null = null,
      public data: Uint8Array | null = null,
    ) {}
  }

  it('reuses the copies of unchanged subgraphs, cycles included, and copies whatever reaches a change', () => {
    const a = new Node('a');
    const b = new Node('b', a); // b -> a -> b: one component
    a.next = b;
    const leaf = new Node('leaf', null, new Uint8Array([1, 2, 3]));
    const changed = new Node('changed');
    const root = { cycle: a, leaf, path: new Node('path', changed), map: new Map([['k', leaf]]) };
    const memo = new Map<object, object>();
    cloneGraph(root, { memo });
    const origin = new WeakMap<object, object>();
    for (const [l, c] of memo) origin.set(l, c);
    changed.name = 'changed!';
    const reuse = reusableCopies(root, origin);
    for (const o of [a, b, leaf, leaf.data!, leaf.data!.buffer, root.map]) expect(reuse.get(o)).toBe(memo.get(o));
    for (const o of [root, root.path, changed]) expect(reuse.has(o)).toBe(false);
    const copy = cloneGraph(root, { reuse });
    expect(copy.cycle).toBe(memo.get(a));
    expect(copy.path).not.toBe(memo.get(root.path));
    expect(copy.path.next!.name).toBe('changed!');
    expect(copy.map.get('k')).toBe(memo.get(leaf));
    // a change inside a cycle makes the whole cycle, and what reaches it, be copied
    b.name = 'b!';
    const again = reusableCopies(root, origin);
    expect([again.has(a), again.has(b), again.has(leaf)]).toEqual([false, false, true]);
    // bytes count: the same buffer with other bytes is a change
    leaf.data![0] = 9;
    expect(reusableCopies(root, origin).has(leaf)).toBe(false);
  });
});

describe('checkpointDue: when a checkpoint is taken', () => {
  // (steps since the last, ms of stepping since, ms the last take took, every, maxReplayMs, takeShare)
  it('after `every` steps when taking one is cheap, or sooner when the steps were slow', () => {
    expect(checkpointDue(999, 10, 2, 1000, 100, 1 / 3)).toBe(false);
    expect(checkpointDue(1000, 10, 2, 1000, 100, 1 / 3)).toBe(true);
    expect(checkpointDue(5, 100, 2, 1000, 100, 1 / 3)).toBe(true); // 100 ms of replay: due whatever the step count
    expect(checkpointDue(5, 99, 2, 1000, 100, 1 / 3)).toBe(false);
  });

  it('after `every` steps, waits until the steps took twice what the last take did (a third of the time for takes)', () => {
    expect(checkpointDue(1000, 59, 30, 1000, 100, 1 / 3)).toBe(false);
    expect(checkpointDue(1000, 60, 30, 1000, 100, 1 / 3)).toBe(true);
  });

  it('never forces a replay bound below the cost of a take: a 1.3 s take waits for 1.3 s of steps, not 100 ms', () => {
    expect(checkpointDue(5000, 100, 1300, 1000, 100, 1 / 3)).toBe(false);
    expect(checkpointDue(5000, 1299, 1300, 1000, 100, 1 / 3)).toBe(false);
    expect(checkpointDue(5000, 1300, 1300, 1000, 100, 1 / 3)).toBe(true);
    expect(checkpointDue(10, 1300, 1300, 1000, 100, 1 / 3)).toBe(true); // slow steps: due before `every`
  });

  it('with takeShare 1 (no limit) keeps the plain bounds', () => {
    expect(checkpointDue(1000, 0, 1300, 1000, 100, 1)).toBe(true);
    expect(checkpointDue(5, 100, 1300, 1000, 100, 1)).toBe(true);
    expect(checkpointDue(5, 99, 1300, 1000, 100, 1)).toBe(false);
  });
});

describe('CheckpointStore', () => {
  it('shares the buffers a stretch of steps left alone, and thins itself out past its budget', () => {
    const lab = new Lab(SMALL_SOC, 'mainline', { checkpoints: false });
    const store = new CheckpointStore<null>({ every: 1 });
    store.take(1, lab.kernel, null);
    lab.apply({ op: 'bind', args: { process: 'p', device: 'big' } });
    store.take(2, lab.kernel, null);
    const [a, b] = [store.at(1)!, store.at(2)!];
    const shared = b.buffers.filter((x) => a.buffers.includes(x));
    expect(shared.length).toBeGreaterThan(0);
    expect(store.bytes).toBeLessThan(a.buffers.concat(b.buffers).reduce((n, x) => n + x.byteLength, 0));

    const tight = new CheckpointStore<null>({ every: 1, budgetBytes: store.bytes * 2 });
    for (let n = 1; n <= 12; n++) {
      lab.apply({ op: 'bind', args: { process: `q${n}`, device: 'big' } });
      tight.take(n, lab.kernel, null);
    }
    expect(tight.bytes).toBeLessThanOrEqual(store.bytes * 2);
    expect(tight.interval).toBeGreaterThan(1);
    expect(tight.positions()[0]).toBe(1);
  });
});

type Action = { t: 'op'; op: Op } | { t: 'jump'; frac: number } | { t: 'undo' } | { t: 'redo' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 10, arbitrary: opArb.map((op): Action => ({ t: 'op', op })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 1000 }).map((k): Action => ({ t: 'jump', frac: k / 1000 })) },
  { weight: 2, arbitrary: fc.constant<Action>({ t: 'undo' }) },
  { weight: 2, arbitrary: fc.constant<Action>({ t: 'redo' }) },
);

for (const policy of POLICY_NAMES) {
  describe(`time travel under ${policy}`, () => {
    it('after every jump, undo and redo the lab equals a fresh lab replayed to that step (view, findings, records, traces)', () => {
      let jumps = 0;
      let restores = 0;
      fc.assert(
        fc.property(fc.array(actionArb, { minLength: 10, maxLength: 80 }), fc.integer({ min: 1, max: 6 }), (actions, every) => {
          const lab = new Lab(SMALL_SOC, policy, { checkpoints: { every, takeShare: 1 } });
          for (const a of actions) {
            if (a.t === 'op') lab.apply(a.op);
            else if (a.t === 'undo') lab.undo();
            else if (a.t === 'redo') lab.redo();
            else {
              const n = Math.floor(a.frac * (lab.timelineLength + 0.999));
              if (n < lab.records.length && lab.checkpointInfo().positions.some((p) => p > 0 && p <= n)) restores++;
              lab.jumpTo(n);
              jumps++;
            }
            if (a.t === 'op') continue;
            const ops = lab.records.map((r) => r.op);
            const fresh = new Lab(SMALL_SOC, policy, { checkpoints: false });
            for (const op of ops) fresh.apply(op);
            expect(stateData(lab)).toBe(stateData(fresh));
            expect(recordData(lab)).toBe(recordData(fresh));
          }
          // the timeline survives: redo everything, then compare with a fresh run of the whole of it
          while (lab.redo());
          const fresh = new Lab(SMALL_SOC, policy, { checkpoints: false });
          for (const r of lab.records) fresh.apply(r.op);
          expect(recordData(lab)).toBe(recordData(fresh));
          expect(stateData(lab)).toBe(stateData(fresh));
        }),
        { seed: 20260501, numRuns: 60 },
      );
      expect(jumps).toBeGreaterThan(50);
      expect(restores).toBeGreaterThan(10); // checkpoints were really restored, not just boot replays
    });
  });
}

describe('Lab timeline', () => {
  const bind = (process: string, device = 'big'): Op => ({ op: 'bind', args: { process, device } });

  it('undo keeps the step for redo; a new step drops what was left to redo', () => {
    const lab = new Lab(SMALL_SOC, 'mainline', { checkpoints: { every: 2, takeShare: 1 } });
    for (const p of ['a', 'b', 'c', 'd', 'e']) lab.apply(bind(p));
    const d = lab.records.at(3)!.result;
    expect(lab.undo()!.index).toBe(4);
    expect(lab.undo()!.index).toBe(3);
    expect(lab.redoSteps().map((r) => r.index)).toEqual([3, 4]);
    expect(lab.timelineLength).toBe(5);
    expect(lab.redo()!.result).toEqual(d);
    lab.apply(bind('x'));
    expect(lab.redoSteps().toArray()).toEqual([]);
    expect(lab.records.map((r) => (r.op.args as { process: string }).process)).toEqual(['a', 'b', 'c', 'd', 'x']);
    expect(lab.redo()).toBeNull();
    // a checkpoint from the old continuation (after 'e', at 5) is not reused for the new one
    lab.jumpTo(1);
    lab.jumpTo(5);
    expect(lab.records.at(4)!.op).toEqual(bind('x'));
  });

  it('a rejected step keeps the steps to redo', () => {
    const lab = new Lab(SMALL_SOC, 'mainline');
    lab.apply(bind('a'));
    lab.apply(bind('b'));
    lab.undo();
    expect(lab.apply({ op: 'unbind', args: { process: 'nobody', device: 'big' } }).result.rejected).toBeDefined();
    expect(lab.redoSteps()).toHaveLength(1);
  });

  it('jumpTo refuses a step outside the timeline', () => {
    const lab = new Lab(SMALL_SOC, 'mainline');
    lab.apply(bind('a'));
    expect(() => lab.jumpTo(2)).toThrow(RangeError);
    expect(() => lab.jumpTo(-1)).toThrow(RangeError);
    expect(() => lab.jumpTo(0.5)).toThrow(RangeError);
  });

  it('takes checkpoints at the interval, and a lab without them still travels (replay from boot)', () => {
    const lab = new Lab(SMALL_SOC, 'mainline', { checkpoints: { every: 10, maxReplayMs: 1e9, takeShare: 1 } });
    const plain = new Lab(SMALL_SOC, 'mainline', { checkpoints: false });
    for (let i = 0; i < 35; i++) {
      lab.apply(bind(`p${i % 7}`, i % 2 ? 'big' : 'fnA'));
      plain.apply(bind(`p${i % 7}`, i % 2 ? 'big' : 'fnA'));
    }
    expect(lab.checkpointInfo()).toMatchObject({ count: 3, positions: [10, 20, 30], interval: 10 });
    expect(plain.checkpointInfo().count).toBe(0);
    lab.jumpTo(17);
    plain.jumpTo(17);
    expect(stateData(lab)).toBe(stateData(plain));
    expect(recordData(lab)).toBe(recordData(plain));
  });
});
