/**
 * The bench in Chromium through the web host: the seed's SoC at start, its failure under mainline and not under
 * the other policies, the accelerator's PASID width, binding through the command bar, values read off the screen,
 * screenshots kept in reports/screenshots/.
 */
import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';
import { SHOTS, openBench, startHost, type Host } from './host.js';

let host: Host;
test.beforeEach(async () => {
  host = await startHost();
});
test.afterEach(async () => {
  await host.stop();
});

async function open(page: Page): Promise<void> {
  const errors = await openBench(page, host.url);
  // The CSP (meta and header) must not have blocked anything the page needs.
  expect(errors).toEqual([]);
}

async function applyPolicy(page: Page, policy: string): Promise<void> {
  await page.getByTestId('policy-select').selectOption(policy);
  await page.getByTestId('apply-soc').click();
  await expect(page.getByTestId('policy')).toHaveText(policy);
}

test("the seed's SoC loads at start and its failure is one click away under mainline (ENOSPC)", async ({ page }) => {
  await open(page);
  await expect(page.getByTestId('policy')).toHaveText('mainline');
  await expect(page.getByTestId('ida-count')).toHaveText('3 allocated');
  await expect(page.locator('[data-device-tab="accel"]')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('max-pasids')).toContainText('4');
  await expect(page.getByTestId('usable-range')).toHaveText('1..3 (3)');
  await expect(page.getByTestId('pasid-usable-accel')).toContainText('2 bits → 3 usable');

  await page.getByTestId('seed-failure').click();
  await expect(page.getByTestId('outcome')).toContainText('ENOSPC');
  await expect(page.getByTestId('outcome')).toContainText('bind process=app device=accel');
  await expect(page.locator('[data-step="0"]')).toContainText('ENOSPC');
  // The trace of the failed step is on screen: the global allocation that found no free id below 4.
  await expect(page.getByTestId('trace')).toContainText('iommu_alloc_global_pasid');
  await expect(page.getByTestId('ida-count')).toHaveText('3 allocated');
  await page.screenshot({ path: join(SHOTS, 'seed-failure-mainline.png') });
});

/** Applies `bind app accel` (the seed's step) from the command bar to the lab as it is. */
async function bindAppAccel(page: Page): Promise<void> {
  await page.getByTestId('command-input').fill('bind app accel');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
}

test("the seed's failure button resets a changed lab to the seed's SoC under mainline, then shows ENOSPC", async ({ page }) => {
  await open(page);
  // Change everything the button must undo: the policy, the accelerator's PASID width, and steps applied.
  await page.getByTestId('policy-select').selectOption('driver-pasid');
  const slider = page.getByTestId('pasid-width-accel');
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await page.getByTestId('apply-soc').click();
  await expect(page.getByTestId('policy')).toHaveText('driver-pasid');
  await expect(page.getByTestId('max-pasids')).toContainText('8');
  await bindAppAccel(page);
  await expect(page.locator('[data-step="0"]')).toContainText('PASID 1');
  const cmd = page.getByTestId('command-input');
  await cmd.fill('bind p2 gpu');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
  await expect(page.locator('[data-step="1"]')).toContainText('PASID 4');
  await expect(page.getByTestId('ida-count')).toHaveText('4 allocated');

  await page.getByTestId('seed-failure').click();
  await expect(page.getByTestId('policy')).toHaveText('mainline');
  await expect(page.getByTestId('outcome')).toContainText('#0 bind process=app device=accel -> ENOSPC');
  await expect(page.locator('[data-step="0"]')).toContainText('ENOSPC');
  await expect(page.locator('[data-step="1"]')).toHaveCount(0);
  await expect(page.getByTestId('ida-count')).toHaveText('3 allocated');
  await expect(page.getByTestId('max-pasids')).toContainText('4');
  await expect(page.getByTestId('usable-range')).toHaveText('1..3 (3)');
  // The editor follows the rebuilt lab: mainline, the accelerator back to 2 PASID bits.
  await expect(page.getByTestId('policy-select')).toHaveValue('mainline');
  await expect(page.getByTestId('pasid-usable-accel')).toContainText('2 bits → 3 usable');
});

