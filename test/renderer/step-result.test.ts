// @vitest-environment jsdom
// The timeline's result line (StepResult.svelte): a step's events by name, its data as hex, the pages it reached,
// and an isolation failure as a link to its finding; and the same results in the status line (describeStep).
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../../src-renderer/App.svelte';
import StepResult from '../../src-renderer/components/StepResult.svelte';
import { formatBytes } from '../../src-renderer/lib/decode.js';
import { describeStep } from '../../src-renderer/lib/lab.svelte.js';
import { fakeApi } from './fake-api.js';
import { fakeConnection, installCanvas } from './helpers.js';

beforeEach(() => {
  installCanvas();
  localStorage.clear();
});

const stray = {
  ok: true,
  event: 'F_TRANSLATION',
  events: ['C_BAD_CD', 'F_TRANSLATION'],
  data: 'deadbeef00112233445566778899aabbccdd',
  isolation: 'DMA from gpu for p1/mm0 (SSID 4) reached PA 0x8000, which is p2/mm0',
  reached: [{ va: 0x1000, pa: 0x8000, owner: 'p2/mm0' }],
};

describe('StepResult', () => {
  it('shows the events by name (the terminating one marked), the data as hex, the pages reached, and the isolation failure as a finding link', async () => {
    const onfinding = vi.fn();
    render(StepResult, { props: { step: 3, result: stray, onfinding } });
    expect(screen.getByTestId('result-head').textContent).toBe('ok');
    const events = screen.getByTestId('result-events');
    expect([...events.querySelectorAll('.ev')].map((e) => e.textContent)).toEqual(['C_BAD_CD', 'F_TRANSLATION']);
    expect(events.querySelector('.ev.terminal')!.textContent).toBe('F_TRANSLATION');
    const data = screen.getByTestId('result-data');
    expect(data.textContent).toContain('de ad be ef 00 11 22 33 44 55 66 77 88 99 aa bb …');
    expect(data.querySelector('[title]')!.getAttribute('title')).toBe('18 bytes: de ad be ef 00 11 22 33 44 55 66 77 88 99 aa bb cc dd');
    expect(screen.getByTestId('result-reached').textContent).toContain('VA 0x1000 → PA 0x8000');
    expect(screen.getByTestId('result-reached').textContent).toContain('(p2/mm0)');
    const link = screen.getByTestId('isolation-link');
    expect(link.textContent).toBe(stray.isolation);
    await fireEvent.click(link);
    expect(onfinding).toHaveBeenCalledWith(3, 'isolation');
  });

  it('a failed step: errno and why; no event recorded says so; nothing else is shown', () => {
    render(StepResult, { props: { step: 0, result: { ok: false, errno: 'EFAULT', why: 'bad SSID', event: null, events: [] } } });
    expect(screen.getByTestId('result-head').textContent).toBe('EFAULT: bad SSID');
    expect(screen.getByTestId('result-head').classList.contains('err')).toBe(true);
    expect(screen.getByTestId('result-events').textContent).toContain('none');
    expect(screen.queryByTestId('result-data')).toBeNull();
    expect(screen.queryByTestId('result-isolation')).toBeNull();
  });

  it('a step without DMA fields shows only its outcome', () => {
    render(StepResult, { props: { step: 0, result: { ok: true, pasid: 4 } } });
    expect(screen.getByTestId('result-head').textContent).toBe('ok, PASID 4');
    expect(screen.queryByTestId('result-events')).toBeNull();
  });
});

describe('the result in the status line and the bytes', () => {
  it('describeStep appends the events, the data and the isolation failure', () => {
    expect(describeStep(3, 'dma gpu', stray)).toBe(
      `#3 dma gpu -> ok; events C_BAD_CD, F_TRANSLATION; data de ad be ef 00 11 22 33 44 55 66 77 88 99 aa bb …; isolation: ${stray.isolation}`,
    );
    expect(describeStep(0, 'bind app accel', { ok: false, errno: 'ENOSPC', why: 'full' })).toBe('#0 bind app accel -> ENOSPC: full');
  });

  it('formatBytes groups hex bytes and leaves other text alone', () => {
    expect(formatBytes('0xABcd')).toEqual({ shown: 'ab cd', full: 'ab cd', length: 2 });
    expect(formatBytes('')).toEqual({ shown: '(none)', full: '', length: 0 });
    expect(formatBytes('xyz').shown).toBe('xyz');
  });
});

describe('in the bench', () => {
  it('a DMA at an SSID past the CD table: its event in the timeline row, the result line and the status line', async () => {
    render(App, { props: { connection: fakeConnection(fakeApi()) } });
    await screen.findByTestId('step');
    const input = screen.getByTestId('command-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'dma accel ssid=7 va=0x1000 length=8' } });
    await fireEvent.click(screen.getByTestId('step'));
    await waitFor(() => expect(screen.getByTestId('outcome').textContent).toContain('C_BAD_SUBSTREAMID'));
    expect(document.querySelector('[data-step="0"]')!.textContent).toContain('C_BAD_SUBSTREAMID');
    await waitFor(() => expect(screen.getByTestId('result-events').textContent).toContain('C_BAD_SUBSTREAMID'));
  });
});
