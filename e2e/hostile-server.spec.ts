import { expect, test } from '@playwright/test';
import { serveDir, type ServeDirHandle } from '../workers/testing/http-server.ts';

// Servers on another origin that fail in ways a browser's fetch() reports alike ("Failed to fetch"), with the cache
// on: neither is taken for an unreachable network (which would try the cache alone and say "offline").
// - a server that answers but sends no CORS headers: a CORS error;
// - a server that redirects every request to itself: a redirect error.

let server: ServeDirHandle;
test.beforeAll(async () => {
  server = await serveDir(new URL('../public/models/', import.meta.url).pathname);
});
test.afterAll(async () => {
  await server?.close();
});

async function loadFromServer(page: import('@playwright/test').Page): Promise<import('@playwright/test').Locator> {
  await page.goto('/');
  await expect(page.getByTestId('load-button')).toBeEnabled();
  await expect(page.getByTestId('use-cache')).toBeChecked();
  await page.getByTestId('model-url').fill(`${server.url}kjv-llama/`);
  await page.getByTestId('strategy').selectOption('streamed');
  await page.getByTestId('load-button').click();
  const error = page.getByTestId('error');
  await expect(error).toBeVisible({ timeout: 60_000 });
  return error;
}

test('a cross-origin server without CORS headers is a CORS error, not "offline"', async ({ page }) => {
  server.misbehave = { noCors: true };
  const error = await loadFromServer(page);
  await expect(error).toHaveAttribute('data-code', 'cors');
  await expect(error).toContainText('CORS');
  await expect(error).not.toContainText('could not be reached');
  expect(server.log.some((l) => l.path.endsWith('config.json'))).toBe(true); // it did answer
});

test('a redirect loop is a redirect error, not "offline"', async ({ page }) => {
  server.misbehave = { redirectLoop: true };
  const error = await loadFromServer(page);
  await expect(error).toHaveAttribute('data-code', 'network');
  await expect(error).toContainText('redirects');
});
