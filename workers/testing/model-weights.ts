// Weights for verify and the model tests through the app's own loader: a local folder is served over HTTP (with
// Range support, scripts/serve-dir.ts), then openModelSource → readTensorMap → loadWeights('streamed'), exactly the
// path the worker takes; a URL is loaded directly. int8 uses the 'streamed-int8' strategy with the LLM.int8 transform.
import { serveDir } from './http-server.ts';
import type { Int8Scope, LoadStrategy } from '../api.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { checkpointTensors } from '../load/checkpoint-layout.ts';
import { parseConfig } from '../model/config.ts';
import { int8WeightTransform } from '../load/quantize.ts';
import { loadWeights } from '../load/loader.ts';
import { int8Scope } from '../load/plan.ts';
import { readTensorMap } from '../load/safetensors.ts';
import { openModelSource } from '../load/source.ts';

export interface LoadedModelWeights {
  tensors: Map<string, unknown>;
  group: BufferGroup;
  /** The linears quantized (int8), and why an int8 lm_head asked for was not (null: it was, or was not asked). */
  scope: Int8Scope;
  note: string | null;
  /** Frees the weights and stops the local server. */
  close(): Promise<void>;
}

export async function loadModelWeights(
  ctx: GpuContext,
  dirOrUrl: string,
  opts: { precision?: 'fp16' | 'int8'; maxBindingBytes?: number; int8LmHead?: boolean; strategy?: LoadStrategy } = {},
): Promise<LoadedModelWeights> {
  const server = /^https?:\/\//.test(dirOrUrl) ? null : await serveDir(dirOrUrl);
  try {
    const source = await openModelSource(server ? server.url : dirOrUrl);
    const config = parseConfig(source.config);
    // as the app reads it: fused projections taken apart, a multimodal checkpoint's language model (checkpoint-layout.ts)
    const { map } = checkpointTensors(config, await readTensorMap(source.weightFiles, {}, source.weightMap ?? undefined));
    const int8 = opts.precision === 'int8';
    const strategy = opts.strategy ?? (int8 ? 'streamed-int8' : 'streamed');
    // the app's rule (plan.ts int8Scope): lm_head quantized only when asked, and not for tied embeddings
    const { scope, note } = int8Scope({ strategy, int8LmHead: opts.int8LmHead }, config.tieWordEmbeddings);
    const loaded = await loadWeights(ctx, map, {
      strategy,
      model: dirOrUrl,
      maxBindingBytes: opts.maxBindingBytes,
      transform: int8 ? int8WeightTransform(ctx, { maxBindingBytes: opts.maxBindingBytes, scope }) : undefined,
    });
    return {
      scope,
      note,
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
