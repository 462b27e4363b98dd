// Packs what the lent GPU machine needs to run the CLIs (it has no Node and reaches no registry) into .gpu/
// (ignored through .git/info/exclude): node, dawn.node, the GL/Vulkan loader packages and the CLIs bundled with
// esbuild (`*.wgsl?raw` imported as text, as Vite and scripts/raw-hooks.mjs do). See ../shared/docs/webgpu-runtimes.md.
//   node scripts/device/pack.mjs      then run scripts/device/run.sh there with carry ['.gpu']
import { build } from 'esbuild';
import { execSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

// No options: anything on the command line is a mistake, said with the usage (strict, as every CLI here).
try {
  parseArgs({ args: process.argv.slice(2), options: {}, strict: true, allowPositionals: false });
} catch (e) {
  console.error(`${e.message}\nusage: node scripts/device/pack.mjs   (no options; packs .gpu/ for scripts/device/run.sh)`);
  process.exit(2);
}

const out = '.gpu';
mkdirSync(`${out}/gl`, { recursive: true });
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: new URL(a.path.slice(0, -4), `file://${a.resolveDir}/`).pathname, namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: `export default ${JSON.stringify(readFileSync(a.path, 'utf8'))};`, loader: 'js' }));
  },
};
const entries = { bench: 'scripts/bench.ts', verify: 'scripts/verify.ts', 'gen-checkpoint': 'scripts/gen-checkpoint.ts',
  'serve-dir': 'scripts/serve-dir.ts', 'thread-reader.worker': 'workers/net/thread-reader.worker.ts',
  'bench-matvec': 'scripts/bench-matvec.ts', 'bench-attention': 'scripts/bench-attention.ts' };
for (const [name, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    outfile: `${out}/${name}.mjs`,
    plugins: [rawText],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
}
mkdirSync(`${out}/webgpu`, { recursive: true });
for (const f of ['index.js', 'package.json']) copyFileSync(`node_modules/webgpu/${f}`, `${out}/webgpu/${f}`);
const sh = (c) => execSync(c, { stdio: 'inherit', shell: '/bin/bash' });
if (!existsSync(`${out}/node.xz`)) sh(`xz -T2 -c "$(which node)" > ${out}/node.xz`);
if (!existsSync(`${out}/dawn.node.xz`)) sh(`xz -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > ${out}/dawn.node.xz`);
if (!existsSync(`${out}/gl/libvulkan1.deb`)) {
  sh(`cd ${out}/gl && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 && for f in *.deb; do mv "$f" "$(echo $f | cut -d_ -f1).deb"; done`);
}
// The reference models (../shared does not travel; kjv-llama travels in public/models/).
for (const m of ['random/llama-outliers-fp16', 'random/llama-gqa-bf16', 'random/qwen2-bias-fp32', 'random/mistral-headdim-bf16', 'random/llama-tied-mqa-fp16']) {
  sh(`mkdir -p ${out}/models && cp -r ../shared/models/${m} ${out}/models/`);
}
// The model families' fixtures (6 MB): on a GPU, decode attention takes the split-K passes, windows and soft caps included.
sh(`mkdir -p ${out}/models/families && cp -r ../shared/models/families/. ${out}/models/families/`);
sh(`du -sh ${out}`);
