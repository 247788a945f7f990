/**
 * The SMMU's ID register features and PRI queue, and a PCI function's ATS/ATC, in Chromium through the web host:
 * scenarios/hw-pri-deny.yaml run from the file picker, read off the SMMU and Devices tabs; a screenshot of the PRI
 * queue kept in reports/screenshots/pri-queue.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SHOTS, openBench, startHost, type Host } from './host.js';

let host: Host;
test.beforeEach(async () => {
  host = await startHost();
});
test.afterEach(async () => {
  await host.stop();
});

async function openWith(page: Page, file: string): Promise<void> {
  const errors = await openBench(page, host.url);
  const text = readFileSync(join(ROOT, 'scenarios', file));
  await page.getByTestId('scenario-file').setInputFiles({ name: file, mimeType: 'text/yaml', buffer: text });
  await expect(page.getByTestId('outcome')).toContainText(`loaded ${file}`);
  expect(errors).toEqual([]);
}

test('hw-pri-deny: the PRI queue shows both page requests, denied, with the driver\'s log line', async ({ page }) => {
  await openWith(page, 'hw-pri-deny.yaml');
  await page.getByTestId('tab-smmu').click();

  const feats = page.getByTestId('features-smmu0');
  await expect(feats.locator('[data-feature="st_level"]')).toHaveText('ST_LEVEL 2-level');
  await expect(feats.locator('[data-feature="oas"]')).toHaveText('OAS 48 bits');
  await expect(feats.locator('[data-feature="ats"]')).toHaveText('ATS yes');
  await expect(feats.locator('[data-feature="pri"]')).toHaveText('PRI yes');
  await expect(feats.locator('[data-feature="sva"]')).toHaveText('SVA yes');

  const priq = page.getByTestId('priq-smmu0');
  await expect(page.locator('h4', { hasText: 'PRI queue' })).toContainText('produced 2, pending 0');
  const entries = priq.locator('tbody[data-pri-entry]');
  await expect(entries).toHaveCount(2);
  const first = entries.nth(0);
  await expect(first.locator('tr').first().locator('td')).toHaveText(['0x200', '1', '0x401000', 'R', '0', 'yes', 'PRI_RESP deny']);
  await expect(first.locator('tr.log')).toHaveText('unexpected PRI request received: sid 0x00000200.0x00001: [0L] unprivileged R access at iova 0x0000000000401000');
  await expect(entries.nth(1).locator('tr').first().locator('td')).toHaveText(['0x200', '1', '0x401000', 'W', '1', 'yes', 'PRI_RESP deny']);
  await expect(entries.nth(1).locator('tr.log')).toContainText('[1L] unprivileged W access');
  await expect(page.getByTestId('cmdq-smmu0')).toContainText('PRI_RESP sid=0x200 ssid=1 ssv=1 grpid=1 resp=deny');

  // Visible, not only present: the features at the top of the panel, then the queue once the panel is scrolled to
  // it (the SMMU panel is shorter than its contents at 1280x800); the page itself never scrolls.
  await expect(feats).toBeInViewport();
  await priq.scrollIntoViewIfNeeded();
  await expect(first).toBeVisible();
  await expect(first).toBeInViewport();
  await expect(entries.nth(1)).toBeInViewport();
  const size = await page.evaluate(() => ({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight }));
  expect(size).toEqual({ w: 1280, h: 800 });
  await page.screenshot({ path: join(SHOTS, 'pri-queue.png') });

  // The Devices tab: GPU's ATS, PRI and ATC as the scenario leaves them.
  await page.getByTestId('tab-devices').click();
  await page.locator('[data-device-tab="gpu"]').click();
  await expect(page.getByTestId('pci-caps')).toContainText('ATS capable, enabled (STE.EATS TRANS)');
  await expect(page.getByTestId('pci-caps')).toContainText('PRI enabled');
  await expect(page.getByTestId('atc').locator('[data-atc="entries"]')).toHaveText('2');
  await expect(page.getByTestId('atc').locator('[data-atc="miss"]')).toHaveText('4');
  await page.screenshot({ path: join(SHOTS, 'device-atc.png') });
});
