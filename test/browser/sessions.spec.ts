/**
 * Sessions in Chromium through the web host (issue 5): time travel with the slider and its keys, redo; save as a
 * download that reopens identically; open by upload, a bad file shown clearly with the lab untouched, the divergences
 * of a session recorded by another build; recovery on the web host (the lab lives in `svalab serve`, so a reloaded or
 * crashed tab finds it as it was, unsaved mark and notes included); and the exports (JSON Lines, scenario YAML, PNG).
 */
import { expect, test, type Download, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHOTS, openBench, startHost, type Host } from './host.js';

let host: Host;
test.beforeEach(async () => {
  host = await startHost();
});
test.afterEach(async () => {
  await host.stop();
});

const open = (page: Page): Promise<string[]> => openBench(page, host.url);

/** Applies steps from the command bar, waiting for each to reach the timeline. */
async function apply(page: Page, ...lines: string[]): Promise<void> {
  const cmd = page.getByTestId('command-input');
  for (const line of lines) {
    const before = await page.locator('[data-step]:not([data-future])').count();
    await cmd.fill(line);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Enter');
    await expect(page.locator('[data-step]:not([data-future])')).toHaveCount(before + 1);
  }
}

async function downloaded(page: Page, click: () => Promise<void>): Promise<{ d: Download; text: string }> {
  const wait = page.waitForEvent('download');
  await click();
  const d = await wait;
  const path = await d.path();
  return { d, text: await readFile(path, 'utf8') };
}

test('time travel: the slider jumps back, the views show that step, redo and a forward jump come back', async ({ page }) => {
  const errors = await open(page);
  await apply(page, 'bind p1 gpu', 'bind p2 dsa0', 'bind app accel', 'bind p3 gpu');
  await expect(page.getByTestId('ida-count')).toHaveText('6 allocated');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 4 of 4');

  // the slider's keys: two steps back
  const slider = page.getByTestId('time-slider');
  await slider.focus();
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 3 of 4');
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 2 of 4');
  await expect(slider).toHaveValue('2');
  // the state after step 2: p1 and p2 hold PASIDs 4 and 5; the accelerator's bind (step 3) has not happened
  await expect(page.getByTestId('ida-count')).toHaveText('5 allocated');
  await expect(page.getByTestId('time-past')).toHaveText('2 later steps to redo; a new step drops them');
  await expect(page.locator('[data-step="2"][data-future]')).toContainText('bind process=app device=accel');
  await page.getByTestId('tab-processes').click();
  await expect(page.locator('[data-process="p2"]')).toBeVisible();
  await expect(page.locator('[data-process="app"]')).toHaveCount(0);
  await page.screenshot({ path: join(SHOTS, 'time-travel-step-2-of-4.png') });

  // Home: the boot
  await slider.focus();
  await page.keyboard.press('Home');
  await expect(page.getByTestId('time-position')).toHaveText('viewing the boot: step 0 of 4');
  await expect(page.getByTestId('ida-count')).toHaveText('3 allocated');
  await expect(page.locator('[data-process="p1"]')).toHaveCount(0);

  // Redo (button), then Ctrl+Y on the page
  await page.getByTestId('redo').click();
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 1 of 4');
  await expect(page.getByTestId('ida-count')).toHaveText('4 allocated');
  await page.locator('h1').click();
  await page.keyboard.press('Control+y');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 2 of 4');
  await expect(page.locator('[data-process="p2"]')).toBeVisible();

  // a forward jump by dragging to the end (fill sets the range and fires input and change)
  await slider.fill('4');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 4 of 4');
  await expect(page.getByTestId('ida-count')).toHaveText('6 allocated');
  await expect(page.locator('[data-process="app"]')).toBeVisible();
  await expect(page.getByTestId('redo')).toBeDisabled();

  // from the past, a new step drops the later ones (the lab's rule)
  await slider.fill('1');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 1 of 4');
  await apply(page, 'bind q iax0');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 2 of 2');
  await expect(page.locator('[data-future]')).toHaveCount(0);
  await expect(page.locator('[data-step="1"]')).toContainText('bind process=q device=iax0');
  expect(errors).toEqual([]);
});

