/** Event records against arm-smmu-v3.h EVTQ_* / EVT_ID_* (hand-written words), round trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEvent,
  encodeEvent,
  EVENT_IDS,
  eventNameOf,
  type EventName,
  type EventRecord,
} from '../../src-main/sim/hw/events.js';

const hex = (w: Uint32Array): string[] => Array.from(w, (x) => x.toString(16));
const words = (...w: number[]): string[] => w.map((x) => x.toString(16));

const BASE: EventRecord = {
  id: 'F_TRANSLATION',
  sid: 0,
  ssv: false,
  ssid: 0,
  stall: false,
  stag: 0,
  rnw: false,
  pnu: false,
  ind: false,
  addr: 0,
};

describe('event numbers (EVT_ID_*, kernel-semantics.md §1)', () => {
  it('the kernel header / §1 list', () => {
    expect(EVENT_IDS).toMatchObject({
      C_BAD_STREAMID: 0x02,
      F_STE_FETCH: 0x03,
      C_BAD_STE: 0x04,
      F_STREAM_DISABLED: 0x06,
      C_BAD_SUBSTREAMID: 0x08,
      F_CD_FETCH: 0x09,
      C_BAD_CD: 0x0a,
      F_WALK_EABT: 0x0b,
      F_TRANSLATION: 0x10,
      F_ADDR_SIZE: 0x11,
      F_ACCESS: 0x12,
      F_PERMISSION: 0x13,
      F_VMS_FETCH: 0x25,
    });
    expect(new Set(Object.values(EVENT_IDS)).size).toBe(Object.keys(EVENT_IDS).length);
    expect(eventNameOf(0x08)).toBe('C_BAD_SUBSTREAMID');
    expect(eventNameOf(0xff)).toBeUndefined();
  });
});

describe('event record encoding', () => {
  it('ID [7:0], SSV 11, SSID [31:12], SID [63:32]', () => {
    const e = encodeEvent({ ...BASE, id: 'C_BAD_SUBSTREAMID', sid: 0xabcdef01, ssv: true, ssid: 0xfffff });
    expect(hex(e)).toEqual(words(0xfffff808, 0xabcdef01, 0, 0, 0, 0, 0, 0));
  });
  it('STAG [15:0], STALL 31, PnU 33, InD 34, RnW 35 of dword 1', () => {
    expect(hex(encodeEvent({ ...BASE, stag: 0x1234, stall: true }))).toEqual(words(0x10, 0, 0x80001234, 0, 0, 0, 0, 0));
    expect(encodeEvent({ ...BASE, pnu: true })[3]).toBe(0x2);
    expect(encodeEvent({ ...BASE, ind: true })[3]).toBe(0x4);
    expect(encodeEvent({ ...BASE, rnw: true })[3]).toBe(0x8);
  });
  it('ADDR = all of dword 2; IPA [51:12] of dword 3', () => {
    expect(hex(encodeEvent({ ...BASE, addr: 0x1f_ffff_dead_beef }))).toEqual(
      words(0x10, 0, 0, 0, 0xdeadbeef, 0x1fffff, 0, 0),
    );
    expect(hex(encodeEvent({ ...BASE, ipa: 0xf_1234_5678_9fff }))).toEqual(
      words(0x10, 0, 0, 0, 0, 0, 0x56789000, 0xf1234),
    );
  });
  it('decode rejects unknown event numbers', () => {
    expect(() => decodeEvent(new Uint32Array(8).fill(0).map((_, i) => (i === 0 ? 0xfe : 0)))).toThrow(RangeError);
  });
  it('round trip', () => {
    const names = Object.keys(EVENT_IDS) as EventName[];
    const recArb: fc.Arbitrary<EventRecord> = fc
      .record({
        id: fc.constantFrom(...names),
        sid: fc.nat({ max: 0xffffffff }),
        ssv: fc.boolean(),
        ssid: fc.nat({ max: 0xfffff }),
        stall: fc.boolean(),
        stag: fc.nat({ max: 0xffff }),
        rnw: fc.boolean(),
        pnu: fc.boolean(),
        ind: fc.boolean(),
        addr: fc.maxSafeNat(),
        ipa: fc.option(fc.integer({ min: 1, max: 2 ** 40 - 1 }).map((x) => x * 4096), { nil: undefined }),
      })
      .map((r) => {
        const { ipa, ...rest } = r;
        return ipa === undefined ? rest : { ...rest, ipa };
      });
    fc.assert(fc.property(recArb, (e) => void expect(decodeEvent(encodeEvent(e))).toEqual(e)));
  });
});
