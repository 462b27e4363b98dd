/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// One config for the app (vite dev/build), the Web Worker bundle, and vitest. The app imports the library by its
// package name, resolved here to the library's entry module (the same one the package exports, built).
export default defineConfig({
  plugins: [react()],
  resolve: { alias: [{ find: /^webgpu-llm$/, replacement: fileURLToPath(new URL('./lib/webgpu-llm.ts', import.meta.url)) }] },
  worker: { format: 'es' },
  // errors.html: every error message as the app renders it (src/error-gallery.tsx), for review and e2e
  build: { target: 'es2022', sourcemap: true, rollupOptions: { input: { main: 'index.html', errors: 'errors.html' } } },
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['src/**/*.test.{ts,tsx}', 'lib/**/*.test.ts', 'workers/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: ['**/*.gpu.test.ts', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          environment: 'node',
          include: ['lib/**/*.gpu.test.ts', 'workers/**/*.gpu.test.ts', 'scripts/**/*.gpu.test.ts'],
          // One process for all GPU files: Dawn on a 2-core CPU is slow to start, and SwiftShader/lavapipe share the cores.
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
