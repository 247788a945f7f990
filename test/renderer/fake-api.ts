/**
 * A fake transport for the renderer's tests, built from the contract: a real in-process LabService behind a
 * ClientApi. Every request is checked against the contract's input schema before it reaches the service (a renderer
 * that sends something malformed is recorded in `invalid`, and the tests assert it stays empty), and every answer
 * against the output schema. Answers are asynchronous and events arrive before the answer, as over the WebSocket.
 * Tests may hold back or drop events to exercise ordering and gaps.
 */
import { EVENTS, REQUESTS, makeClientApi, responseSchema, type ClientApi, type LabEvent, type RequestName } from '../../shared/contract.js';
import { LabService, type LabServiceOptions } from '../../src-main/host/service.js';

export interface FakeApi {
  api: ClientApi;
  service: LabService;
  calls: { name: RequestName; input: unknown }[];
  /** Requests whose input did not match the contract. */
  invalid: { name: string; input: unknown; message: string }[];
  /** Events delivered to the renderer. */
  delivered: LabEvent[];
  /** When set, decides per event: 'deliver' (default), 'drop', or 'hold' (kept in `held` until `release`). */
  filter: ((e: LabEvent) => 'deliver' | 'drop' | 'hold') | null;
  held: LabEvent[];
  release(): void;
  /** Replaces one request's handling (e.g. to return a canned error). */
  override: Partial<Record<RequestName, (input: unknown) => unknown>>;
}

export function fakeApi(opts: LabServiceOptions = {}): FakeApi {
  const service = new LabService(opts);
  const subs = new Set<(e: LabEvent) => void>();
  const fake: FakeApi = {
    api: null as unknown as ClientApi,
    service,
    calls: [],
    invalid: [],
    delivered: [],
    filter: null,
    held: [],
    release() {
      const h = fake.held.splice(0);
      for (const e of h) deliver(e);
    },
    override: {},
  };
  const deliver = (e: LabEvent): void => {
    // Events cross the transport as JSON and are checked like the client checks them.
    const copy = JSON.parse(JSON.stringify(e)) as LabEvent;
    EVENTS[copy.name].parse(copy.payload);
    fake.delivered.push(copy);
    for (const cb of subs) cb(copy);
  };
  service.subscribe((e) => {
    const what = fake.filter?.(e) ?? 'deliver';
    if (what === 'drop') return;
    if (what === 'hold') fake.held.push(e);
    else deliver(e);
  });
  fake.api = makeClientApi(
    async (name, input) => {
      fake.calls.push({ name, input });
      const check = REQUESTS[name].input.safeParse(input);
      if (!check.success) fake.invalid.push({ name, input, message: check.error.message });
      await Promise.resolve();
      const o = fake.override[name];
      const raw = o ? o(input) : service.handle(name, input);
      const res = JSON.parse(JSON.stringify(raw));
      responseSchema(REQUESTS[name].output).parse(res);
      return res;
    },
    (cb) => {
      subs.add(cb);
      return () => subs.delete(cb);
    },
  );
  return fake;
}
