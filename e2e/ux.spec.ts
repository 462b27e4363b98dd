import { expect, test, type Page } from '@playwright/test';
import { settle } from './kjv.ts';

// What a new user meets (issue 16): the VRAM chart as a step function held up to now with one peak; comparison
// labels that name the model; progress that says where the bytes come from; focus kept on a control after Load and
// Stop; settings and runs kept across a reload; the cache table at 420 px; decode speed drawn while generating.

async function open(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('load-button')).toBeEnabled();
  return errors;
}

async function load(page: Page, strategy = 'streamed'): Promise<void> {
  await page.getByTestId('model-url').fill('models/kjv-llama/');
  await page.getByTestId('strategy').selectOption(strategy);
  await page.getByTestId('load-button').click();
  await settle(page, page.getByTestId('model-info'));
}

const activeTestId = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName ?? '');

/** The points the VRAM chart draws (its sr-only table): time (ms), total bytes, whether the row is "now". */
async function vramPoints(page: Page): Promise<{ t: number; total: number; now: boolean }[]> {
  return page.getByTestId('vram-points').locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => ({ t: Number(r.getAttribute('data-t')), total: Number(r.getAttribute('data-total')), now: r.getAttribute('data-now') === 'true' })),
  );
}

test('the VRAM chart is a step function: flat between ledger events, held up to now, one peak in chart and caption', async ({ page }, testInfo) => {
  const errors = await open(page);
  const chart = page.getByTestId('vram-chart');
  await expect(chart).toHaveAttribute('data-stepped', 'before');
  await page.waitForTimeout(2500); // idle before the first load: memory stays at 0 (no slope towards the load)
  await load(page, 'naive'); // f32 copies first: a peak well above what stays
  await load(page, 'streamed');
  await expect.poll(async () => (await vramPoints(page)).at(-1)?.now).toBe(true);

  const points = await vramPoints(page);
  const events = points.filter((p) => !p.now);
  const now = points.at(-1)!;
  // the first event is the empty ledger at t=0, the next one already holds the first load's first buffer: nothing
  // drawn in between, so the line is flat at 0 until that buffer existed
  expect(events[0].total).toBe(0);
  expect(events[0].t).toBeLessThan(1);
  expect(events[1].total).toBeGreaterThan(0);
  expect(events[1].t).toBeGreaterThan(2000);
  // held flat up to now: the last point repeats the last event's total at a later time
  expect(now.total).toBe(events.at(-1)!.total);
  expect(now.t).toBeGreaterThan(events.at(-1)!.t);
  expect(now.total).toBe(Number(await chart.getAttribute('data-current-bytes')));
  // and it follows the clock while nothing changes
  await page.waitForTimeout(2500);
  const later = (await vramPoints(page)).at(-1)!;
  expect(later.now).toBe(true);
  expect(later.t).toBeGreaterThan(now.t + 1000);
  expect(later.total).toBe(now.total);
  // one peak: the highest total ever held, the same in the chart's data and its caption
  const peak = Math.max(...events.map((p) => p.total));
  expect(Number(await chart.getAttribute('data-peak-bytes'))).toBe(peak);
  expect(peak).toBeGreaterThan(now.total);
  await expect(page.getByTestId('vram-caption')).toContainText('(the highest since the GPU connected)');
  const caption = (await page.getByTestId('vram-caption').textContent()) ?? '';
  expect(caption.match(/peak/g)).toHaveLength(1);
  // the table of points is for screen readers: it takes no room on the page
  expect((await chart.boundingBox())!.height).toBeLessThan(450);
  await chart.screenshot({ path: testInfo.outputPath('vram-stepped.png') });
  // the comparison chart's labels name the model
  await expect(page.getByTestId('compare-chart-box')).toHaveAttribute('aria-label', /#1 kjv-llama · naive, #2 kjv-llama · streamed/);
  await page.getByTestId('compare-chart').screenshot({ path: testInfo.outputPath('compare-labels.png') });
  expect(errors).toEqual([]);
});

test('progress says where the bytes come from: downloading, then reading from the cache; compiling kernels without byte counts', async ({ page }) => {
  await open(page);
  // every progress line the page shows, as it changes
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { progressSeen: string[] }).progressSeen = seen;
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="load-progress-text"]');
      const text = el?.textContent?.replace(/\s+/g, ' ').trim();
      if (text && seen.at(-1) !== text) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const seen = () => page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen.splice(0));
  await load(page, 'streamed');
  await expect(page.getByTestId('load-bytes')).toHaveAttribute('data-state', 'cold');
  const cold = await seen();
  await page.getByTestId('load-button').click(); // the weights are in the cache now
  await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(2, { timeout: 120_000 });
  await expect(page.getByTestId('load-bytes')).toHaveAttribute('data-state', 'warm');
  const warm = await seen();
  test.info().annotations.push({ type: 'progress lines', description: JSON.stringify({ cold, warm }) });
  expect(cold.some((l) => l.startsWith('Downloading'))).toBe(true);
  expect(warm.some((l) => l.startsWith('Reading from the cache'))).toBe(true);
  expect(warm.some((l) => l.startsWith('Downloading'))).toBe(false);
  for (const l of [...cold, ...warm]) {
    expect(l).not.toMatch(/0 B \/ 0 B|0 \/ 0 tensors/);
    if (l.startsWith('Compiling kernels')) expect(l).toBe('Compiling kernels');
  }
  expect([...cold, ...warm]).toContain('Compiling kernels');
});

