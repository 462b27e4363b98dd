import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { generateGreedy, REF, settle } from './kjv.ts';

// The whole visit against the real engine: load the embedded kjv-llama with each strategy, generate the reference
// greedy continuation, charts with data, a cancelled load that gives its memory back, and errors in words.

const STRATEGIES = ['naive', 'fp16', 'streamed', 'streamed-int8'] as const;

async function open(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('adapter')).toContainText(/\w/);
  await expect(page.getByTestId('load-button')).toBeEnabled();
  return errors;
}

async function loadModel(page: Page, strategy: string, model = 'models/kjv-llama/'): Promise<void> {
  await page.getByTestId('model-url').fill(model);
  await page.getByTestId('strategy').selectOption(strategy);
  await page.getByTestId('load-button').click();
  await settle(page, page.getByTestId('model-info'));
  await expect(page.getByTestId('model-info')).toContainText(strategy);
}

test('kjv-llama with every strategy: the reference greedy continuation, stats, charts, export', async ({ page }, testInfo) => {
  const errors = await open(page);
  await page.getByTestId('estimate-button').click();
  await settle(page, page.getByTestId('plan-verdict'));
  await expect(page.getByTestId('plan-verdict')).toContainText('Fits');

  for (const [i, strategy] of STRATEGIES.entries()) {
    await test.step(`${strategy}: load and generate`, async () => {
      await loadModel(page, strategy);
      const text = await generateGreedy(page);
      if (strategy === 'streamed-int8') {
        // int8 weights: the greedy path may drift after a while; the opening words must hold
        // (the bar: the first 8 tokens unchanged; seen here: identical for ~30 tokens, then a near-tie flips)
        expect(text.slice(0, 24)).toBe(REF.greedy_text.slice(0, 24));
        testInfo.annotations.push({ type: 'int8 greedy text', description: text });
      } else {
        expect(text).toBe(REF.greedy_text);
      }
      // kjv-llama has no chat template (the preview server's index.html for chat_template.jinja is not one): the
      // chat says how the conversation reaches the model
      await expect(page.getByTestId('chat-format')).toContainText('no chat template');
      const stats = page.getByTestId('stats');
      await expect(stats).toContainText('Time to first token');
      await expect(page.getByTestId('stat-decode')).toContainText('tok/s');
      await expect(page.getByTestId('compare-chart')).toHaveAttribute('data-points', String(i + 1));
      await page.screenshot({ path: testInfo.outputPath(`flow-${strategy}.png`), fullPage: true });
    });
  }

  await expect.poll(async () => Number(await page.getByTestId('vram-chart').getAttribute('data-points'))).toBeGreaterThan(4);
  expect(Number(await page.getByTestId('vram-chart').getAttribute('data-peak-bytes'))).toBeGreaterThan(1_000_000);
  expect(Number(await page.getByTestId('load-chart').getAttribute('data-points'))).toBeGreaterThan(0);
  await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(STRATEGIES.length);
  // Peak host in the worker (no process-level measure there): the JS buffers the loader held, never a false 0 B;
  // naive holds the whole checkpoint, streamed a few chunks.
  const host = await page.getByTestId('run-peak-host').evaluateAll((cells) =>
    cells.map((c) => ({ bytes: Number(c.getAttribute('data-bytes')), source: c.getAttribute('data-source'), text: c.textContent })),
  );
  testInfo.annotations.push({ type: 'peak host by strategy', description: JSON.stringify(host) });
  expect(host.map((h) => h.source)).toEqual(STRATEGIES.map(() => 'loader-accounted'));
  for (const h of host) expect(h.bytes).toBeGreaterThan(0);
  const [naiveHost, , streamedHost] = host.map((h) => h.bytes);
  expect(naiveHost).toBeGreaterThanOrEqual(13_000_000);
  expect(naiveHost).toBeGreaterThan(streamedHost);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-runs').click()]);
  const exported = JSON.parse(readFileSync(await download.path(), 'utf8')) as { runs: { report: { strategy: string } }[] };
  expect(exported.runs.map((r) => r.report.strategy)).toEqual([...STRATEGIES]);
  await download.saveAs(testInfo.outputPath('runs.json'));
  expect(errors).toEqual([]);
});

