import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

// The engine's layers (workers/README.md): what each folder's production files may import, besides its own folder,
// workers/errors.ts (the error type, which anything may import) and the packages. A folder lower in this list never
// imports one above it. `api` marks the public API's types (workers/api.ts), importable with `import type` only; an
// entry ending in .ts allows that one file of a folder.
// Tests (*.test.ts) may import anything; production code never imports workers/testing/ or scripts/.
const LAYERS = {
  load: ['model', 'kernels', 'gpu', 'net', 'cache', 'api'],
  cache: ['net', 'gpu/host-ledger.ts'],
  net: ['gpu/host-ledger.ts'],
  model: ['kernels', 'gpu', 'api'],
  kernels: ['gpu', '../shaders'],
  gpu: [],
  testing: ['load', 'cache', 'net', 'model', 'kernels', 'gpu', 'api', '../shaders'],
};
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
function layerRule(folder, allowed) {
  const ok = [...allowed.filter((a) => a !== 'api').map((a) => (a.endsWith('.ts') ? `${esc(a)}$` : `${esc(a)}/`)), 'errors\\.ts$'];
  if (allowed.includes('api')) ok.push('api\\.ts$');
  const patterns = [
    {
      regex: `^\\.\\./(?!${ok.join('|')})`,
      message: `workers/${folder}/ may import only ${allowed.map((a) => (a === 'api' ? 'api.ts (types)' : a.startsWith('..') ? a.slice(3) + '/' : a.endsWith('.ts') ? a : a + '/')).join(', ')} and errors.ts (workers/README.md).`,
    },
  ];
  if (allowed.includes('api') && folder !== 'testing') {
    patterns.push({ regex: '^\\.\\./api\\.ts$', allowTypeImports: true, message: 'the public API (api.ts) is imported for its types only (import type).' });
  }
  return {
    files: [`workers/${folder}/**/*.{ts,mjs}`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'dist-lib/', 'node_modules/', 'test-results/', 'playwright-report/', 'e2e-artifacts/', 'bench-data/', 'public/', '.gpu/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.tsx', 'src/**/*.ts'],
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules },
  },
  {
    // The UI talks to the engine only through the library's public entry ('webgpu-llm', as any web app does), plus
    // the API's types and the error type.
    files: ['src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?:\\.\\./)+(?:workers/(?!api\\.ts$|errors\\.ts$)|lib/)',
              message: "src/ imports the engine through 'webgpu-llm' (the library's entry), and only workers/api.ts and workers/errors.ts for types.",
            },
          ],
        },
      ],
    },
  },
  {
    // The library (lib/) wraps the engine's top: the worker entry, the API and error types, and the two pieces of
    // generation it shares with the UI (chat turns, sampling defaults); lib/node.ts also runs the Engine in-process.
    files: ['lib/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^\\.\\./workers/(?!api\\.ts$|errors\\.ts$|comlink-errors\\.ts$|engine\\.worker\\.ts\\?worker&inline$|engine\\.ts$|cache/fs\\.node\\.ts$|model/chat-prompt\\.ts$|model/generation-config\\.ts$)',
              message: 'lib/ reaches the engine through its top (engine.ts, the worker entry, api.ts, errors.ts) and chat-prompt / generation-config.',
            },
          ],
        },
      ],
    },
  },
  ...Object.entries(LAYERS).map(([folder, allowed]) => layerRule(folder, allowed)),
  {
    // The engine's top (engine.ts, the worker entry, the API and error types): any layer, never testing/ or scripts/.
    files: ['workers/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\./testing/|\\.\\./)', message: 'production code never imports workers/testing/, scripts/ or src/.' }] },
      ],
    },
  },
  {
    // The public API's types and the error type sit under the layers that use them: they import only gpu/ types.
    files: ['workers/api.ts', 'workers/errors.ts', 'workers/comlink-errors.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.(?!/(gpu/|errors\\.ts$))', message: 'api.ts and the error types import only gpu/ types and errors.ts.' }] },
      ],
    },
  },
  {
    files: ['scripts/**/*.{ts,mjs,js}', 'e2e/**/*.ts', '*.config.{ts,js}', '**/*.test.ts'],
    languageOptions: { globals: { ...globals.node } },
  },
);
