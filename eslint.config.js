import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/', 'playwright-report/', 'e2e-artifacts/', 'bench-data/', 'public/', '.gpu/'] },
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
    // The UI talks to the engine only through the worker's API type (workers/api.ts) and its error type.
    files: ['src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./workers/(?!api\\.ts$|errors\\.ts$|comlink-errors\\.ts$|engine\\.worker\\.ts\\?worker$)',
              message: 'src/ may import only workers/api.ts, workers/errors.ts, workers/comlink-errors.ts and the worker entry.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['scripts/**/*.{ts,mjs,js}', 'e2e/**/*.ts', '*.config.{ts,js}', '**/*.test.ts'],
    languageOptions: { globals: { ...globals.node } },
  },
);
