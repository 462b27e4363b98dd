import { expect, test, type BrowserContext } from '@playwright/test';
import { generateGreedy, REF, settle } from './kjv.ts';

// The model cache in a real browser (OPFS in the engine's worker): kjv-llama loaded twice with 'streamed' reads no
// weight byte from the network the second time; the Cached models panel lists it, and deleting it empties the panel.
// Offline warm start: once loaded online, kjv-llama loads again with every request for it failing (as when the
// network cannot be reached: context.route aborts them, the engine worker's fetches included), generates the same
// text and says it was loaded offline; a model never kept fails, with the browser offline (context.setOffline), with
// the offline error naming config.json, its title the network alone.

test('a second streamed load of kjv-llama comes from the cache; the panel lists and deletes it', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('load-button')).toBeEnabled();
  const panel = page.getByTestId('cache-panel');
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId('cache-unavailable')).toHaveCount(0);
  await expect(page.getByTestId('use-cache')).toBeChecked();

  await page.getByTestId('model-url').fill('models/kjv-llama/');
  await page.getByTestId('strategy').selectOption('streamed');

  await page.getByTestId('load-button').click();
  await settle(page, page.getByTestId('load-bytes'));
  await expect(page.getByTestId('load-bytes')).toHaveAttribute('data-state', 'cold');
  expect(Number(await page.getByTestId('load-bytes').getAttribute('data-network'))).toBeGreaterThan(13_000_000);
  const row = panel.getByTestId('cached-model');
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute('data-model', /models\/kjv-llama\/$/);
  await expect(row).toHaveAttribute('data-complete', 'true');
  await expect(row).toContainText('MiB');

  await page.getByTestId('load-button').click(); // "Load again"
  await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(2, { timeout: 120_000 });
  await settle(page, page.getByTestId('load-bytes'));
  const bytes = page.getByTestId('load-bytes');
  await expect(bytes).toHaveAttribute('data-state', 'warm');
  await expect(bytes).toHaveAttribute('data-network', '0');
  expect(Number(await bytes.getAttribute('data-cache'))).toBeGreaterThan(13_000_000);
  await expect(page.getByTestId('run-network-bytes').nth(1)).toHaveAttribute('data-bytes', '0');
  await expect(page.getByTestId('run-cache-bytes').nth(1)).toHaveAttribute('data-cache', 'warm');
  await expect(page.getByTestId('cache-storage')).toContainText('This site uses');

  await row.getByTestId('cache-delete').click();
  await expect(panel.getByTestId('cached-model')).toHaveCount(0);
  expect(errors).toEqual([]);
});

/** Every request for the model's files fails as on a network that cannot be reached; returns the URLs it failed. */
async function cutModelNetwork(context: BrowserContext): Promise<string[]> {
  const failed: string[] = [];
  await context.route('**/models/kjv-llama/**', async (route) => {
    failed.push(route.request().url());
    await route.abort('internetdisconnected');
  });
  return failed;
}

test('offline: kjv-llama loaded once online loads from the cache alone, generates the same text and says so', async ({ page, context }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('load-button')).toBeEnabled();
  await page.getByTestId('model-url').fill('models/kjv-llama/');
  await page.getByTestId('strategy').selectOption('streamed');
  await page.getByTestId('load-button').click();
  await settle(page, page.getByTestId('load-bytes'));
  await expect(page.getByTestId('load-bytes')).toHaveAttribute('data-state', 'cold');
  await expect(page.getByTestId('load-bytes')).toHaveAttribute('data-offline', 'false');
  await expect(page.getByTestId('load-offline')).toHaveCount(0);
  const online = await generateGreedy(page);
  expect(online).toBe(REF.greedy_text);
  const row = page.getByTestId('cache-panel').getByTestId('cached-model');
  await expect(row).toHaveAttribute('data-offline', 'true');
  await expect(row).toContainText('loads offline');

  const failed = await cutModelNetwork(context);
  await page.getByTestId('load-button').click(); // "Load again"
  await settle(page, page.getByTestId('runs-table').locator('tbody tr').nth(1)); // (an error banner fails it at once)
  await settle(page, page.getByTestId('load-bytes'));
  const bytes = page.getByTestId('load-bytes');
  await expect(bytes).toHaveAttribute('data-offline', 'true');
  await expect(bytes).toHaveAttribute('data-state', 'warm');
  await expect(bytes).toHaveAttribute('data-network', '0');
  await expect(page.getByTestId('load-offline')).toHaveText('offline: loaded from the cache, not revalidated with the server');
  await expect(page.getByTestId('load-offline')).toHaveAttribute('title', /network could not be reached: could not fetch config\.json/);
  await expect(page.getByTestId('run-cache-bytes').nth(1)).toHaveAttribute('data-offline', 'true');
  await expect(page.getByTestId('run-cache-bytes').nth(1)).toContainText('(warm, offline)');
  await expect(page.getByTestId('run-cache-bytes').nth(0)).toHaveAttribute('data-offline', 'false');
  // the worker's requests were the ones that failed: config.json (retried), nothing after it
  expect(failed.length).toBeGreaterThan(0);
  expect(new Set(failed.map((u) => new URL(u).pathname))).toEqual(new Set(['/models/kjv-llama/config.json']));
  await page.screenshot({ path: testInfo.outputPath('cache-offline.png'), fullPage: true });

  expect(await generateGreedy(page)).toBe(online);
  expect(errors).toEqual([]);
});

test('offline: a model never kept fails with the offline error naming config.json, and the GPU ledger stays at zero', async ({ page, context }, testInfo) => {
  await page.goto('/');
  await expect(page.getByTestId('load-button')).toBeEnabled();
  // the whole browser offline this time (navigator.onLine false; the worker's fetches fail as well)
  await context.setOffline(true);
  await page.getByTestId('model-url').fill('models/kjv-llama/');
  await page.getByTestId('strategy').selectOption('streamed');
  await page.getByTestId('load-button').click();
  const error = page.getByTestId('error');
  await expect(error).toBeVisible({ timeout: 60_000 });
  await expect(error).toHaveAttribute('data-code', 'offline');
  // nothing of it is kept: the cause is the network alone (the cache is only mentioned as the way to load offline)
  await expect(error.getByTestId('error-title')).toHaveText('The network could not be reached');
  await expect(error).toContainText('This model was never kept in this browser');
  await expect(error).toContainText(/the network could not be reached \(could not fetch config\.json: .*\), and config\.json is not in the cache/);
  await expect(error).toContainText('Keep downloaded weights');
  await expect(page.getByTestId('load-button')).toBeEnabled();
  await expect(page.getByTestId('model-info')).toHaveCount(0);
  await expect.poll(async () => page.getByTestId('vram-chart').getAttribute('data-current-bytes'), { timeout: 15_000 }).toBe('0');
  await page.screenshot({ path: testInfo.outputPath('cache-offline-never-kept.png'), fullPage: true });
});
