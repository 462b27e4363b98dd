// Weights for verify and the model tests through the app's own loader: a local folder is served over HTTP (with
// Range support, scripts/serve-dir.ts), then openModelSource → readTensorMap → loadWeights('streamed'), exactly the
// path the worker takes; a URL is loaded directly. int8 uses the 'streamed-int8' strategy with the LLM.int8 transform.
import { serveDir } from '../../../scripts/serve-dir.ts';
import type { GpuContext } from '../../gpu/device.ts';
import type { BufferGroup } from '../../gpu/ledger.ts';
import { int8WeightTransform } from '../int8-linear.ts';
import { loadWeights } from '../loader.ts';
import { readTensorMap } from '../safetensors.ts';
import { openModelSource } from '../source.ts';

export interface LoadedModelWeights {
  tensors: Map<string, unknown>;
  group: BufferGroup;
  /** Frees the weights and stops the local server. */
  close(): Promise<void>;
}

export async function loadModelWeights(
  ctx: GpuContext,
  dirOrUrl: string,
  opts: { precision?: 'fp16' | 'int8'; maxBindingBytes?: number } = {},
): Promise<LoadedModelWeights> {
  const server = /^https?:\/\//.test(dirOrUrl) ? null : await serveDir(dirOrUrl);
  try {
    const source = await openModelSource(server ? server.url : dirOrUrl);
    const map = await readTensorMap(source.weightFiles, {}, source.weightMap ?? undefined);
    const int8 = opts.precision === 'int8';
    const loaded = await loadWeights(ctx, map, {
      strategy: int8 ? 'streamed-int8' : 'streamed',
      model: dirOrUrl,
      maxBindingBytes: opts.maxBindingBytes,
      transform: int8 ? int8WeightTransform(ctx, { maxBindingBytes: opts.maxBindingBytes }) : undefined,
    });
    return {
      tensors: loaded.tensors as Map<string, unknown>,
      group: loaded.group,
      close: async () => {
        loaded.group.destroy();
        await server?.close();
      },
    };
  } catch (e) {
    await server?.close();
    throw e;
  }
}
