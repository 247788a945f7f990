/**
 * Decoded names for what the state view carries about the SMMU: the driver's STE kind, and the raw 64-bit words of
 * STEs and CDs as the hardware model holds them in memory (high half first, as the kernel prints them).
 */

/** The STE as the view names it (`abort`, `bypass`, `s2`, `cdtable/<s1dss>`), in spec terms. */
export function decodeSte(label: unknown): { config: string; detail: string } {
  const s = typeof label === 'string' ? label : '?';
  if (s.startsWith('cdtable/')) {
    const dss = s.slice('cdtable/'.length);
    const dssText: Record<string, string> = {
      terminate: 'S1DSS=0b00 terminate: traffic without an SSID aborts',
      bypass: 'S1DSS=0b01 bypass: traffic without an SSID bypasses stage 1',
      ssid0: 'S1DSS=0b10 SSID0: traffic without an SSID uses CD 0',
    };
    return { config: 'Config=0b101 S1 translate (CD table)', detail: dssText[dss] ?? `S1DSS ${dss}` };
  }
  switch (s) {
    case 'abort':
      return { config: 'Config=0b000 abort', detail: 'all traffic aborts' };
    case 'bypass':
      return { config: 'Config=0b100 bypass', detail: 'no translation' };
    case 's2':
      return { config: 'Config=0b110 S2 translate', detail: 'stage 2 only (VFIO/iommufd)' };
    default:
      return { config: s, detail: '' };
  }
}

export function hex(n: unknown): string {
  return typeof n === 'number' ? `0x${n.toString(16)}` : '—';
}

/** The SSIDs a device can use for SVA: [1, max_pasids - 1] (SSID 0 is IOMMU_NO_PASID, the RID's). */
export function usableRange(maxPasids: unknown): { lo: number; hi: number } | null {
  return typeof maxPasids === 'number' && maxPasids > 1 ? { lo: 1, hi: maxPasids - 1 } : null;
}

/** `0xa00000000013202b` -> `0xa0000000_0013202b`: the two halves apart, easier to read against the spec's fields. */
export function splitDword(w: string): string {
  const m = /^0x([0-9a-f]{8})([0-9a-f]{8})$/i.exec(w);
  return m ? `0x${m[1]}_${m[2]}` : w;
}

/** A list of raw words, or null when the view does not carry them (a host without the hardware model). */
export function rawWords(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((w) => typeof w === 'string') ? (v as string[]) : null;
}

/** STE word 0 and 1 fields (arm-smmu-v3.h STRTAB_STE_0_* / STRTAB_STE_1_*) from the raw words. */
export function steFields(raw: string[] | null): { name: string; value: string }[] {
  if (!raw || raw.length < 2) return [];
  const w0 = BigInt(raw[0]!);
  const w1 = BigInt(raw[1]!);
  const f = (w: bigint, lo: number, bits: number): bigint => (w >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n);
  const config = Number(f(w0, 1, 3));
  const configName = ['abort', '?', '?', '?', 'bypass', 'S1 translate', 'S2 translate', 'nested'][config] ?? '?';
  return [
    { name: 'V', value: String(f(w0, 0, 1)) },
    { name: 'Config', value: `0b${config.toString(2).padStart(3, '0')} (${configName})` },
    { name: 'S1Fmt', value: String(f(w0, 4, 2)) },
    { name: 'S1ContextPtr', value: `0x${(f(w0, 6, 46) << 6n).toString(16)}` },
    { name: 'S1CDMax', value: String(f(w0, 59, 5)) },
    { name: 'S1DSS', value: String(f(w1, 0, 2)) },
    { name: 'S1STALLD', value: String(f(w1, 27, 1)) },
  ];
}

/** CD word 0 fields (CTXDESC_CD_0_*): V, the stall and record bits, ASID. */
export function cdFields(raw: string[] | null): { name: string; value: string }[] {
  if (!raw || raw.length < 2) return [];
  const w0 = BigInt(raw[0]!);
  const w1 = BigInt(raw[1]!);
  const f = (w: bigint, lo: number, bits: number): bigint => (w >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n);
  return [
    { name: 'V', value: String(f(w0, 31, 1)) },
    { name: 'T0SZ', value: String(f(w0, 0, 6)) },
    { name: 'AA64', value: String(f(w0, 41, 1)) },
    { name: 'S', value: String(f(w0, 44, 1)) },
    { name: 'R', value: String(f(w0, 45, 1)) },
    { name: 'A', value: String(f(w0, 46, 1)) },
    { name: 'ASID', value: String(f(w0, 48, 16)) },
    { name: 'TTB0', value: `0x${(f(w1, 4, 48) << 4n).toString(16)}` },
  ];
}

/**
 * Bytes given as a hex string (a step result's `data`) for display: space-separated bytes, the first `limit` shown
 * (`shown`, with "…" when cut) and all of them in `full`. Not hex: shown as it is.
 */
export function formatBytes(hexText: string, limit = 16): { shown: string; full: string; length: number } {
  const clean = hexText.replace(/^0x/i, '').replace(/\s+/g, '');
  if (!/^[0-9a-f]*$/i.test(clean) || clean.length % 2 !== 0) return { shown: hexText, full: hexText, length: 0 };
  const bytes = clean.toLowerCase().match(/../g) ?? [];
  const full = bytes.join(' ');
  const shown = bytes.length > limit ? `${bytes.slice(0, limit).join(' ')} …` : full;
  return { shown: bytes.length ? shown : '(none)', full, length: bytes.length };
}