test('save: a download that reopens identically (steps, position, notes, layout), and saving clears the unsaved mark', async ({ page }) => {
  await open(page);
  await expect(page.getByTestId('doc-name')).toHaveText('Untitled');
  await apply(page, 'bind p1 gpu', 'bind app accel', 'fork p1 c1', 'bind c1 dsa0');
  await expect(page.getByTestId('unsaved')).toBeVisible();
  await page.getByTestId('time-slider').fill('3'); // saved in the past: the last step is to redo
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 3 of 4');
  await page.getByTestId('tab-notes').click();
  await page.getByTestId('notes').fill('starved accelerator\n\nThe kernel PASIDs took 1..3.');

  const first = await downloaded(page, () => page.getByTestId('save').click());
  expect(first.d.suggestedFilename()).toBe('lab.svalab');
  const doc = JSON.parse(first.text);
  expect(doc).toMatchObject({ format: 'svalab-session', notes: 'starved accelerator\n\nThe kernel PASIDs took 1..3.', position: 3, layout: { tab: 'notes' } });
  expect(doc.steps.map((s: { step: Record<string, unknown> }) => Object.keys(s.step)[0])).toEqual(['bind', 'bind', 'fork', 'bind']);
  expect(doc.steps[1].result).toEqual({ ok: false, errno: 'ENOSPC' });
  await expect(page.getByTestId('unsaved')).toHaveCount(0);
  await expect(page.getByTestId('doc-name')).toHaveText('lab.svalab');

  // New (a clean lab: not asked), then reopen the download
  await page.getByTestId('new').click();
  await expect(page.getByTestId('time-position')).toHaveText('no steps yet');
  await expect(page.getByTestId('ask')).toHaveCount(0);
  await page.getByTestId('session-file').setInputFiles({ name: 'lab.svalab', mimeType: 'application/json', buffer: Buffer.from(first.text) });
  await expect(page.getByTestId('open-report')).toContainText('Opened lab.svalab: 4 steps, viewing step 3.');
  await expect(page.getByTestId('open-report')).toContainText('Every step replayed as recorded.');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 3 of 4');
  await expect(page.getByTestId('tab-notes')).toHaveAttribute('aria-selected', 'true'); // its layout
  await expect(page.getByTestId('notes')).toHaveValue('starved accelerator\n\nThe kernel PASIDs took 1..3.');
  await expect(page.getByTestId('unsaved')).toHaveCount(0);
  await expect(page.locator('[data-step="3"][data-future]')).toContainText('bind process=c1 device=dsa0');
  await page.getByTestId('tab-devices').click();
  await expect(page.getByTestId('ida-count')).toHaveText('4 allocated');

  // saved again, it is the same file, byte for byte
  await page.getByTestId('tab-notes').click();
  const second = await downloaded(page, () => page.getByTestId('save').click());
  expect(second.text).toBe(first.text);
});

test('open: a bad file is shown with what and where, the lab untouched; divergences of another build are listed', async ({ page }) => {
  await open(page);
  await apply(page, 'bind p1 gpu', 'bind p2 gpu');
  const saved = await downloaded(page, () => page.getByTestId('save').click());
  await apply(page, 'bind p3 gpu'); // unsaved again
  const fileInput = page.getByTestId('session-file');

  const upload = async (name: string, text: string): Promise<void> => {
    await fileInput.setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(text) });
    await page.getByTestId('ask-discard').click(); // unsaved changes: asked first
  };
  await upload('cut.svalab', saved.text.slice(0, saved.text.length - 40));
  await expect(page.getByTestId('file-error')).toContainText('Could not open the session; the lab is unchanged.');
  await expect(page.getByTestId('file-error')).toContainText('cut.svalab: the file is truncated: line');
  await upload('ref.svalab', saved.text.replace('"device":"gpu"', '"device":"gpu9"'));
  await expect(page.getByTestId('file-error').locator('li')).toHaveText(["steps[0].step.bind.device: unknown device 'gpu9' (the SoC has accel, gpu, dsa0, dsa1, iax0)"]);
  await upload('newer.svalab', saved.text.replace('"version": 1', '"version": 7'));
  await expect(page.getByTestId('file-error')).toContainText('this session has format version 7, written by a newer SVA Lab');
  // the lab is as it was: three steps, unsaved
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 3 of 3');
  await expect(page.getByTestId('ida-count')).toHaveText('6 allocated');
  await expect(page.getByTestId('unsaved')).toBeVisible();
  await expect(page.getByTestId('doc-name')).toHaveText('lab.svalab');
  await page.screenshot({ path: join(SHOTS, 'session-bad-file.png') });

  // Cancel at the question: nothing is opened
  await fileInput.setInputFiles({ name: 'good.svalab', mimeType: 'application/json', buffer: Buffer.from(saved.text) });
  await page.getByTestId('ask-cancel').click();
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 3 of 3');

  // a session whose recorded results this build does not give: opened, the divergences listed and marked
  await upload('other-build.svalab', saved.text.replace('"result":{"ok":true,"pasid":5}', '"result":{"ok":true,"pasid":7}'));
  await expect(page.getByTestId('file-error')).toHaveCount(0);
  await expect(page.getByTestId('divergence-count')).toHaveText('1 of 2 steps give a different result than recorded');
  await expect(page.getByTestId('divergences')).toContainText('#1 bind process=p2 device=gpu: pasid: recorded 7, got 5');
  await expect(page.locator('[data-diverged="1"]')).toBeVisible();
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 2 of 2');
  await page.screenshot({ path: join(SHOTS, 'session-divergences.png') });
});

