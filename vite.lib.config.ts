// The library build (npm run build:lib → dist-lib/), in two passes:
//   vite build -c vite.lib.config.ts            the browser entry with its worker bundled in, and the worker on its
//                                                own (for pages that start it themselves, e.g. under a strict CSP);
//   vite build -c vite.lib.config.ts --ssr      the Node entry (engine in-process on Dawn).
// WGSL files are bundled as strings and dependencies are bundled too: the package has no runtime dependencies and
// needs no bundler setting. Types come from tsc (tsconfig.lib.json → dist-lib/types).
import { defineConfig } from 'vite';

export default defineConfig(({ isSsrBuild }) =>
  isSsrBuild
    ? {
        publicDir: false,
        ssr: { noExternal: true, target: 'node' },
        build: {
          ssr: 'lib/node.ts',
          outDir: 'dist-lib',
          emptyOutDir: false,
          target: 'node20',
          sourcemap: true,
          rollupOptions: { output: { entryFileNames: 'node.js', format: 'es' } },
        },
      }
    : {
        publicDir: false,
        worker: { format: 'es' },
        build: {
          outDir: 'dist-lib',
          target: 'es2022',
          sourcemap: true,
          lib: {
            entry: { 'webgpu-llm': 'lib/webgpu-llm.ts', 'engine.worker': 'workers/engine.worker.ts' },
            formats: ['es'],
          },
        },
      },
);
