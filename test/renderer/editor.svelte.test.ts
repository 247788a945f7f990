// @vitest-environment jsdom
// The SoC editor: its draft store (checks, conversion, host errors) and the form, against the fake host.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SOC } from '../../shared/default-soc.js';
import { SocConfig } from '../../shared/soc-config.js';
import App from '../../src-renderer/App.svelte';
import { checkDraft, draftFrom, SocEditor, socFrom, usableSsids } from '../../src-renderer/lib/editor.svelte.js';
import { fakeApi } from './fake-api.js';
import { fakeConnection, installCanvas } from './helpers.js';

const seed = SocConfig.parse(DEFAULT_SOC);

function found(selector: string): Element {
  const e = document.querySelector(selector);
  if (!e) throw new Error(`no ${selector}`);
  return e;
}

describe('the draft', () => {
  it('usable SSIDs are 2^bits - 1, and 0 without PASID support', () => {
    expect([usableSsids(undefined), usableSsids(0), usableSsids(1), usableSsids(2), usableSsids(20)]).toEqual([0, 0, 1, 3, 1048575]);
  });

  it('round-trips a configuration, groups included', () => {
    const soc = SocConfig.parse({ ...DEFAULT_SOC, groups: [['dsa0', 'dsa1']], enqcmd: true });
    const d = draftFrom(soc);
    expect(d.devices.find((x) => x.name === 'dsa0')!.groupLabel).toBe(d.devices.find((x) => x.name === 'dsa1')!.groupLabel);
    expect(d.enqcmd).toBe('yes');
    expect(SocConfig.parse(socFrom(d))).toEqual(soc);
  });

  it('no PASID width means no pasid_bits in the configuration', () => {
    const d = draftFrom(seed);
    d.devices[0]!.pasid_bits = undefined;
    expect(socFrom(d).devices![0]).not.toHaveProperty('pasid_bits');
  });

  it('reports errors by the path the host uses, for schema and cross-reference problems', () => {
    const d = draftFrom(seed);
    expect(checkDraft(d).size).toBe(0);
    d.devices[1]!.sid = 0x10; // gpu on accel's SID
    d.smmus[0]!.ssidsize = 21;
    let e = checkDraft(d);
    expect(e.get('soc.smmus[0].ssidsize')).toMatch(/20/);
    d.smmus[0]!.ssidsize = 20;
    e = checkDraft(d);
    expect(e.get('soc.devices[1].sid')).toContain("already used by 'accel'");
    d.devices[1]!.sid = 0x20;
    d.devices[2]!.groupLabel = 'lonely';
    expect(checkDraft(d).get('soc.devices[2].group')).toContain('only this device');
    d.devices[0]!.groupLabel = 'lonely'; // accel is a platform device: it cannot join a group
    expect(checkDraft(d).get('soc.devices[0].group')).toContain('platform device');
  });

  it('keeps the host errors until the next edit, and places one without a field apart', () => {
    const ed = new SocEditor();
    ed.load(seed, 'mainline');
    ed.hostError({ message: 'invalid SoC configuration', path: 'soc.devices[0].sid', problems: [{ path: 'soc.devices[0].sid', message: 'from the host' }] });
    expect(ed.error('soc.devices[0].sid')).toBe('from the host');
    ed.edited();
    expect(ed.error('soc.devices[0].sid')).toBeUndefined();
    ed.hostError({ message: 'something else went wrong' });
    expect(ed.hostMessage).toBe('something else went wrong');
  });

  it('is dirty after an edit or a policy change, and clean after load', () => {
    const cleanup = $effect.root(() => {
      const ed = new SocEditor();
      ed.load(seed, 'mainline');
      flushSync();
      expect(ed.dirty).toBe(false);
      ed.draft.devices[0]!.pasid_bits = 3;
      expect(ed.dirty).toBe(true);
      ed.load(seed, 'mainline');
      expect(ed.dirty).toBe(false);
      ed.policy = 'rfc-v1';
      expect(ed.dirty).toBe(true);
    });
    cleanup();
  });
});

