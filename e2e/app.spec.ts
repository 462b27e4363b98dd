import { expect, test } from '@playwright/test';

test('the app opens, the worker reports a WebGPU adapter', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  const adapter = page.getByTestId('adapter');
  // SwiftShader in headless Chromium; any real adapter elsewhere. The text comes from the worker's init().
  await expect(adapter).toContainText(/swiftshader|google|nvidia|amd|intel|apple|arm|qualcomm/i);
  await expect(page.getByTestId('features')).toContainText('shader-f16');
  await page.screenshot({ path: testInfo.outputPath('app-adapter.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test.describe('without WebGPU', () => {
  test.use({
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // the same flags as playwright.config.ts, less --enable-unsafe-webgpu: navigator.gpu gives no adapter
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    },
  });

  test('the page says so instead of going blank', async ({ page }, testInfo) => {
    await page.goto('/');
    await expect(page.getByTestId('no-webgpu')).toContainText('WebGPU is not available');
    await page.screenshot({ path: testInfo.outputPath('no-webgpu.png') });
  });
});