for (const policy of ['driver-pasid', 'rfc-v1']) {
  test(`the seed's failure is gone under ${policy}`, async ({ page }) => {
    await open(page);
    await applyPolicy(page, policy);
    await bindAppAccel(page);
    await expect(page.locator('[data-step="0"]')).toContainText('PASID 1');
    await expect(page.getByTestId('outcome')).not.toContainText('ENOSPC');
    await expect(page.getByTestId('outcome')).toContainText('ok, PASID 1');
    // The accelerator's CD table and pasid_array hold app's mm at SSID 1, inside the usable range.
    const row = page.locator('[data-testid="ssid-rows"] [data-ssid="1"]');
    await expect(row).toContainText('app/mm0');
    await expect(row).toHaveClass(/in-range/);
    await expect(page.getByTestId('used-ssids')).toHaveText('1');
    if (policy === 'driver-pasid') await page.screenshot({ path: join(SHOTS, 'seed-fixed-driver-pasid.png') });
  });
}

test("widening the accelerator's PASID to 3 bits leaves room above the kernel PASIDs", async ({ page }) => {
  await open(page);
  const slider = page.getByTestId('pasid-width-accel');
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('pasid-usable-accel')).toContainText('3 bits → 7 usable');
  await expect(page.getByTestId('editor-dirty')).toBeVisible();
  await page.getByTestId('apply-soc').click();
  await expect(page.getByTestId('editor-dirty')).toHaveCount(0);
  await expect(page.getByTestId('max-pasids')).toContainText('8');
  await expect(page.getByTestId('usable-range')).toHaveText('1..7 (7)');
  await bindAppAccel(page);
  await expect(page.locator('[data-step="0"]')).toContainText('PASID 4');
  // Dropping the PASID width to none: no usable SSIDs, and the editor says so before applying.
  await slider.focus();
  for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('pasid-usable-accel')).toContainText('none → 0 usable');
});

test('binding processes from the command bar with completion; the views read the same values', async ({ page }) => {
  await open(page);
  const cmd = page.getByTestId('command-input');
  await cmd.click();
  await cmd.pressSequentially('bi');
  await expect(page.getByTestId('completions')).toContainText('bind <process> <device>');
  await page.keyboard.press('Tab');
  await expect(cmd).toHaveValue('bind ');
  await cmd.pressSequentially('p1 ds');
  await expect(page.getByTestId('completions')).toContainText('dsa0');
  await page.keyboard.press('Tab');
  await expect(cmd).toHaveValue('bind p1 dsa0 ');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('outcome')).toContainText('bind process=p1 device=dsa0 -> ok, PASID 4');
  await expect(cmd).toHaveValue('');

  // F10 steps what the command bar holds.
  await cmd.fill('bind p2 gpu');
  await page.keyboard.press('F10');
  await expect(page.getByTestId('outcome')).toContainText('PASID 5');
  await expect(page.getByTestId('ida-count')).toHaveText('5 allocated');

  // The global PASID space: the tooltip of the cell of PASID 4 (zoom 32: 32 px per PASID, 1024 per row).
  await page.getByTestId('pasid-canvas').hover({ position: { x: 4 * 32 + 16, y: 16 } });
  await expect(page.getByTestId('pasid-tip')).toHaveText('PASID 4: mm p1/mm0 (p1)');
  await page.getByTestId('pasid-canvas').hover({ position: { x: 2 * 32 + 16, y: 16 } });
  await expect(page.getByTestId('pasid-tip')).toHaveText('PASID 2: kernel PASID dsa1-kernel (dsa1)');

  // dsa0's pasid_array and CD table hold p1's mm at SSID 4.
  await page.locator('[data-device-tab="dsa0"]').click();
  const row = page.locator('[data-testid="ssid-rows"] [data-ssid="4"]');
  await expect(row).toContainText('p1/mm0');
  await expect(row).toContainText('valid sva');

  // The process view: PASID, the bond and its users, mm_count.
  await page.getByTestId('tab-processes').click();
  await page.locator('[data-process="p1"]').click();
  await expect(page.getByTestId('process-pasid')).toHaveText('4');
  await expect(page.getByTestId('mm-count')).toHaveText('2');
  await expect(page.getByTestId('process-detail')).toContainText('bond1');

  // Shift+F10 undoes the last step: PASID 5 is free again.
  await page.keyboard.press('Shift+F10');
  await expect(page.getByTestId('ida-count')).toHaveText('4 allocated');
  // the undone step stays in the timeline, greyed, as the step to redo
  await expect(page.locator('[data-step="1"]:not([data-future])')).toHaveCount(0);
  await expect(page.locator('[data-step="1"][data-future]')).toHaveCount(1);
});

