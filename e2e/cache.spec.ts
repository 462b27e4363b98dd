import { expect, test, type Page } from '@playwright/test';

// The model cache in a real browser (OPFS in the engine's worker): kjv-llama loaded twice with 'streamed' reads no
// weight byte from the network the second time; the Cached models panel lists it, and deleting it empties the panel.

async function settle(page: Page, ok: ReturnType<Page['getByTestId']>, timeout = 120_000): Promise<void> {
  const error = page.getByTestId('error');
  await expect(ok.or(error).first()).toBeVisible({ timeout });
  if (await error.isVisible()) throw new Error(`the app shows an error: ${(await error.innerText()).replace(/\s+/g, ' ')}`);
}

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
