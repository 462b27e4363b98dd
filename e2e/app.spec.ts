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