test('keyboard: focus stays on a control after Load and after Stop', async ({ page, context }, testInfo) => {
  // slow the weights so the load lasts long enough to look at the focus during it
  await context.route('**/model.safetensors', async (route) => {
    await new Promise((r) => setTimeout(r, 700));
    await route.continue().catch(() => {});
  });
  await open(page);
  await page.getByTestId('model-url').fill('models/kjv-llama/');
  await page.getByTestId('strategy').selectOption('streamed');
  await page.getByTestId('load-button').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('cancel-button')).toBeEnabled();
  await expect.poll(() => activeTestId(page)).toBe('cancel-button');
  await settle(page, page.getByTestId('model-info'));
  await expect.poll(() => activeTestId(page)).toBe('load-button');

  await page.getByTestId('max-tokens').fill('2000');
  await page.getByTestId('generate-button').focus();
  await page.keyboard.press('Enter');
  await expect.poll(() => activeTestId(page)).toBe('stop-button');
  await expect(page.getByTestId('output')).not.toBeEmpty({ timeout: 60_000 });
  await page.keyboard.press('Enter'); // Stop, from the keyboard
  await expect(page.getByTestId('stat-stop')).toHaveText('stopped');
  // the message was sent (Send is disabled until the next one is typed): focus is in the message box
  await expect.poll(() => activeTestId(page)).toBe('prompt');
  await page.screenshot({ path: testInfo.outputPath('focus-after-stop.png') });
});

test('a reload keeps the settings and the runs', async ({ page }, testInfo) => {
  await open(page);
  await page.getByTestId('temperature').fill('0.3');
  await page.getByTestId('max-tokens').fill('64');
  await page.getByTestId('top-k').fill('12');
  await page.getByTestId('context-length').fill('512');
  await page.getByTestId('vram-budget').fill('4096');
  await load(page, 'streamed-int8');
  await page.getByTestId('int8-threshold').fill('4.5');
  await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(1);

  await page.reload();
  await expect(page.getByTestId('load-button')).toBeEnabled();
  await expect(page.getByTestId('model-url')).toHaveValue('models/kjv-llama/');
  await expect(page.getByTestId('strategy')).toHaveValue('streamed-int8');
  await expect(page.getByTestId('temperature')).toHaveValue('0.3');
  await expect(page.getByTestId('max-tokens')).toHaveValue('64');
  await expect(page.getByTestId('top-k')).toHaveValue('12');
  await expect(page.getByTestId('context-length')).toHaveValue('512');
  await expect(page.getByTestId('vram-budget')).toHaveValue('4096');
  await expect(page.getByTestId('int8-threshold')).toHaveValue('4.5');
  const rows = page.getByTestId('runs-table').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('kjv-llama');
  await expect(rows.first()).toContainText('streamed-int8');
  await expect(page.getByTestId('compare-chart')).toHaveAttribute('data-points', '1');
  // transient state is not kept: nothing is loaded after a reload, no error, no output
  await expect(page.getByTestId('model-info')).toHaveCount(0);
  await expect(page.getByTestId('error')).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath('reload-kept.png'), fullPage: true });
  // a second load after the reload numbers on
  await page.getByTestId('load-button').click();
  await expect(rows).toHaveCount(2, { timeout: 120_000 });
  await expect(page.getByTestId('compare-chart-box')).toHaveAttribute('aria-label', /#1 kjv-llama · streamed-int8, #2 kjv-llama · streamed-int8/);
});

