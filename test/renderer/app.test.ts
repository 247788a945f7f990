// @vitest-environment jsdom
// The whole bench against a real LabService behind the fake transport: what a person sees and can do.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import App from '../../src-renderer/App.svelte';
import { fakeApi, type FakeApi } from './fake-api.js';
import { fakeConnection, installCanvas, type CanvasLog } from './helpers.js';

let canvas: CanvasLog;
beforeEach(() => {
  canvas = installCanvas();
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});

async function bench(fake: FakeApi = fakeApi()): Promise<FakeApi> {
  render(App, { props: { connection: fakeConnection(fake) } });
  await screen.findByTestId('step');
  return fake;
}

const byTest = (id: string): HTMLElement => screen.getByTestId(id);

async function typeCommand(text: string): Promise<HTMLInputElement> {
  const input = byTest('command-input') as HTMLInputElement;
  input.focus();
  await fireEvent.input(input, { target: { value: text } });
  return input;
}

describe('the bench', () => {
  it("starts on the seed's SoC: the accelerator selected, its 3 usable SSIDs all taken in the global IDA", async () => {
    const fake = await bench();
    expect(byTest('policy').textContent).toBe('mainline');
    expect(byTest('ida-count').textContent).toBe('3 allocated');
    expect(document.querySelector('[data-device-tab="accel"]')!.getAttribute('aria-selected')).toBe('true');
    expect(byTest('usable-range').textContent).toBe('1..3 (3)');
    expect(byTest('ida-free').textContent).toBe('0 free in 1..3: no global PASID left in this range');
    expect(byTest('pasid-usable-accel').textContent).toContain('2 bits → 3 usable');
    expect(byTest('cd-table').textContent).toContain('S1CDMax 2');
    expect(byTest('ste-raw').textContent).toMatch(/STE @ 0x[0-9a-f]+/); // accel's STE from the hardware model
    expect(fake.invalid).toEqual([]);
  });

  it("shows the seed's failure in one click: ENOSPC in the status line, the timeline and the trace", async () => {
    const fake = await bench();
    await fireEvent.click(byTest('seed-failure'));
    await waitFor(() => expect(byTest('outcome').textContent).toContain('ENOSPC'));
    expect(byTest('outcome').textContent).toContain('#0 bind process=app device=accel');
    const row = document.querySelector('[data-step="0"]')!;
    expect(row.textContent).toContain('ENOSPC');
    expect(row.classList.contains('sel')).toBe(true);
    await waitFor(() => expect(byTest('trace').textContent).toContain('iommu_alloc_global_pasid'));
    expect(byTest('trace').textContent).toContain('IOMMU_PASID_INVALID');
    expect(fake.calls.some((c) => c.name === 'lab.trace')).toBe(true);
  });

  it("the seed's failure resets a changed lab to the seed's SoC under mainline before its step", async () => {
    const fake = await bench();
    const meta = fake.service.request('meta.info', {});
    if (!meta.ok) throw new Error(meta.error.message);
    // A changed lab: another policy, and a step applied.
    await fireEvent.change(byTest('policy-select'), { target: { value: 'driver-pasid' } });
    await fireEvent.click(byTest('apply-soc'));
    await waitFor(() => expect(byTest('policy').textContent).toBe('driver-pasid'));
    await typeCommand('bind p1 gpu');
    await fireEvent.click(byTest('step'));
    await waitFor(() => expect(byTest('outcome').textContent).toContain('#0 bind process=p1 device=gpu -> ok'));

    await fireEvent.click(byTest('seed-failure'));
    await waitFor(() => expect(byTest('outcome').textContent).toContain('#0 bind process=app device=accel -> ENOSPC'));
    expect(byTest('policy').textContent).toBe('mainline');
    expect(byTest('ida-count').textContent).toBe('3 allocated');
    expect(document.querySelector('[data-step="1"]')).toBeNull();
    const configure = fake.calls.filter((c) => c.name === 'lab.configure').at(-1)!;
    expect(configure.input).toEqual({ soc: meta.value.defaultSoc, policy: 'mainline' });
    expect(fake.invalid).toEqual([]);
  });

  it("the selected device's header follows its patches: the accelerator's contexts after a bind", async () => {
    await bench();
    await fireEvent.change(byTest('policy-select'), { target: { value: 'driver-pasid' } });
    await fireEvent.click(byTest('apply-soc'));
    await waitFor(() => expect(byTest('policy').textContent).toBe('driver-pasid'));
    await waitFor(() => expect(byTest('accel-contexts').textContent).toContain('0 of 3 in use'));
    await typeCommand('bind app accel');
    await fireEvent.click(byTest('step'));
    await waitFor(() => expect(byTest('outcome').textContent).toContain('ok, PASID 1'));
    // The device object is patched in place; the view must still show the new register.
    await waitFor(() => expect(byTest('accel-contexts').textContent).toContain('1 of 3 in use'));
    expect(byTest('accel-contexts').textContent).toContain('SSID register 1');
  });

  it('completes and applies a step from the command bar, and highlights what it changed', async () => {
    await bench();
    const input = await typeCommand('bi');
    await waitFor(() => expect(byTest('completions').textContent).toContain('bind <process> <device>'));
    await fireEvent.keyDown(input, { key: 'Tab' });
    expect(input.value).toBe('bind ');
    await fireEvent.input(input, { target: { value: 'bind p1 ds' } });
    await fireEvent.keyDown(input, { key: 'a' });
    await waitFor(() => expect(within(byTest('completions')).getAllByRole('option').map((o) => o.textContent?.trim().split(' ')[0])).toEqual(['dsa0', 'dsa1']));
    await fireEvent.keyDown(input, { key: 'Tab' });
    expect(input.value).toBe('bind p1 dsa0 ');
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(byTest('outcome').textContent).toContain('ok, PASID 4'));
    expect(input.value).toBe('');
    // The view follows the change to dsa0; SSID 4 is highlighted, SSID 0 is not.
    await waitFor(() => expect(document.querySelector('[data-device-tab="dsa0"]')!.getAttribute('aria-selected')).toBe('true'));
    const r4 = document.querySelector('[data-testid="ssid-rows"] [data-ssid="4"]')!;
    expect(r4.textContent).toContain('p1/mm0');
    expect(r4.classList.contains('changed')).toBe(true);
    expect(document.querySelector('[data-testid="ssid-rows"] [data-ssid="0"]')!.classList.contains('changed')).toBe(false);
  });

  it('shows the error of a step the lab refuses next to the command, and applies nothing', async () => {
    const fake = await bench();
    const input = await typeCommand('bind p1 nosuch');
    await fireEvent.keyDown(input, { key: 'Escape' });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(byTest('command-error').textContent).toContain("unknown device 'nosuch'"));
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(fake.service.current.records).toHaveLength(0);
    await typeCommand('bind p1');
    await fireEvent.keyDown(input, { key: 'Escape' });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(byTest('command-error').textContent).toContain('bind needs device'));
  });

  it('F10 steps what the command bar holds and Shift+F10 undoes it', async () => {
    const fake = await bench();
    await typeCommand('bind p1 gpu');
    await fireEvent.keyDown(window, { key: 'F10' });
    await waitFor(() => expect(fake.service.current.records).toHaveLength(1));
    await waitFor(() => expect(byTest('ida-count').textContent).toBe('4 allocated'));
    await fireEvent.keyDown(window, { key: 'F10', shiftKey: true });
    await waitFor(() => expect(fake.service.current.records).toHaveLength(0));
    await waitFor(() => expect(byTest('ida-count').textContent).toBe('3 allocated'));
    // the undone step stays in the timeline as the step to redo, not as an applied one
    expect(document.querySelector('[data-step="0"]')!.hasAttribute('data-future')).toBe(true);
    expect(document.querySelectorAll('[data-step]:not([data-future]):not([data-step="-1"])')).toHaveLength(0);
  });

  it('the process view shows the PASID, the bond with its users and mm_count', async () => {
    await bench();
    const input = await typeCommand('bind p1 dsa0');
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(byTest('outcome').textContent).toContain('PASID 4'));
    await fireEvent.click(byTest('tab-processes'));
    await waitFor(() => expect(byTest('process-pasid').textContent).toBe('4'));
    expect(byTest('mm-count').textContent).toBe('2');
    const detail = byTest('process-detail');
    expect(detail.textContent).toContain('bond1');
    expect(within(detail).getByRole('table').textContent).toMatch(/dsa0.*4.*bond1.*1/s);
    expect(document.querySelector('[data-process="p1"]')!.classList.contains('changed')).toBe(true);
  });

  it('a finding jumps to the step that caused it (rfc-v1: a per-device PASID that the kernel holds globally)', async () => {
    const fake = fakeApi({ policy: 'rfc-v1' });
    await bench(fake);
    const input = await typeCommand('bind p0 gpu');
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(Number(byTest('finding-count').textContent)).toBeGreaterThan(0));
    const input2 = await typeCommand('bind p2 dsa1');
    await fireEvent.keyDown(input2, { key: 'Enter' });
    await waitFor(() => expect(document.querySelector('[data-step="1"]')!.classList.contains('sel')).toBe(true));
    const finding = document.querySelector('[data-finding-step="0"]') as HTMLElement;
    expect(finding.textContent).toContain('global-pasid-exclusive');
    await fireEvent.click(finding);
    await waitFor(() => expect(document.querySelector('[data-step="0"]')!.classList.contains('sel')).toBe(true));
    expect(document.querySelector('[data-step="1"]')!.classList.contains('sel')).toBe(false);
  });

  it('redraws only the changed pixels of the PASID space after a step', async () => {
    await bench();
    await waitFor(() => expect(canvas.puts.length).toBeGreaterThan(0));
    canvas.puts.length = 0;
    const input = await typeCommand('bind p1 gpu');
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(canvas.puts.length).toBe(1));
    expect(canvas.puts).toEqual([[4, 0, 1, 1]]); // PASID 4: row 0, column 4, one pixel
    await fireEvent.keyDown(window, { key: 'F10', shiftKey: true });
    await waitFor(() => expect(canvas.puts).toEqual([[4, 0, 1, 1], [4, 0, 1, 1]]));
  });

  it('the PASID canvas is keyboard reachable: arrows move a cursor whose tooltip names the owner', async () => {
    await bench();
    const c = byTest('pasid-canvas');
    c.focus();
    await fireEvent.keyDown(c, { key: 'ArrowRight' }); // from PASID 0 to 1
    await waitFor(() => expect(byTest('pasid-tip').textContent).toBe('PASID 1: kernel PASID dsa0-kernel (dsa0)'));
    await fireEvent.keyDown(c, { key: 'ArrowRight' });
    await fireEvent.keyDown(c, { key: 'ArrowRight' });
    await fireEvent.keyDown(c, { key: 'ArrowRight' });
    await waitFor(() => expect(byTest('pasid-tip').textContent).toBe('PASID 4: free'));
    await fireEvent.keyDown(c, { key: '-' });
    expect(byTest('zoom').textContent).toBe('16×');
  });

  it('shows the STE and a CD word by word, decoded, and the SMMU queues with the commands and events of a step', async () => {
    await bench();
    const input = await typeCommand('bind p1 dsa0');
    await fireEvent.keyDown(input, { key: 'Escape' });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(byTest('outcome').textContent).toContain('PASID 4'));
    const ste = byTest('ste-raw');
    expect(ste.querySelectorAll('.w')).toHaveLength(8);
    expect(ste.textContent).toMatch(/Config 0b101 \(S1 translate\)/);
    expect(ste.textContent).toContain('S1CDMax 20');
    // The CD at SSID 4: its ASID field in the raw words equals the ASID the driver reports.
    const row = document.querySelector('[data-testid="ssid-rows"] [data-ssid="4"]') as HTMLElement;
    const asid = row.querySelectorAll('span')[3]!.textContent!;
    await fireEvent.click(row);
    const cd = await screen.findByTestId('cd-raw');
    expect(cd.textContent).toContain('CD 4 @ 0x');
    expect(cd.textContent).toContain(`ASID ${asid}`);
    expect(cd.textContent).toContain('V 1');
    // The SMMU: the CFGI_CD for SID 0x100 SSID 4, then a DMA with an SSID beyond accel's CD table raises an event.
    await fireEvent.click(byTest('tab-smmu'));
    expect(byTest('cmdq-smmu0').textContent).toContain('CFGI_CD sid=0x100 ssid=4');
    expect(byTest('evtq-smmu0').textContent).toContain('no events');
    const i2 = await typeCommand('dma accel ssid=7 va=0x1000 length=8');
    await fireEvent.keyDown(i2, { key: 'Escape' });
    await fireEvent.keyDown(i2, { key: 'Enter' });
    await waitFor(() => expect(byTest('evtq-smmu0').textContent).toContain('C_BAD_SUBSTREAMID'));
    expect(byTest('evtq-smmu0').textContent).toMatch(/sid=0x10 .*ssid=7/);
  });

  it('toggles light and dark themes and remembers the choice', async () => {
    await bench();
    const t = byTest('theme');
    await fireEvent.click(t);
    expect(document.documentElement.dataset.theme).toBe('light');
    await fireEvent.click(t);
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(localStorage.getItem('svalab.theme')).toBe('dark');
    await fireEvent.click(t);
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });

  it('runs a scenario file from the file picker', async () => {
    const fake = await bench();
    const text = 'name: picked\nsoc:\n  smmus: [{ name: s }]\n  devices: [{ name: d, smmu: s, sid: 1, pasid_bits: 3 }]\nsteps:\n  - bind: { process: a, device: d }\n';
    const file = new File([text], 'picked.yaml', { type: 'text/yaml' });
    await fireEvent.change(byTest('scenario-file'), { target: { files: [file] } });
    await waitFor(() => expect(byTest('outcome').textContent).toContain('loaded picked.yaml: 1 steps'));
    expect(fake.calls.find((c) => c.name === 'lab.loadScenario')!.input).toEqual({ name: 'picked.yaml', text });
    await waitFor(() => expect(document.querySelector('[data-device-tab="d"]')).not.toBeNull());
  });

  it('without a connection it says why and shows no lab', async () => {
    const { webSocketConnection } = await import('../../src-renderer/lib/api.js');
    render(App, { props: { connection: webSocketConnection(null) } });
    await waitFor(() => expect(byTest('fatal').textContent).toContain('no access token'));
    expect(screen.queryByTestId('step')).toBeNull();
  });
});
