/**
 * Command encoder against arm-smmu-v3.h CMDQ_* and arm_smmu_cmdq_build_cmd() (hand-written words), round trips.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATC_INV_SIZE_ALL,
  CMD_OPCODES,
  cmdOpName,
  decodeCmd,
  encodeCmd,
  UNMODELLED_CMD_OPCODES,
  type Cmd,
} from '../../src-main/sim/hw/commands.js';

const hex = (w: Uint32Array): string[] => Array.from(w, (x) => x.toString(16));
const words = (...w: number[]): string[] => w.map((x) => x.toString(16));

describe('command opcodes (CMDQ_OP_*, kernel-semantics.md §1)', () => {
  it('numbers', () => {
    expect(CMD_OPCODES).toEqual({
      CFGI_STE: 0x3,
      CFGI_ALL: 0x4,
      CFGI_CD: 0x5,
      CFGI_CD_ALL: 0x6,
      TLBI_NH_ASID: 0x11,
      TLBI_NH_VA: 0x12,
      TLBI_NSNH_ALL: 0x30,
      ATC_INV: 0x40,
      PRI_RESP: 0x41,
      RESUME: 0x44,
      CMD_SYNC: 0x46,
    });
    expect(cmdOpName(0x05)).toBe('CFGI_CD');
    expect(cmdOpName(UNMODELLED_CMD_OPCODES.PREFETCH_CFG)).toBeUndefined();
    expect(cmdOpName(0xff)).toBeUndefined();
  });
});

describe('command encoding (arm_smmu_cmdq_build_cmd)', () => {
  it('CFGI_STE: SID [63:32], LEAF dword 1 bit 0', () => {
    expect(hex(encodeCmd({ op: 'CFGI_STE', sid: 0x12345, leaf: true }))).toEqual(words(0x3, 0x12345, 0x1, 0));
  });
  it('CFGI_CD: SSID [31:12], SID, LEAF', () => {
    expect(hex(encodeCmd({ op: 'CFGI_CD', sid: 7, ssid: 0xfffff, leaf: false }))).toEqual(
      words(0xfffff005, 7, 0, 0),
    );
  });
  it('CFGI_CD_ALL: SID only; CFGI_ALL: RANGE = 31', () => {
    expect(hex(encodeCmd({ op: 'CFGI_CD_ALL', sid: 9, ssid: 3, leaf: true }))).toEqual(words(0x6, 9, 0, 0));
    expect(hex(encodeCmd({ op: 'CFGI_ALL' }))).toEqual(words(0x4, 0, 31, 0));
  });
  it('TLBI_NH_ASID: VMID [47:32], ASID [63:48]', () => {
    expect(hex(encodeCmd({ op: 'TLBI_NH_ASID', asid: 1997, vmid: 0 }))).toEqual(words(0x11, 1997 * 0x10000, 0, 0));
    expect(hex(encodeCmd({ op: 'TLBI_NH_ASID', asid: 0xffff, vmid: 0xffff }))).toEqual(words(0x11, 0xffffffff, 0, 0));
  });
  it('TLBI_NH_VA: ASID, VMID, LEAF, VA [63:12]', () => {
    expect(hex(encodeCmd({ op: 'TLBI_NH_VA', asid: 2, vmid: 1, leaf: true, addr: 0x7fff_1234_5fff }))).toEqual(
      words(0x12, 0x00020001, 0x12345001, 0x7fff),
    );
  });
  it('TLBI_NSNH_ALL: opcode only', () => {
    expect(hex(encodeCmd({ op: 'TLBI_NSNH_ALL', asid: 4 }))).toEqual(words(0x30, 0, 0, 0));
  });
  it('ATC_INV: SSV bit 11, SSID, SID, SIZE [5:0], ADDR [63:12]', () => {
    expect(hex(encodeCmd({ op: 'ATC_INV', sid: 0x100, ssid: 3, ssv: true, size: ATC_INV_SIZE_ALL, addr: 0 }))).toEqual(
      words(0x3840, 0x100, 52, 0),
    );
    expect(hex(encodeCmd({ op: 'ATC_INV', sid: 1, ssv: false, size: 0, addr: 0x40_0000_1000 }))).toEqual(
      words(0x40, 1, 0x1000, 0x40),
    );
  });
  it('PRI_RESP: SSV, SSID, SID, GRPID [8:0], RESP [13:12] (DENY 0, FAIL 1, SUCC 2)', () => {
    expect(hex(encodeCmd({ op: 'PRI_RESP', sid: 5, ssid: 2, ssv: true, grpid: 0x1ff, resp: 'deny' }))).toEqual(
      words(0x2841, 5, 0x1ff, 0),
    );
    expect(encodeCmd({ op: 'PRI_RESP', resp: 'failure' })[2]).toBe(0x1000);
    expect(encodeCmd({ op: 'PRI_RESP', resp: 'success' })[2]).toBe(0x2000);
    expect(() => encodeCmd({ op: 'PRI_RESP', resp: 'retry' })).toThrow(RangeError);
  });
  it('RESUME: SID, RESP [13:12] (TERM 0, RETRY 1, ABORT 2), STAG [15:0] of dword 1', () => {
    expect(hex(encodeCmd({ op: 'RESUME', sid: 0x42, stag: 0xbeef, resp: 'retry' }))).toEqual(
      words(0x1044, 0x42, 0xbeef, 0),
    );
    expect(encodeCmd({ op: 'RESUME', resp: 'abort' })[0]).toBe(0x2044);
    expect(encodeCmd({ op: 'RESUME', resp: 'terminate' })[0]).toBe(0x44);
    expect(() => encodeCmd({ op: 'RESUME', resp: 'success' })).toThrow(RangeError);
  });
  it('CMD_SYNC: CS = SEV, MSH = ISH, MSIATTR = OIWB', () => {
    expect(hex(encodeCmd({ op: 'CMD_SYNC' }))).toEqual(words(0x0fc02046, 0, 0, 0));
  });
  it('decode rejects unmodelled and illegal opcodes', () => {
    expect(() => decodeCmd(new Uint32Array([0x01, 0, 0, 0]))).toThrow(RangeError);
    expect(() => decodeCmd(new Uint32Array([0x3044, 0, 0, 0]))).toThrow(RangeError); // RESUME resp 3
  });
});

const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const page = fc.integer({ min: 0, max: 2 ** 41 - 1 }).map((x) => x * 4096);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('CFGI_STE' as const), sid: u(32), leaf: fc.boolean() }),
  fc.record({ op: fc.constant('CFGI_CD' as const), sid: u(32), ssid: u(20), leaf: fc.boolean() }),
  fc.record({ op: fc.constant('CFGI_CD_ALL' as const), sid: u(32) }),
  fc.record({ op: fc.constantFrom('CFGI_ALL' as const, 'TLBI_NSNH_ALL' as const, 'CMD_SYNC' as const) }),
  fc.record({ op: fc.constant('TLBI_NH_ASID' as const), asid: u(16), vmid: u(16) }),
  fc.record({ op: fc.constant('TLBI_NH_VA' as const), asid: u(16), vmid: u(16), leaf: fc.boolean(), addr: page }),
  fc.record({
    op: fc.constant('ATC_INV' as const),
    sid: u(32),
    ssid: u(20),
    ssv: fc.boolean(),
    size: u(6),
    addr: page,
  }),
  fc.record({
    op: fc.constant('PRI_RESP' as const),
    sid: u(32),
    ssid: u(20),
    ssv: fc.boolean(),
    grpid: u(9),
    resp: fc.constantFrom('success' as const, 'deny' as const, 'failure' as const),
  }),
  fc.record({
    op: fc.constant('RESUME' as const),
    sid: u(32),
    stag: u(16),
    resp: fc.constantFrom('retry' as const, 'abort' as const, 'terminate' as const),
  }),
);

describe('command round trip', () => {
  it('decodeCmd(encodeCmd(c)) == c for the fields each opcode carries', () => {
    fc.assert(fc.property(cmdArb, (c) => void expect(decodeCmd(encodeCmd(c))).toEqual(c)));
  });
});
