// The layer rule of eslint.config.js (workers/README.md) on imports written for the purpose: each wrong-direction
// import is reported, and the allowed ones are not.
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: fileURLToPath(new URL('..', import.meta.url)) });

/** The no-restricted-imports messages for `code` as if it were the file at `path` (from the repository root). */
async function restricted(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer rule', () => {
  it.each([
    ['workers/gpu/x.ts', "import { parseConfig } from '../model/config.ts';"],
    ['workers/kernels/x.ts', "import { loadWeights } from '../load/loader.ts';"],
    ['workers/kernels/x.ts', "import { Transformer } from '../model/transformer.ts';"],
    ['workers/model/x.ts', "import { isQuantizedLinear } from '../load/plan.ts';"],
    ['workers/model/x.ts', "import { LOAD_STRATEGIES } from '../api.ts';"],
    ['workers/model/x.ts', "import { rand } from '../testing/kernel-harness.ts';"],
    ['workers/model/x.ts', "import source from '../../shaders/rmsnorm.wgsl?raw';"],
    ['workers/cache/x.ts', "import type { ModelSource } from '../load/source.ts';"],
    ['workers/cache/x.ts', "import type { GpuTensor } from '../gpu/tensor.ts';"],
    ['workers/net/x.ts', "import { ByteCache } from '../cache/store.ts';"],
    ['workers/net/x.ts', "import type { GpuTensor } from '../gpu/tensor.ts';"],
    ['workers/load/x.ts', "import { serveDir } from '../../scripts/serve-dir.ts';"],
    ['workers/engine.ts', "import { loadKjv } from './testing/kjv.ts';"],
    ['workers/api.ts', "import type { LoadMeter } from './load/load-meter.ts';"],
    ['workers/testing/x.ts', "import { serveDir } from '../../scripts/serve-dir.ts';"],
    ['src/store/x.ts', "import { loadWeights } from '../../workers/load/loader.ts';"],
    ['src/store/x.ts', "import { LlmEngine } from '../../lib/engine-client.ts';"],
    ['src/x.ts', "import { installErrorTransfer } from '../workers/comlink-errors.ts';"],
    ['lib/x.ts', "import { generate } from '../workers/model/generate.ts';"],
    ['lib/x.ts', "import { loadModel } from '../workers/load/load-model.ts';"],
  ])('reports %s: %s', async (path, code) => {
    expect(await restricted(path, code)).toHaveLength(1);
  });

  it.each([
    ['workers/gpu/x.ts', "import { EngineError } from '../errors.ts';"],
    ['workers/kernels/x.ts', "import source from '../../shaders/rmsnorm.wgsl?raw';\nimport type { GpuTensor } from '../gpu/tensor.ts';"],
    ['workers/model/x.ts', "import type { GenerateOptions } from '../api.ts';\nimport { RmsNorm } from '../kernels/rmsnorm.ts';"],
    ['workers/cache/x.ts', "import { fileName } from '../net/http.ts';\nimport type { HostLedger } from '../gpu/host-ledger.ts';"],
    ['workers/net/x.ts', "import type { HostLedger } from '../gpu/host-ledger.ts';"],
    ['workers/load/x.ts', "import { ByteCache } from '../cache/store.ts';\nimport { Transformer } from '../model/transformer.ts';"],
    ['workers/engine.ts', "import { loadModel } from './load/load-model.ts';"],
    ['workers/api.ts', "import type { GpuInfo } from './gpu/device.ts';"],
    ['workers/testing/x.ts', "import { loadWeights } from '../load/loader.ts';"],
    ['workers/model/x.gpu.test.ts', "import { rand } from '../testing/kernel-harness.ts';\nimport { quantizeLinear } from '../load/quantize.ts';"],
    ['src/store/x.ts', "import type { LoadRequest } from '../../workers/api.ts';"],
    ['src/store/x.ts', "import { createEngine, trimOldestTurns } from 'webgpu-llm';"],
    ['lib/x.ts', "import { Engine } from '../workers/engine.ts';\nimport type { ModelInfo } from '../workers/api.ts';"],
    ['lib/x.ts', "import EngineWorker from '../workers/engine.worker.ts?worker&inline';"],
  ])('allows %s: %s', async (path, code) => {
    expect(await restricted(path, code)).toEqual([]);
  });
});
