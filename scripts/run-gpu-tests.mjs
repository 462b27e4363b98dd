// Runs the GPU test project (vitest --project gpu) once per CPU WebGPU adapter that CI installs:
//   SwiftShader (from Debian's chromium package): no shader-f16, 1 GiB storage bindings;
//   Mesa 25 lavapipe ("llvmpipe", from bookworm-backports): shader-f16, 128 MiB storage bindings.
// Each run pins the driver with VK_ICD_FILENAMES and sets EXPECT_ADAPTER so a test on the wrong adapter fails.
// A missing driver is an error, never a skip. Extra arguments go to vitest (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const adapters = [
  { name: 'swiftshader', icd: process.env.SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json', expect: 'swiftshader' },
  { name: 'lavapipe', icd: process.env.LAVAPIPE_ICD ?? '/usr/share/vulkan/icd.d/lvp_icd.json', expect: 'llvmpipe' },
];
const only = process.env.GPU_ADAPTERS?.split(',');
let failed = false;
for (const a of adapters) {
  if (only && !only.includes(a.name)) continue;
  if (!existsSync(a.icd)) {
    console.error(`GPU tests: the ${a.name} Vulkan driver is missing (${a.icd}). Run .ci/run once to install it.`);
    failed = true;
    continue;
  }
  console.log(`\n=== GPU tests on ${a.name} (${a.icd}) ===`);
  const r = spawnSync('npx', ['vitest', 'run', '--project', 'gpu', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, VK_ICD_FILENAMES: a.icd, EXPECT_ADAPTER: a.expect, GPU_ADAPTER_NAME: a.name },
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
