// A stand-in for the Electron preload (window.svalab) that serves a synthetic lab with the whole global PASID space
// in use: 2^20 - 1 PASIDs allocated, 10,000 processes holding one each (bound to gpu), the rest held by kernel
// PASIDs. It answers the contract's requests in the page, so a browser test can time the renderer's side of a step
// (patch -> screen) on a state far larger than the simulator can replay inside a test. Injected with addInitScript;
// `window.__fullSpaceMeta` (meta.info from the real LabService) is set by the test before this runs.
(() => {
  const SPACE = 1 << 20;
  const PROCS = 10000;
  const meta = window.__fullSpaceMeta;
  let seq = 0;
  const steps = [];
  const subs = new Set();
  const view = {
    policy: 'mainline',
    arch: 'arm64',
    enqcmd: false,
    asids: [1, 2],
    devices: {},
    groups: {},
    processes: {},
    mms: {},
    domains: { dma1: { type: 'DMA', asid: 1, users: 0, smmu: 'smmu0' } },
    bonds: {},
    kernel_pasids: {},
  };
  const header = (name, kind, sid, bits, fmt) => ({
    kind,
    smmu: 'smmu0',
    sid,
    group: name,
    max_pasids: 2 ** bits,
    ssid_bits: bits,
    stall_enabled: false,
    driver_pasid: false,
    ste: 'cdtable/ssid0',
    cd_table: { fmt, s1cdmax: bits, used_ssids: 0, l2: [] },
    wqs: {},
    driver_ida: null,
  });
  view.devices.accel = { ...header('accel', 'platform', 16, 2, 'linear'), cds: { 0: { asid: 1, kind: 's1', owner: 'dma1', s: true, r: true } }, pasid_array: {} };
  view.devices.gpu = { ...header('gpu', 'platform', 32, 20, '64k-l2'), cds: {}, pasid_array: {} };
  view.devices.dsa0 = { ...header('dsa0', 'dsa', 256, 20, '64k-l2'), cds: {}, pasid_array: {} };
  for (const d of Object.keys(view.devices)) view.groups[d] = { devices: [d], domain: 'dma1', pasid_array: {} };
  const gpu = view.devices.gpu;
  for (let i = 1; i <= PROCS; i++) {
    const mm = `p${i}/mm0`;
    view.processes[`p${i}`] = { pid: i, alive: true, mm, pasid: i, threads: { main: { pasid_activated: false, ia32_pasid: null } }, files: [{ device: 'gpu', wq: null, pasid: i, bond: `bond${i}` }] };
    view.mms[mm] = { mm_users: 1, mm_count: 2, pasid: i, pasid_global: true, sva_domains: [`sva${i}(${mm})`] };
    view.bonds[`bond${i}`] = { users: 1, dev: 'gpu', mm, pasid: i, domain: `sva${i}(${mm})` };
    gpu.pasid_array[i] = mm;
    gpu.cds[i] = { asid: 2 + i, kind: 'sva', owner: mm, s: false, r: true };
  }
  gpu.cd_table.used_ssids = PROCS;
  for (let p = PROCS + 1; p < SPACE; p++) view.kernel_pasids[`k${p}`] = { device: 'dsa0', pasid: p, from_ida: true, source: 'global' };
  const bytes = new Uint8Array(SPACE / 8).fill(0xff);
  bytes[0] = 0xfe; // PASID 0 (IOMMU_NO_PASID) is never allocated
  let b64 = '';
  for (let i = 0; i < bytes.length; i += 0x8000) b64 += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  const ida = { bits: 20, count: SPACE - 1, base64: btoa(b64) };
  const config = {
    arch: 'arm64',
    smmus: [{ name: 'smmu0', ssidsize: 20, sidsize: 16, cd2l: true, asid16: true, stall: true, sva: true, rfc_cap: true }],
    devices: [
      { name: 'accel', kind: 'platform', smmu: 'smmu0', sid: 16, pasid_bits: 2, stall: true, driver_pasid: true, kernel_pasid: false, rid_domain: 'dma' },
      { name: 'gpu', kind: 'platform', smmu: 'smmu0', sid: 32, pasid_bits: 20, stall: false, driver_pasid: false, kernel_pasid: false, rid_domain: 'dma' },
      { name: 'dsa0', kind: 'dsa', smmu: 'smmu0', sid: 256, pasid_bits: 20, stall: false, driver_pasid: false, kernel_pasid: false, rid_domain: 'dma' },
    ],
    groups: [],
  };
  const ok = (value) => Promise.resolve({ ok: true, value });
  const emit = (name, payload) => subs.forEach((cb) => cb({ name, payload }));

  /** A step in this synthetic lab: `bind <new process> gpu` fails with ENOSPC (the space is full); `exit pN` frees N. */
  function step(raw) {
    const [op] = Object.keys(raw);
    const args = raw[op];
    const index = steps.length;
    const patch = { ops: [], ida: { set: [], clear: [] }, asids: { set: [], clear: [] }, steps: { length: index, append: [] }, changed: { devices: [], processes: [], pasids: [] } };
    let result;
    if (op === 'bind') {
      const name = args.process;
      const mm = `${name}/mm0`;
      const pid = PROCS + index + 1;
      patch.ops.push({ op: 'set', path: ['processes', name], value: { pid, alive: true, mm, pasid: null, threads: { main: { pasid_activated: false, ia32_pasid: null } }, files: [] } });
      patch.ops.push({ op: 'set', path: ['mms', mm], value: { mm_users: 1, mm_count: 1, pasid: null, pasid_global: null, sva_domains: [] } });
      patch.changed.processes.push(name);
      patch.changed.devices.push(args.device);
      result = { ok: false, errno: 'ENOSPC', why: `global PASID IDA has no free id in [1, 1048575] for ${args.device}` };
    } else if (op === 'exit') {
      const name = args.process;
      const n = Number(name.slice(1));
      const mm = `${name}/mm0`;
      patch.ops.push({ op: 'set', path: ['processes', name], value: { ...view.processes[name], alive: false, files: [] } });
      patch.ops.push({ op: 'del', path: ['mms', mm] });
      patch.ops.push({ op: 'del', path: ['bonds', `bond${n}`] });
      patch.ops.push({ op: 'del', path: ['devices', 'gpu', 'pasid_array', String(n)] });
      patch.ops.push({ op: 'del', path: ['devices', 'gpu', 'cds', String(n)] });
      patch.ops.push({ op: 'set', path: ['devices', 'gpu', 'cd_table'], value: { ...gpu.cd_table, used_ssids: gpu.cd_table.used_ssids - 1 } });
      patch.ops.push({ op: 'del', path: ['groups', 'gpu', 'pasid_array', String(n)] });
      patch.ida.clear.push(n);
      patch.changed.processes.push(name);
      patch.changed.devices.push('gpu');
      patch.changed.pasids.push(n);
      result = { ok: true };
    } else {
      return Promise.resolve({ ok: false, error: { code: 'rejected', message: `the full-space stand-in only knows bind and exit, not ${op}` } });
    }
    // Keep this side's view in step (so that a later exit sees the process as it is).
    for (const o of patch.ops) {
      let cur = view;
      for (const k of o.path.slice(0, -1)) cur = cur[k] ?? (cur[k] = {});
      const last = o.path[o.path.length - 1];
      if (o.op === 'set') cur[last] = o.value;
      else delete cur[last];
    }
    const summary = { index, op: { op, args }, text: `${op} ${Object.entries(args).map(([k, v]) => `${k}=${v}`).join(' ')}`, note: null, result, findings: [] };
    steps.push(summary);
    patch.steps.append.push(summary);
    seq++;
    emit('lab.patch', { seq, patch });
    return ok({ seq, index, result, findings: [], patch });
  }

  window.svalab = {
    metaInfo: () => ok(meta),
    labSnapshot: () => ok({ seq, config, policy: 'mainline', scenario: 'full 2^20 space (synthetic)', steps: [...steps], bootFindings: [], bootProblems: [], view, ida }),
    labConfigure: () => Promise.resolve({ ok: false, error: { code: 'rejected', message: 'not in the full-space stand-in' } }),
    labStep: (input) => step(input.step),
    labUndo: () => ok({ seq, undone: null, patch: null }),
    labReset: () => ok({ seq }),
    labStepTo: () => ok({ seq }),
    labLoadScenario: () => Promise.resolve({ ok: false, error: { code: 'rejected', message: 'not in the full-space stand-in' } }),
    labTrace: (input) => ok({ step: input.step, records: [] }),
    onEvent: (cb) => (subs.add(cb), () => subs.delete(cb)),
  };
})();