test('recovery on the web host: a reloaded (or crashed) tab finds the lab in svalab serve as it was, unsaved', async ({ page }) => {
  await open(page);
  await apply(page, 'bind p1 gpu', 'bind p2 dsa0', 'bind p3 gpu');
  await page.getByTestId('time-slider').fill('2');
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 2 of 3');
  await page.getByTestId('tab-notes').click();
  await page.getByTestId('notes').fill('work in progress');
  await page.getByTestId('tab-processes').click(); // the notes editor loses focus: the notes are sent
  await expect(page.getByTestId('unsaved')).toBeVisible();

  await page.reload();
  await expect(page.getByTestId('step')).toBeVisible();
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 2 of 3');
  await expect(page.getByTestId('unsaved')).toBeVisible();
  await expect(page.getByTestId('ida-count')).toHaveText('5 allocated');
  await expect(page.getByTestId('tab-processes')).toHaveAttribute('aria-selected', 'true'); // the layout the host kept
  await page.getByTestId('tab-notes').click();
  await expect(page.getByTestId('notes')).toHaveValue('work in progress');
  // and it carries on: redo the step kept in the timeline
  await page.getByTestId('redo').click();
  await expect(page.getByTestId('time-position')).toHaveText('viewing step 3 of 3');
});

test('export: the trace as JSON Lines, the steps as a scenario YAML, the view as a PNG', async ({ page }) => {
  await open(page);
  await apply(page, 'bind p1 gpu', 'bind app accel');
  await page.getByTestId('export').click();
  const trace = await downloaded(page, () => page.getByTestId('export-trace').click());
  expect(trace.d.suggestedFilename()).toBe('lab-trace.jsonl');
  const lines = trace.text.trimEnd().split('\n').map((l) => JSON.parse(l) as { t: string; step: number; text?: string; fn?: string });
  expect(lines[0]).toMatchObject({ t: 'boot', step: -1 });
  expect(lines.filter((l) => l.t === 'step').map((l) => l.text)).toEqual(['bind process=p1 device=gpu', 'bind process=app device=accel']);
  expect(lines.some((l) => l.step === 1 && l.t === 'call' && l.fn === 'iommu_alloc_global_pasid')).toBe(true);

  await page.getByTestId('export').click();
  const yaml = await downloaded(page, () => page.getByTestId('export-scenario').click());
  expect(yaml.d.suggestedFilename()).toBe('lab.yaml');
  expect(yaml.text).toContain('- bind: { process: app, device: accel }');
  expect(yaml.text).toContain('expect: { ok: false, error: ENOSPC }');

  await page.getByTestId('export').click();
  const wait = page.waitForEvent('download');
  await page.getByTestId('export-png').click();
  const png = await wait;
  expect(png.suggestedFilename()).toBe('lab-devices.png');
  const bytes = await readFile(await png.path());
  await png.saveAs(join(SHOTS, 'exported-view.png'));
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // IHDR: the size of the centre column on screen (device pixel ratio 1 here)
  const box = (await page.locator('.center').boundingBox())!;
  expect(Math.abs(bytes.readUInt32BE(16) - box.width)).toBeLessThanOrEqual(1);
  expect(Math.abs(bytes.readUInt32BE(20) - box.height)).toBeLessThanOrEqual(1);
  // not a blank picture: the page decodes it and finds more than one colour
  const colours = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length && seen.size < 50; i += 4 * 97) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return seen.size;
  }, bytes.toString('base64'));
  expect(colours).toBeGreaterThan(5);
  await expect(page.getByTestId('outcome')).toHaveText('exported the devices view as lab-devices.png');
});
