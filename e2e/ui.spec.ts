import { expect, test, type Page } from '@playwright/test';

// What works without the engine: the controls, their labels, validation, keyboard order, and the layout at two widths.

async function open(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('adapter')).toContainText(/swiftshader|google|nvidia|amd|intel|apple|arm|qualcomm/i);
  return errors;
}

const CONTROLS = [
  'model-url',
  'model-preset',
  'strategy',
  'context-length',
  'vram-budget',
  'int8-threshold',
  'int8-lm-head',
  'estimate-button',
  'load-button',
  'cancel-button',
  'hub-token',
  'remember-hub-token',
  'revision',
  'system-prompt',
  'prompt',
  'generate-button',
  'stop-button',
  'new-chat',
  'temperature',
  'top-k',
  'top-p',
  'repetition-penalty',
  'seed',
  'max-tokens',
  'export-runs',
];

test('every control is present and has an accessible name', async ({ page }) => {
  const errors = await open(page);
  for (const id of CONTROLS) {
    const el = page.getByTestId(id);
    await expect(el, id).toBeVisible();
    const name = await el.evaluate((node) => {
      const e = node as HTMLInputElement;
      const labels = e.labels ? Array.from(e.labels).map((l) => l.textContent ?? '') : [];
      return (labels.join(' ') || e.getAttribute('aria-label') || e.textContent || '').trim();
    });
    expect(name, `${id} has a label`).not.toBe('');
  }
  for (const id of ['vram-chart', 'load-chart', 'compare-chart']) {
    await expect(page.getByTestId(id)).toHaveAttribute('data-points', /^\d+$/);
  }
  // the presets include the embedded model (the default) and the hub models
  await expect(page.getByTestId('model-url')).toHaveValue('models/kjv-llama/');
  const presets = await page.getByTestId('model-preset').locator('option').allTextContents();
  expect(presets.join("|")).toMatch(/SmolLM2 135M.*SmolLM2 360M.*Qwen2\.5 0\.5B.*TinyLlama.*Llama 3\.2 1B.*Qwen3 0\.6B.*Gemma 2 2B.*Gemma 3 1B.*Phi-4 mini.*SmolLM3 3B.*OLMo 2 1B.*Granite 3\.3 2B/);
  const strategies = await page.getByTestId('strategy').locator('option').allTextContents();
  expect(strategies).toEqual(['naive', 'fp16', 'streamed', 'streamed-int8']);
  // nothing loaded: nothing to generate, stop or cancel
  await expect(page.getByTestId('generate-button')).toBeDisabled();
  await expect(page.getByTestId('stop-button')).toBeDisabled();
  await expect(page.getByTestId('cancel-button')).toBeDisabled();
  await expect(page.getByTestId('load-button')).toBeEnabled();
  expect(errors).toEqual([]);
});

test('a bad model URL is flagged at the field and, on Load, in the error banner', async ({ page }, testInfo) => {
  await open(page);
  const url = page.getByTestId('model-url');
  await url.fill('not a model url');
  await url.blur();
  await expect(page.getByTestId('model-url-error')).toContainText('spaces');
  await expect(url).toHaveAttribute('aria-invalid', 'true');
  await page.getByTestId('load-button').click();
  const error = page.getByTestId('error');
  await expect(error).toBeVisible();
  await expect(error).toContainText('Check the model URL');
  await expect(error).toHaveAttribute('data-code', 'bad-input');
  await expect(error).toBeInViewport();
  await page.screenshot({ path: testInfo.outputPath('ui-bad-url.png') });

  await url.fill('ftp://example.com/model/');
  await expect(page.getByTestId('model-url-error')).toContainText('http');
  await url.fill('HuggingFaceTB/SmolLM2-135M-Instruct');
  await expect(page.getByTestId('model-url-error')).toHaveCount(0);
  await expect(url).not.toHaveAttribute('aria-invalid', 'true');
  // choosing a preset fills the field
  await page.getByTestId('model-preset').selectOption('models/kjv-llama/');
  await expect(url).toHaveValue('models/kjv-llama/');
  await page.getByRole('button', { name: 'Dismiss the error' }).click();
  await expect(page.getByTestId('error')).toHaveCount(0);
});

test('the hub token stays in the page unless the person ticks remember', async ({ page }) => {
  await open(page);
  await page.getByTestId('hub-token').fill('hf_secret');
  await expect(page.getByTestId('hub-token')).toHaveAttribute('type', 'password');
  expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain('hf_secret');
  await page.reload();
  await expect(page.getByTestId('hub-token')).toHaveValue('');
  await page.getByTestId('hub-token').fill('hf_secret');
  await page.getByTestId('remember-hub-token').check();
  expect(await page.evaluate(() => localStorage.getItem('webgpu-llm.hub-token'))).toBe('hf_secret');
  await page.reload();
  await expect(page.getByTestId('hub-token')).toHaveValue('hf_secret');
  await page.getByTestId('remember-hub-token').uncheck();
  expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain('hf_secret');
  await page.reload();
  await expect(page.getByTestId('hub-token')).toHaveValue('');
});

test('keyboard focus follows the page: model, estimate, load, prompt, sampling, export', async ({ page }) => {
  await open(page);
  await page.getByTestId('prompt').fill('In the beginning');
  await page.locator('body').click({ position: { x: 2, y: 2 } });
  const order: string[] = [];
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName ?? '');
    if (id === 'BODY') break;
    order.push(id);
  }
  const pos = (id: string) => order.indexOf(id);
  for (const id of ['model-preset', 'model-url', 'strategy', 'estimate-button', 'load-button', 'prompt', 'temperature', 'max-tokens']) {
    expect(pos(id), `${id} is reachable by Tab (order: ${order.join(', ')})`).toBeGreaterThanOrEqual(0);
  }
  expect(pos('model-url')).toBeLessThan(pos('strategy'));
  expect(pos('strategy')).toBeLessThan(pos('estimate-button'));
  expect(pos('estimate-button')).toBeLessThan(pos('load-button'));
  expect(pos('load-button')).toBeLessThan(pos('prompt'));
  expect(pos('prompt')).toBeLessThan(pos('temperature'));
  // disabled buttons are skipped
  expect(pos('generate-button')).toBe(-1);
  // the int8 options wait for streamed-int8
  await expect(page.getByTestId('int8-lm-head')).toBeDisabled();
  // a select changes with the keyboard
  await page.getByTestId('strategy').focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByTestId('strategy')).toHaveValue('streamed-int8');
  await expect(page.getByTestId('int8-threshold')).toBeEnabled();
  await expect(page.getByTestId('int8-lm-head')).toBeEnabled();
  await expect(page.getByTestId('int8-lm-head')).not.toBeChecked();
});

for (const size of [
  { name: 'desktop-1280x800', width: 1280, height: 800 },
  { name: 'narrow-420', width: 420, height: 900 },
]) {
  test(`layout at ${size.name}: no horizontal overflow; screenshot kept`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width: size.width, height: size.height });
    await open(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const id of ['model-url', 'load-button', 'prompt', 'generate-button', 'vram-chart']) {
      const box = await page.getByTestId(id).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.x + box!.width, `${id} fits the width`).toBeLessThanOrEqual(size.width);
    }
    const path = testInfo.outputPath(`ui-${size.name}.png`);
    await page.screenshot({ path, fullPage: true });
    await testInfo.attach(`ui-${size.name}`, { path, contentType: 'image/png' });
  });
}