describe('the editor form', () => {
  beforeEach(() => {
    installCanvas();
  });

  it("the accelerator's PASID width slider shows the usable SSIDs and Apply rebuilds the lab with it", async () => {
    const fake = fakeApi();
    render(App, { props: { connection: fakeConnection(fake) } });
    const slider = (await screen.findByTestId('pasid-width-accel')) as HTMLInputElement;
    expect(slider.value).toBe('2');
    await fireEvent.input(slider, { target: { value: '3' } });
    expect(screen.getByTestId('pasid-usable-accel').textContent).toContain('3 bits → 7 usable');
    expect(slider.getAttribute('aria-valuetext')).toBe('3 bits, 7 usable SSIDs');
    expect(screen.getByTestId('editor-dirty')).toBeTruthy();
    await fireEvent.input(slider, { target: { value: '-1' } });
    expect(screen.getByTestId('pasid-usable-accel').textContent).toContain('none → 0 usable');
    await fireEvent.input(slider, { target: { value: '3' } });
    await fireEvent.click(screen.getByTestId('apply-soc'));
    await waitFor(() => expect(screen.getByTestId('max-pasids').textContent).toContain('8'));
    const call = fake.calls.find((c) => c.name === 'lab.configure')!;
    expect((call.input as { soc: { devices: { pasid_bits?: number }[] } }).soc.devices[0]!.pasid_bits).toBe(3);
    expect(screen.getByTestId('usable-range').textContent).toBe('1..7 (7)');
    expect(screen.getByTestId('ida-free').textContent).toBe('4 free in 1..7');
    await waitFor(() => expect(screen.queryByTestId('editor-dirty')).toBeNull());
    expect(fake.invalid).toEqual([]);
  });

  it('edits the SMMU ID registers (ST_LEVEL, OAS, ATS, PRI) and a PCI device ATS/PRI, with PRI needing ATS', async () => {
    const fake = fakeApi();
    render(App, { props: { connection: fakeConnection(fake) } });
    const st = (await screen.findByRole('combobox', { name: 'smmu0 IDR0.ST_LEVEL' })) as HTMLSelectElement;
    expect(st.value).toBe('2lvl');
    await fireEvent.change(st, { target: { value: 'linear' } });
    await fireEvent.change(screen.getByRole('combobox', { name: 'smmu0 IDR5.OAS' }), { target: { value: '44' } });
    await fireEvent.click(screen.getByRole('checkbox', { name: 'smmu0 IDR0.ATS' }));
    await fireEvent.click(screen.getByRole('checkbox', { name: 'smmu0 IDR0.PRI' }));
    // PRI on a device without ATS is refused next to the field, and Apply waits.
    await fireEvent.click(screen.getByRole('checkbox', { name: 'dsa0 PRI' }));
    const i = [...document.querySelectorAll('[data-device-index]')].findIndex((e) => e.getAttribute('data-testid') === 'device-dsa0');
    const err = await waitFor(() => found(`[data-error-for="soc.devices[${i}].pri"]`));
    expect(err.textContent).toMatch(/PRI needs ATS/);
    expect((screen.getByTestId('apply-soc') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByRole('checkbox', { name: 'dsa0 ATS' }));
    await waitFor(() => expect((screen.getByTestId('apply-soc') as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByTestId('apply-soc'));
    await waitFor(() => expect(fake.calls.some((c) => c.name === 'lab.configure')).toBe(true));
    const soc = (fake.calls.find((c) => c.name === 'lab.configure')!.input as { soc: { smmus: Record<string, unknown>[]; devices: Record<string, unknown>[] } }).soc;
    expect(soc.smmus[0]).toMatchObject({ st_level: 'linear', oas: 44, ats: true, pri: true });
    expect(soc.devices[i]).toMatchObject({ name: 'dsa0', ats: true, pri: true });
    await waitFor(() => expect(screen.queryByTestId('editor-dirty')).toBeNull());
    expect(fake.invalid).toEqual([]);
  });

  it('shows a local error next to its field and disables Apply', async () => {
    const fake = fakeApi();
    render(App, { props: { connection: fakeConnection(fake) } });
    const sid = (await screen.findByRole('textbox', { name: 'gpu SID' })) as HTMLInputElement;
    await fireEvent.change(sid, { target: { value: '0x10' } });
    const err = await waitFor(() => found('[data-error-for="soc.devices[1].sid"]'));
    expect(err.textContent).toContain("already used by 'accel'");
    expect(sid.getAttribute('aria-invalid')).toBe('true');
    expect(sid.getAttribute('aria-describedby')).toBe(err.id);
    expect((screen.getByTestId('apply-soc') as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows the host's error next to the field it names, and the lab stays as it was", async () => {
    const fake = fakeApi();
    fake.override['lab.configure'] = () => ({ ok: false, error: { code: 'bad-soc', message: 'invalid SoC configuration', path: 'soc.smmus[0].ssidsize', problems: [{ path: 'soc.smmus[0].ssidsize', message: 'this SMMU model tops out at 16' }] } });
    render(App, { props: { connection: fakeConnection(fake) } });
    const slider = (await screen.findByTestId('pasid-width-accel')) as HTMLInputElement;
    await fireEvent.input(slider, { target: { value: '3' } });
    await fireEvent.click(screen.getByTestId('apply-soc'));
    const err = await waitFor(() => found('[data-error-for="soc.smmus[0].ssidsize"]'));
    expect(err.textContent).toBe('this SMMU model tops out at 16');
    expect(screen.getByTestId('max-pasids').textContent).toContain('4');
    expect(screen.getByTestId('editor-dirty')).toBeTruthy();
  });

  it('switching the policy and applying rebuilds under it: no seed failure under driver-pasid', async () => {
    const fake = fakeApi();
    render(App, { props: { connection: fakeConnection(fake) } });
    const sel = (await screen.findByTestId('policy-select')) as HTMLSelectElement;
    await fireEvent.change(sel, { target: { value: 'driver-pasid' } });
    await fireEvent.click(screen.getByTestId('apply-soc'));
    await waitFor(() => expect(screen.getByTestId('policy').textContent).toBe('driver-pasid'));
    const input = screen.getByTestId('command-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'bind app accel' } });
    await fireEvent.click(screen.getByTestId('step'));
    await waitFor(() => expect(screen.getByTestId('outcome').textContent).toContain('ok, PASID 1'));
  });
});
