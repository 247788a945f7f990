// @vitest-environment jsdom
// The hardware the views now carry: the SMMU's ID register features (and why SVA is off), its PRI queue with the
// page requests and the driver's PRI_RESP deny, and a PCI function's ATS/PRI capabilities and ATC. Each is checked
// after a scenario loads (a full refresh) and again after steps applied through the store, so the patches a step
// sends (not only the snapshot) keep them fresh.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import DeviceView from '../../src-renderer/components/DeviceView.svelte';
import SmmuView from '../../src-renderer/components/SmmuView.svelte';
import { LabStore } from '../../src-renderer/lib/lab.svelte.js';
import { fakeApi, type FakeApi } from './fake-api.js';

let stop: (() => void) | null = null;
afterEach(() => {
  stop?.();
  stop = null;
});

/** A scenario file of the repository, optionally cut to its first `steps` steps (vitest runs from the repo root). */
function scenario(file: string, steps?: number): string {
  const text = readFileSync(join(process.cwd(), 'scenarios', file), 'utf8');
  if (steps === undefined) return text;
  const doc = parse(text) as { steps: unknown[] };
  doc.steps = doc.steps.slice(0, steps);
  return stringify(doc);
}

async function labWith(file: string, steps?: number): Promise<{ lab: LabStore; fake: FakeApi }> {
  const fake = fakeApi();
  const lab = new LabStore(fake.api);
  await lab.start();
  stop = () => lab.stop();
  const r = fake.service.request('lab.loadScenario', { text: scenario(file, steps), name: file, policy: 'mainline' });
  expect(r.ok).toBe(true);
  await lab.refresh();
  flushSync();
  return { lab, fake };
}

/** Applies a step through the store (the answer's patch, as the bench does) and lets the views update. */
async function step(lab: LabStore, raw: unknown): Promise<void> {
  const r = await lab.step(raw);
  expect(r.ok, JSON.stringify(raw)).toBe(true);
  flushSync();
}

const text = (el: Element | null | undefined): string => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();

function priRows(c: HTMLElement): { cells: string[]; log: string }[] {
  return [...c.querySelectorAll('[data-testid="priq-smmu0"] tbody[data-pri-entry]')].map((tb) => ({
    cells: [...tb.querySelectorAll('tr:first-child td')].map((td) => text(td)),
    log: text(tb.querySelector('tr.log')),
  }));
}

describe('SmmuView: ID register features and the PRI queue', () => {
  it('shows hw-pri-deny: ATS and PRI set, both page requests with PRI_RESP deny and the driver\'s log line', async () => {
    const { lab, fake } = await labWith('hw-pri-deny.yaml');
    const view = render(SmmuView, { props: { lab } });
    const c = view.container;
    const feat = (k: string): string => text(c.querySelector(`[data-testid="features-smmu0"] [data-feature="${k}"]`));
    expect(feat('st_level')).toBe('ST_LEVEL 2-level');
    expect(feat('oas')).toBe('OAS 48 bits');
    expect(feat('ats')).toBe('ATS yes');
    expect(feat('pri')).toBe('PRI yes');
    expect(feat('sva')).toBe('SVA yes');
    expect(c.querySelector('[data-testid="sva-missing-smmu0"]')).toBeNull();

    const head = [...c.querySelectorAll('h4')].find((h) => h.textContent?.startsWith('PRI queue'));
    expect(text(head)).toBe('PRI queue capacity 256, produced 2, pending 0, overflowed 0');
    const rows = priRows(c);
    expect(rows).toEqual([
      {
        cells: ['0x200', '1', '0x401000', 'R', '0', 'yes', 'PRI_RESP deny'],
        log: 'unexpected PRI request received: sid 0x00000200.0x00001: [0L] unprivileged R access at iova 0x0000000000401000',
      },
      {
        cells: ['0x200', '1', '0x401000', 'W', '1', 'yes', 'PRI_RESP deny'],
        log: 'unexpected PRI request received: sid 0x00000200.0x00001: [1L] unprivileged W access at iova 0x0000000000401000',
      },
    ]);
    // The same answers went down the command queue.
    expect(text(c.querySelector('[data-testid="cmdq-smmu0"]'))).toContain('PRI_RESP sid=0x200 ssid=1 ssv=1 grpid=1 resp=deny');
    expect(fake.invalid).toEqual([]);
  });

  it('a step that sends a page request adds it to the PRI queue on screen (through the step\'s patch)', async () => {
    // hw-pri-deny up to GPU's successful DMA to the populated page: a PRI queue, empty.
    const { lab, fake } = await labWith('hw-pri-deny.yaml', 5);
    const view = render(SmmuView, { props: { lab } });
    const c = view.container;
    expect(text(c.querySelector('[data-testid="priq-smmu0"]'))).toBe('no page requests');
    expect(priRows(c)).toEqual([]);

    const refreshes = fake.calls.filter((x) => x.name === 'lab.snapshot').length;
    expect(refreshes).toBeGreaterThan(0);
    await step(lab, { dma: { device: 'gpu', process: 'p', va: 0x401000, length: 4 } });
    expect(fake.calls.filter((x) => x.name === 'lab.snapshot').length).toBe(refreshes); // a patch, not a reload
    const head = [...c.querySelectorAll('h4')].find((h) => h.textContent?.startsWith('PRI queue'));
    expect(text(head)).toContain('produced 1,');
    const rows = priRows(c);
    expect(rows.map((r) => r.cells)).toEqual([['0x200', '1', '0x401000', 'R', '0', 'yes', 'PRI_RESP deny']]);
    expect(rows[0]!.log).toContain('unexpected PRI request received: sid 0x00000200.0x00001: [0L]');

    await step(lab, { dma: { device: 'gpu', process: 'p', va: 0x401800, length: 4, write: true, data: '01' } });
    expect(priRows(c).map((r) => r.cells[4])).toEqual(['0', '1']);
    expect(fake.invalid).toEqual([]);
  });

  it('says why SVA is off (hw-oas: OAS 40 on narrow) and shows no PRI queue without IDR0.PRI', async () => {
    const { lab } = await labWith('hw-oas.yaml');
    const view = render(SmmuView, { props: { lab } });
    const c = view.container;
    expect(text(c.querySelector('[data-testid="features-narrow"] [data-feature="oas"]'))).toBe('OAS 40 bits');
    expect(text(c.querySelector('[data-testid="features-narrow"] [data-feature="sva"]'))).toBe('SVA no');
    expect(text(c.querySelector('[data-testid="features-narrow"] [data-feature="pri"]'))).toBe('PRI no');
    expect(text(c.querySelector('[data-testid="sva-missing-narrow"]'))).toBe(
      "SVA unsupported: arm_smmu_sva_supported(): SMMU_IDR5.OAS is 40 bits, below the CPU's 48-bit PA range (ID_AA64MMFR0_EL1.PARange)",
    );
    expect(text(c.querySelector('[data-testid="features-wide"] [data-feature="oas"]'))).toBe('OAS 52 bits');
    expect(c.querySelector('[data-testid="sva-missing-wide"]')).toBeNull();
    expect(c.querySelector('[data-testid="priq-narrow"]')).toBeNull();
    expect([...c.querySelectorAll('h4')].some((h) => h.textContent?.startsWith('PRI queue'))).toBe(false);
  });
});

