/** The web host refuses a page without its token and a page from another origin; neither can drive the lab. */
import { expect, test } from '@playwright/test';
import { startHost, type Host } from './host.js';

let host: Host;
test.beforeAll(async () => {
  host = await startHost();
});
test.afterAll(async () => {
  await host.stop();
});

test('the page without the token is refused and cannot reach the lab', async ({ page }) => {
  const res = await page.goto(host.origin + '/');
  expect(res?.status()).toBe(403);
  await expect(page.getByTestId('step')).toHaveCount(0);
  // Even a WebSocket opened by hand from that origin is refused without the token.
  const outcome = await page.evaluate(
    (u) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(u);
        ws.onopen = () => resolve('open');
        ws.onclose = () => resolve('closed');
      }),
    host.origin.replace('http:', 'ws:') + '/ws',
  );
  expect(outcome).toBe('closed');
});

test('a page whose address lost its token says how to get in, and shows no lab', async ({ page, context }) => {
  // Load once with the token (sets the asset cookie), then open the bench without it.
  await page.goto(host.url);
  await expect(page.getByTestId('step')).toBeVisible();
  const bare = await context.newPage();
  await bare.goto(host.origin + '/');
  await expect(bare.getByTestId('fatal')).toContainText('no access token');
  await expect(bare.getByTestId('step')).toHaveCount(0);
});

test('a page from another origin cannot open the lab socket, even with the right token', async ({ page }) => {
  await page.route('http://elsewhere.test/', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>elsewhere</title>' }));
  await page.goto('http://elsewhere.test/');
  const outcome = await page.evaluate(
    (u) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(u);
        ws.onopen = () => resolve('open');
        ws.onclose = () => resolve('closed');
      }),
    `${host.origin.replace('http:', 'ws:')}/ws?token=${host.token}`,
  );
  expect(outcome).toBe('closed');
});
