// @vitest-environment jsdom
// The findings panel: an isolation finding names the step that made it possible (an unmap that skipped the mmu
// notifier), and choosing that link selects the step, as choosing the finding selects the step that caused it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fireEvent, render } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import Findings from '../../src-renderer/components/Findings.svelte';
import { LabStore } from '../../src-renderer/lib/lab.svelte.js';
import { fakeApi } from './fake-api.js';

let stop: (() => void) | null = null;
afterEach(() => {
  stop?.();
  stop = null;
});

describe('Findings', () => {
  it('links an isolation finding to the unmap that made it possible', async () => {
    const fake = fakeApi();
    const lab = new LabStore(fake.api);
    await lab.start();
    stop = () => lab.stop();
    const text = readFileSync(join(process.cwd(), 'scenarios', 'hw-stale-tlb.yaml'), 'utf8'); // vitest runs from the repo root
    const r = fake.service.request('lab.loadScenario', { text, name: 'hw-stale-tlb.yaml', policy: 'mainline' });
    expect(r.ok).toBe(true);
    await lab.refresh();
    flushSync();
    const view = render(Findings, { props: { lab } });
    const causes = view.container.querySelectorAll<HTMLButtonElement>('button[data-cause-step]');
    expect(causes.length).toBeGreaterThan(0);
    // The scenario's unmap with notify: false is its step 6 (0-based index 6).
    const unmapIndex = 6;
    expect([...causes].every((b) => b.dataset.causeStep === String(unmapIndex))).toBe(true);
    expect(causes[0]!.textContent).toMatch(/made possible by #6 unmap/);
    lab.selectedStep = null;
    await fireEvent.click(causes[0]!);
    expect(lab.selectedStep).toBe(unmapIndex);
  });
});