describe('DeviceView: PCIe ATS/PRI and the ATC', () => {
  const atc = (c: HTMLElement, k: string): string => text(c.querySelector(`[data-testid="atc"] [data-atc="${k}"]`));

  it('shows hw-ats: NIC with ATS enabled, no PRI, and its ATC after the scenario', async () => {
    const { lab } = await labWith('hw-ats.yaml');
    const view = render(DeviceView, { props: { lab, selected: 'nic', onselect: () => undefined } });
    const c = view.container;
    expect(text(c.querySelector('[data-testid="pci-caps"] [data-cap="ats"]'))).toBe('ATS capable, enabled (STE.EATS TRANS)');
    expect(text(c.querySelector('[data-testid="pci-caps"] [data-cap="pri"]'))).toBe('PRI not capable');
    const v = lab.device('nic')!.pci as { atc: Record<string, number> };
    expect(v.atc.entries).toBe(1); // the stale entry the scenario ends on
    expect(atc(c, 'entries')).toBe(String(v.atc.entries));
    expect(atc(c, 'hit')).toBe(String(v.atc.hit));
    expect(atc(c, 'miss')).toBe(String(v.atc.miss));
    expect(atc(c, 'invalidations')).toBe(String(v.atc.invalidations));
    expect(atc(c, 'dropped')).toBe(String(v.atc.dropped));
    expect(Number(atc(c, 'hit'))).toBeGreaterThan(0);
  });

  it('follows the ATC step by step: a Translation Request fills it, a hit counts, the notifier\'s ATC_INV empties it', async () => {
    // hw-ats up to the bind: ATS on, the ATC flushed at attach and at the bind, nothing cached.
    const { lab } = await labWith('hw-ats.yaml', 3);
    const view = render(DeviceView, { props: { lab, selected: 'nic', onselect: () => undefined } });
    const c = view.container;
    expect([atc(c, 'entries'), atc(c, 'hit'), atc(c, 'miss'), atc(c, 'invalidations')]).toEqual(['0', '0', '0', '2']);
    await step(lab, { dma: { device: 'nic', process: 'p', va: 0x400000, length: 4 } });
    expect([atc(c, 'entries'), atc(c, 'hit'), atc(c, 'miss')]).toEqual(['1', '0', '1']);
    await step(lab, { dma: { device: 'nic', process: 'p', va: 0x400020, length: 4 } });
    expect([atc(c, 'entries'), atc(c, 'hit'), atc(c, 'miss')]).toEqual(['1', '1', '1']);
    await step(lab, { unmap: { process: 'p', va: 0x400000, length: 0x1000, notify: true } });
    expect([atc(c, 'entries'), atc(c, 'invalidations'), atc(c, 'dropped')]).toEqual(['0', '3', '1']);
  });

  it('shows PRI on GPU (hw-pri-deny) and no PCIe lines for a platform device', async () => {
    const { lab } = await labWith('hw-pri-deny.yaml');
    const view = render(DeviceView, { props: { lab, selected: 'gpu', onselect: () => undefined } });
    expect(text(view.container.querySelector('[data-testid="pci-caps"] [data-cap="pri"]'))).toBe('PRI enabled');
    view.unmount();
    const { lab: lab2 } = await labWith('hw-oas.yaml');
    const v2 = render(DeviceView, { props: { lab: lab2, selected: 'acc', onselect: () => undefined } });
    expect(v2.container.querySelector('[data-testid="device-head"]')).not.toBeNull();
    expect(v2.container.querySelector('[data-testid="pci-caps"]')).toBeNull();
    expect(v2.container.querySelector('[data-testid="atc"]')).toBeNull();
  });
});
