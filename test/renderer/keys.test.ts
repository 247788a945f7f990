// @vitest-environment jsdom
// F10 / Shift+F10 / F5: one path per key. In a browser the page's own handler acts; under Electron the application
// menu's accelerators own these keys (they arrive as ui.action events) and the page leaves the keystroke alone.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import App from '../../src-renderer/App.svelte';
import type { Connection } from '../../src-renderer/lib/api.js';
import { fakeApi, type FakeApi } from './fake-api.js';
import { fakeConnection, installCanvas } from './helpers.js';

beforeEach(() => {
  installCanvas();
  localStorage.clear();
});

const steps = (fake: FakeApi): number => fake.calls.filter((c) => c.name === 'lab.step').length;
const undos = (fake: FakeApi): number => fake.calls.filter((c) => c.name === 'lab.undo').length;

async function bench(kind: Connection['kind']): Promise<FakeApi> {
  const fake = fakeApi();
  render(App, { props: { connection: { ...fakeConnection(fake), kind } } });
  await screen.findByTestId('step');
  await fireEvent.input(screen.getByTestId('command-input'), { target: { value: 'bind p1 gpu' } });
  return fake;
}

/** Dispatches a keydown on the window; true when the page called preventDefault. */
function press(key: string, shiftKey = false): boolean {
  const ev = new KeyboardEvent('keydown', { key, shiftKey, bubbles: true, cancelable: true });
  window.dispatchEvent(ev);
  return ev.defaultPrevented;
}

describe('the lab keys', () => {
  it('in a browser, F10 steps and Shift+F10 undoes, once each, and the page takes the keys', async () => {
    const fake = await bench('web');
    expect(press('F10')).toBe(true);
    await waitFor(() => expect(screen.getByTestId('outcome').textContent).toContain('#0 bind process=p1 device=gpu'));
    expect(steps(fake)).toBe(1);
    expect(press('F10', true)).toBe(true);
    await waitFor(() => expect(undos(fake)).toBe(1));
    expect(press('F5')).toBe(true);
  });

  it('under Electron, the page ignores F10, Shift+F10 and F5 (left to the menu) and acts on the menu ui.action once', async () => {
    const fake = await bench('electron');
    expect(press('F10')).toBe(false);
    expect(press('F10', true)).toBe(false);
    expect(press('F5')).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(steps(fake)).toBe(0);
    expect(undos(fake)).toBe(0);
    // The menu's F10 accelerator: one ui.action, one step.
    fake.service.publish('ui.action', { action: 'step' });
    await waitFor(() => expect(screen.getByTestId('outcome').textContent).toContain('#0 bind process=p1 device=gpu'));
    expect(steps(fake)).toBe(1);
    fake.service.publish('ui.action', { action: 'undo' });
    await waitFor(() => expect(undos(fake)).toBe(1));
    expect(steps(fake)).toBe(1);
  });
});
