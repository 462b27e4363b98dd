import { expect, test } from '@playwright/test';

// The same flags as playwright.config.ts, less --enable-unsafe-webgpu: headless Chromium then gives no WebGPU adapter.
test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  },
});

test('without WebGPU the page says so instead of going blank', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.getByTestId('no-webgpu')).toContainText('WebGPU is not available');
  await page.screenshot({ path: testInfo.outputPath('no-webgpu.png') });
});
