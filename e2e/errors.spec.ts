import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';

// Every error code in the app's own words. errors.html renders each code (and each variant of a code) with the
// app's banner: each has its own title and its own next steps. Then the failures a person can cause, for real,
// each with the words that fit its cause.

test('every error code renders its own message, with what to do next', async ({ page }, testInfo) => {
  await page.goto('/errors.html');
  const items = page.getByTestId('gallery-item');
  await expect(items).toHaveCount(17);
  const worded = await items.evaluateAll((els) =>
    els.map((el) => ({
      code: el.getAttribute('data-code'),
      bannerCode: el.querySelector('[data-testid="error"]')?.getAttribute('data-code'),
      title: el.querySelector('[data-testid="error-title"]')?.textContent ?? '',
      steps: [...el.querySelectorAll('[data-testid="error-steps"] li')].map((li) => li.textContent ?? ''),
    })),
  );
  for (const w of worded) {
    expect(w.bannerCode).toBe(w.code);
    expect(w.title.length, w.code!).toBeGreaterThan(10);
    if (w.code !== 'cancelled') expect(w.steps.length, `${w.code} says what to do next`).toBeGreaterThan(0);
  }
  expect(new Set(worded.map((w) => w.title)).size).toBe(17);
  const withSteps = worded.filter((w) => w.code !== 'cancelled');
  expect(new Set(withSteps.map((w) => w.steps.join('\n'))).size).toBe(withSteps.length);
  await expect(page.getByTestId('gallery-variant')).toHaveCount(10);
  await page.screenshot({ path: testInfo.outputPath('errors-gallery.png'), fullPage: true });
});

async function open(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('load-button')).toBeEnabled();
}

async function failLoad(page: Page, model: string, strategy: string, code: string): Promise<{ title: string; steps: string }> {
  await page.getByTestId('model-url').fill(model);
  await page.getByTestId('strategy').selectOption(strategy);
  await page.getByTestId('load-button').click();
  const error = page.getByTestId('error');
  await expect(error).toBeVisible({ timeout: 90_000 });
  await expect(error).toHaveAttribute('data-code', code);
  await expect(page.getByTestId('load-button')).toBeEnabled();
  await expect.poll(async () => page.getByTestId('vram-chart').getAttribute('data-current-bytes'), { timeout: 15_000 }).toBe('0');
  return { title: (await error.getByTestId('error-title').textContent()) ?? '', steps: (await error.getByTestId('error-steps').textContent()) ?? '' };
}

test('a folder without tokenizer.json: names the file and says the folder needs it', async ({ page, context }, testInfo) => {
  await context.route('**/models/kjv-llama/tokenizer.json', (route) => route.fulfill({ status: 404, body: 'not here' }));
  await open(page);
  const e = await failLoad(page, 'models/kjv-llama/', 'streamed', 'bad-file');
  expect(e.title).toBe('The model folder has no tokenizer.json');
  expect(e.steps).toMatch(/needs tokenizer\.json in the model folder/);
  expect(e.steps).not.toMatch(/try loading again/i);
  // nothing of the failed load is listed in the cache panel
  await expect(page.getByTestId('cache-panel').getByTestId('cached-model')).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath('error-missing-tokenizer.png') });
});

test('a hub id with no network: the hub could not be reached', async ({ page, context }, testInfo) => {
  await open(page);
  await context.setOffline(true);
  const e = await failLoad(page, 'HuggingFaceTB/SmolLM2-135M-Instruct', 'streamed', 'offline');
  expect(e.title).toBe('The Hugging Face hub could not be reached');
  expect(e.steps).toMatch(/internet connection/);
  // without the cache: fetch's failure is asked again (net/fetch-failure.ts), nothing answers: an unreachable network
  await page.getByTestId('strategy').selectOption('fp16');
  await page.getByTestId('load-button').click();
  await expect(page.getByTestId('error')).toHaveAttribute('data-code', 'network', { timeout: 90_000 });
  await expect(page.getByTestId('error-title')).toHaveText('The Hugging Face hub could not be reached');
  await page.screenshot({ path: testInfo.outputPath('error-hub-offline.png') });
});

test('another server without CORS: the browser blocked it, naming the server', async ({ page }) => {
  // a real second origin that answers but sends no Access-Control-Allow-Origin (a routed answer would pass CORS)
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    await open(page);
    const e = await failLoad(page, `http://127.0.0.1:${port}/tiny/`, 'fp16', 'cors');
    expect(e.title).toBe(`The browser blocked the download from 127.0.0.1:${port} (CORS)`);
    expect(e.steps).toMatch(/Access-Control-Allow-Origin/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('an architecture the engine does not run, a model that will not fit, a file not found: each in its words', async ({ page, context }) => {
  // kjv-llama's config.json as a GPT-2 one
  await context.route('**/models/kjv-llama/config.json', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, json: { ...(await res.json()), model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] } });
  });
  await open(page);
  const unsupported = await failLoad(page, 'models/kjv-llama/', 'streamed', 'unsupported');
  expect(unsupported.title).toBe('This model or feature is not supported');
  await context.unroute('**/models/kjv-llama/config.json');

  await page.getByTestId('vram-budget').fill('1');
  const fit = await failLoad(page, 'models/kjv-llama/', 'streamed', 'will-not-fit');
  expect(fit.title).toBe('The model will not fit');
  expect(fit.steps).toMatch(/streamed-int8/);
  await page.getByTestId('vram-budget').fill('');

  const missing = await failLoad(page, 'models/no-such-model/', 'streamed', 'http');
  expect(missing.title).toBe('A model file was not found (config.json)');
  expect(missing.steps).toMatch(/spelling/);
});

test('the network dropping under a load without the cache: the request failed, naming the file', async ({ page, context }) => {
  await context.route('**/models/kjv-llama/model.safetensors', (route) => route.abort('connectionreset'));
  await open(page);
  const e = await failLoad(page, 'models/kjv-llama/', 'fp16', 'network');
  expect(e.title).toBe('The network request failed (model.safetensors)');
  expect(e.steps).toMatch(/then load again/);
});
