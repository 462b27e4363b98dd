import { expect, test, type Page } from '@playwright/test';

// Two tabs of the app loading the same model at the same time download it once: the engine's Web Lock per model lets
// one tab stream it into the OPFS cache while the other waits, then reads it from there.

async function openTab(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('load-button')).toBeEnabled();
  await page.getByTestId('model-url').fill('models/kjv-llama/');
  await page.getByTestId('strategy').selectOption('streamed');
  await expect(page.getByTestId('use-cache')).toBeChecked();
}

async function loaded(page: Page): Promise<{ network: number; cache: number; state: string }> {
  const bytes = page.getByTestId('load-bytes');
  await expect(bytes.or(page.getByTestId('error')).first()).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('error')).toHaveCount(0);
  return {
    network: Number(await bytes.getAttribute('data-network')),
    cache: Number(await bytes.getAttribute('data-cache')),
    state: (await bytes.getAttribute('data-state')) ?? '',
  };
}

test('two tabs loading kjv-llama at once fetch its weights once', async ({ context }) => {
  const weightBytes: number[] = [];
  // Requests from both tabs' workers for the checkpoint: the bytes each range asked for (what the server sends).
  context.on('request', (r) => {
    if (!r.url().endsWith('/models/kjv-llama/model.safetensors')) return;
    const m = /bytes=(\d+)-(\d*)/.exec(r.headers()['range'] ?? '');
    weightBytes.push(m ? (m[2] ? Number(m[2]) + 1 : 13_054_480) - Number(m[1]) : 13_054_480);
  });
  const [a, b] = [await context.newPage(), await context.newPage()];
  await openTab(a);
  await openTab(b);
  await Promise.all([a.getByTestId('load-button').click(), b.getByTestId('load-button').click()]);
  const [ra, rb] = await Promise.all([loaded(a), loaded(b)]);

  const file = 13_054_480;
  // One tab downloaded the file (cold), the other found it cached (warm, 0 network bytes).
  expect([ra.state, rb.state].sort()).toEqual(['cold', 'warm']);
  expect(Math.min(ra.network, rb.network)).toBe(0);
  expect(Math.max(ra.network, rb.network)).toBeGreaterThanOrEqual(file - 1_000_000);
  // And the server saw the weights once, not twice (headers, probes and block rounding aside).
  const total = weightBytes.reduce((x, y) => x + y, 0);
  expect(total).toBeGreaterThan(file * 0.9);
  expect(total).toBeLessThan(file * 1.5);
});