test('at 420 px the cache table shows every Delete button, named by model, without horizontal scrolling', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 420, height: 900 });
  await open(page);
  await load(page, 'streamed');
  const table = page.getByTestId('cache-table');
  const rows = table.getByTestId('cached-model');
  await expect(rows).toHaveCount(1);
  const del = page.getByRole('button', { name: 'Delete kjv-llama from the cache' });
  await expect(del).toBeVisible();
  for (const button of await table.getByTestId('cache-delete').all()) {
    await button.scrollIntoViewIfNeeded();
    const box = (await button.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(420);
  }
  // nothing scrolls sideways: not the page, not the table's box
  const overflow = await page.evaluate(() => {
    const t = document.querySelector('[data-testid="cache-table"]')!;
    const box = t.parentElement!;
    return { page: document.documentElement.scrollWidth - document.documentElement.clientWidth, table: box.scrollWidth - box.clientWidth };
  });
  expect(overflow).toEqual({ page: 0, table: 0 });
  await page.getByTestId('cache-panel').scrollIntoViewIfNeeded();
  await page.getByTestId('cache-panel').screenshot({ path: testInfo.outputPath('cache-420.png') });
  await page.screenshot({ path: testInfo.outputPath('narrow-420-loaded.png'), fullPage: true });
  await del.click();
  await expect(rows).toHaveCount(0);
});

test('while generating, decode speed is drawn over the answer’s tokens, with the time to first token', async ({ page }, testInfo) => {
  await open(page);
  await load(page, 'streamed');
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('max-tokens').fill('2000');
  await page.getByTestId('generate-button').click();
  const chart = page.getByTestId('token-rate-chart');
  await expect(chart).toBeVisible({ timeout: 60_000 });
  // live: points arrive while the stop button is still active
  await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 60_000 }).toBeGreaterThan(16);
  await expect(page.getByTestId('stop-button')).toBeEnabled();
  await expect(page.getByTestId('token-rate-caption')).toContainText(/first token after .* · now [\d,.]+ tok\/s/);
  await page.locator('.prompt-panel').screenshot({ path: testInfo.outputPath('token-rate-live.png') });
  await page.getByTestId('stop-button').click();
  await expect(page.getByTestId('stat-stop')).toHaveText('stopped');
  // after: the engine's figures, the chart kept with every token
  await expect(chart).toHaveAttribute('data-tokens', /^\d+$/);
  const tokens = Number(await chart.getAttribute('data-tokens'));
  expect(tokens).toBeGreaterThan(17);
  // one rate per token after the first (fewer only where two tokens reached the page in the same instant)
  expect(Number(await chart.getAttribute('data-points'))).toBeLessThanOrEqual(Math.min(tokens - 1, 300));
  await page.locator('.prompt-panel').screenshot({ path: testInfo.outputPath('token-rate-done.png') });
});

test('a generation_config.json value the model cannot take is ignored, said under the loaded model, and replies still come', async ({ page, context }) => {
  await context.route('**/models/kjv-llama/generation_config.json', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, json: { ...(await res.json()), do_sample: true, top_p: 0 } });
  });
  const errors = await open(page);
  await load(page);
  await expect(page.getByTestId('load-notes')).toHaveText(/generation_config\.json: 'top_p' is 0, not a number in \(0, 1\]: ignored \(1 is used\)/);
  await page.getByTestId('max-tokens').fill('3');
  await page.getByTestId('prompt').fill('In the beginning');
  await page.getByTestId('generate-button').click();
  await settle(page, page.getByTestId('stat-stop'));
  expect(errors).toEqual([]);
});