test('a bad step and a bad SoC are refused with the field they name, and change nothing', async ({ page }) => {
  await open(page);
  const cmd = page.getByTestId('command-input');
  await cmd.fill('bind p1 nosuchdevice');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('command-error')).toContainText("unknown device 'nosuchdevice'");
  await expect(page.locator('[data-step="0"]')).toHaveCount(0);
  // Two devices on one SID: the error sits next to the second one's SID field, and Apply is disabled.
  const sid = page.getByRole('textbox', { name: 'gpu SID' });
  await sid.fill('0x10');
  await sid.blur();
  await expect(page.locator('[data-error-for="soc.devices[1].sid"]')).toContainText("already used by 'accel'");
  await expect(page.getByTestId('apply-soc')).toBeDisabled();
});

test('a scenario file runs from the file picker', async ({ page }) => {
  await open(page);
  const text = ['name: picker demo', 'soc:', '  smmus: [{ name: s }]', '  devices: [{ name: d, smmu: s, sid: 1, pasid_bits: 1 }]', 'steps:', '  - bind: { process: a, device: d }', '  - bind: { process: b, device: d }'].join('\n');
  await page.getByTestId('scenario-file').setInputFiles({ name: 'demo.yaml', mimeType: 'text/yaml', buffer: Buffer.from(text) });
  await expect(page.getByTestId('outcome')).toContainText('loaded demo.yaml: 2 steps');
  await expect(page.locator('[data-step="0"]')).toContainText('PASID 1');
  await expect(page.locator('[data-step="1"]')).toContainText('ENOSPC');
});

test('the dark theme at 1280x800', async ({ page }) => {
  await open(page);
  await page.getByTestId('seed-failure').click();
  await expect(page.locator('[data-step="0"]')).toContainText('ENOSPC');
  const theme = page.getByTestId('theme');
  await theme.click(); // auto -> light
  await theme.click(); // light -> dark
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe('rgb(18, 22, 28)');
  // Nothing overflows the window: the bench is readable without scrolling the page.
  const size = await page.evaluate(() => ({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight }));
  expect(size).toEqual({ w: 1280, h: 800 });
  await page.screenshot({ path: join(SHOTS, 'dark-theme.png') });
});

test('the SMMU hardware: STE and CD words, the commands a bind issues, the event a bad SSID raises', async ({ page }) => {
  await open(page);
  await expect(page.getByTestId('ste-raw')).toContainText('S1CDMax 2'); // accel: 2 SSID bits
  const cmd = page.getByTestId('command-input');
  await cmd.fill('bind p1 dsa0');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('outcome')).toContainText('PASID 4');
  await page.locator('[data-testid="ssid-rows"] [data-ssid="4"]').click();
  await expect(page.getByTestId('cd-raw')).toContainText('CD 4 @ 0x');
  await expect(page.getByTestId('cd-raw')).toContainText('V 1');
  await cmd.fill('dma accel ssid=7 va=0x1000 length=8');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('outcome')).toContainText('C_BAD_SUBSTREAMID');
  await page.getByTestId('tab-smmu').click();
  await expect(page.getByTestId('cmdq-smmu0')).toContainText('CMD_SYNC');
  await expect(page.getByTestId('evtq-smmu0')).toContainText('C_BAD_SUBSTREAMID');
  await page.screenshot({ path: join(SHOTS, 'smmu-event.png') });
});