test('a chat: the second turn reuses the first turn\'s KV cache; a conversation past the context drops its oldest turns', async ({ page }, testInfo) => {
  await open(page);
  await page.getByTestId('context-length').fill('64');
  await loadModel(page, 'streamed');
  expect(await generateGreedy(page)).toBe(REF.greedy_text);
  await expect(page.getByTestId('stat-reused')).toHaveAttribute('data-tokens', '0');

  // turn 2: the conversation so far is kept in the KV cache; only the new message is prefilled
  await page.getByTestId('max-tokens').fill('4');
  await page.getByTestId('prompt').fill('\nAnd God said,');
  await page.getByTestId('generate-button').click();
  await settle(page, page.getByTestId('stat-stop'));
  await expect(page.getByTestId('chat-message')).toHaveCount(4);
  const reused = Number(await page.getByTestId('stat-reused').getAttribute('data-tokens'));
  // the prompt and the 47 reply tokens fed back: the whole first turn
  expect(reused).toBe(REF.ids.length + REF.greedy_ids.length - 1);
  await page.screenshot({ path: testInfo.outputPath('chat-two-turns.png'), fullPage: true });

  // turn 3 does not fit 64 positions with the first turn's 52 tokens in front of it: the chat offers to drop it
  await page.getByTestId('prompt').fill('\nAnd the LORD spake unto Moses, saying,');
  await page.getByTestId('generate-button').click();
  await expect(page.getByTestId('context-overflow')).toContainText('more than the 64');
  await expect(page.getByTestId('trim-turns')).toContainText('oldest turn');
  await expect(page.getByTestId('error')).toHaveCount(0);
  await page.getByTestId('trim-turns').click();
  await settle(page, page.getByTestId('stat-stop'));
  await expect(page.getByTestId('context-overflow')).toHaveCount(0);
  const roles = await page.getByTestId('chat-message').evaluateAll((els) => els.map((e) => e.getAttribute('data-role')));
  expect(roles.at(-1)).toBe('assistant');
  expect(roles.length).toBeLessThan(6);
  await page.screenshot({ path: testInfo.outputPath('chat-trimmed.png'), fullPage: true });

  // new chat: nothing left, and the next reply reuses only what the new prompt shares with the cache
  await page.getByTestId('new-chat').click();
  await expect(page.getByTestId('chat-message')).toHaveCount(0);
});

test('Stop ends a generation early', async ({ page }) => {
  await open(page);
  await loadModel(page, 'streamed');
  await page.getByTestId('max-tokens').fill('1000');
  await page.getByTestId('generate-button').click();
  await expect(page.getByTestId('output')).not.toBeEmpty({ timeout: 60_000 });
  await page.getByTestId('stop-button').click();
  await expect(page.getByTestId('stat-stop')).toHaveText('stopped');
});

test('a cancelled load brings the GPU ledger back to zero', async ({ page, context }, testInfo) => {
  // slow the weights down so there is a load in flight to cancel
  await context.route('**/model.safetensors', async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue().catch(() => {});
  });
  await open(page);
  await page.getByTestId('model-url').fill('models/kjv-llama/');
  await page.getByTestId('strategy').selectOption('streamed');
  await page.getByTestId('load-button').click();
  await settle(page, page.getByTestId('load-progress'), 30_000);
  await expect(page.getByTestId('cancel-button')).toBeEnabled();
  await page.getByTestId('cancel-button').click();
  await expect(page.getByTestId('notice')).toContainText('cancelled');
  await expect(page.getByTestId('error')).toHaveCount(0);
  await expect(page.getByTestId('load-progress')).toHaveCount(0);
  await expect.poll(async () => page.getByTestId('vram-chart').getAttribute('data-current-bytes'), { timeout: 15_000 }).toBe('0');
  await expect(page.getByTestId('compare-chart')).toHaveAttribute('data-points', '0');
  await page.screenshot({ path: testInfo.outputPath('flow-cancelled.png'), fullPage: true });
});

test('a model that is not there: an error in words, with what to do', async ({ page }, testInfo) => {
  await open(page);
  await page.getByTestId('model-url').fill('models/no-such-model/');
  await page.getByTestId('load-button').click();
  const error = page.getByTestId('error');
  await expect(error).toBeVisible({ timeout: 60_000 });
  await expect(error).toHaveAttribute('data-code', /http|network|bad-file/, { timeout: 5_000 });
  await expect(error).toContainText(/not found|URL|check/i);
  await expect(page.getByTestId('load-button')).toBeEnabled();
  await page.screenshot({ path: testInfo.outputPath('flow-bad-url.png'), fullPage: true });
});

test('the estimate says "will not fit, because …" under a tiny VRAM budget', async ({ page }) => {
  await open(page);
  await page.getByTestId('vram-budget').fill('1');
  await page.getByTestId('estimate-button').click();
  await settle(page, page.getByTestId('plan-verdict'));
  await expect(page.getByTestId('plan-verdict')).toContainText('Will not fit');
  await expect(page.getByTestId('plan-reasons')).toContainText('because');
});
