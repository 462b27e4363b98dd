// The model's read-only weights, built from the loaded tensors under their Hugging Face names. Linear layers come
// from a LinearFactory chosen by the caller (fp16, or LLM.int8 from int8-linear.ts), so the transformer itself has no
// precision branches; embeddings and norms are fp16 tensors.
import type { GpuContext } from '../gpu/device.ts';
import { EngineError } from '../errors.ts';
import type { Config } from './config.ts';
import { Fp16Kernels, Fp16Linear } from './fp16-linear.ts';
import type { LinearLayer } from './linear.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

/** What a linear layer is built from: its module name (e.g. `model.layers.0.self_attn.q_proj`), weight and bias. */
export interface LinearSpec<W = unknown> {
  name: string;
  /** The loaded `${name}.weight` (for lm_head with tied embeddings: model.embed_tokens.weight). */
  weight: W;
  bias: GpuTensor | null;
}

export type LinearFactory = (spec: LinearSpec) => LinearLayer;

export interface LayerWeights {
  attnNorm: GpuTensor; // [dim]
  wq: LinearLayer; // [qDim, dim]
  wk: LinearLayer; // [kvDim, dim]
  wv: LinearLayer; // [kvDim, dim]
  wo: LinearLayer; // [dim, qDim]
  ffnNorm: GpuTensor; // [dim]
  gate: LinearLayer; // [hiddenDim, dim]
  up: LinearLayer; // [hiddenDim, dim]
  down: LinearLayer; // [dim, hiddenDim]
}

export interface Weights {
  embed: GpuTensor; // [vocab, dim]
  layers: LayerWeights[];
  finalNorm: GpuTensor; // [dim]
  lmHead: LinearLayer; // [vocab, dim], maybe the embedding itself (tied)
}

/** The fp16 factory: every weight must be an f16x2 GpuTensor. */
export function fp16LinearFactory(ctx: GpuContext): LinearFactory {
  const kernels = Fp16Kernels.for(ctx);
  return ({ name, weight, bias }) => new Fp16Linear(ctx, kernels, name, weight as GpuTensor, bias);
}

function missing(name: string): never {
  throw new EngineError('bad-file', `the checkpoint has no tensor '${name}'`, { tensor: name });
}

function checkShape(name: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new EngineError('bad-file', `tensor '${name}' has shape [${got}], config.json implies [${want}]`, { tensor: name });
  }
}

export function buildWeights(config: Config, tensors: ReadonlyMap<string, unknown>, linear: LinearFactory): Weights {
  const c = config;
  const fp16 = (name: string, shape: number[]): GpuTensor => {
    const t = (tensors.get(name) ?? missing(name)) as GpuTensor;
    if (t.format !== 'f16x2') throw new EngineError('bad-file', `tensor '${name}' must be fp16 here, is ${t.format}`, { tensor: name });
    checkShape(name, t.shape, shape);
    return t;
  };
  const lin = (name: string, out: number, inp: number, hasBias: boolean, weight?: unknown): LinearLayer => {
    const w = weight ?? tensors.get(`${name}.weight`) ?? missing(`${name}.weight`);
    const layer = linear({ name, weight: w, bias: hasBias ? fp16(`${name}.bias`, [out]) : null });
    checkShape(`${name}.weight`, [layer.outFeatures, layer.inFeatures], [out, inp]);
    return layer;
  };
  const embed = fp16('model.embed_tokens.weight', [c.vocabSize, c.dim]);
  const layers = Array.from({ length: c.nLayers }, (_, l): LayerWeights => {
    const p = `model.layers.${l}`;
    return {
      attnNorm: fp16(`${p}.input_layernorm.weight`, [c.dim]),
      wq: lin(`${p}.self_attn.q_proj`, c.qDim, c.dim, c.qkvBias),
      wk: lin(`${p}.self_attn.k_proj`, c.kvDim, c.dim, c.qkvBias),
      wv: lin(`${p}.self_attn.v_proj`, c.kvDim, c.dim, c.qkvBias),
      wo: lin(`${p}.self_attn.o_proj`, c.dim, c.qDim, c.oBias),
      ffnNorm: fp16(`${p}.post_attention_layernorm.weight`, [c.dim]),
      gate: lin(`${p}.mlp.gate_proj`, c.hiddenDim, c.dim, c.mlpBias),
      up: lin(`${p}.mlp.up_proj`, c.hiddenDim, c.dim, c.mlpBias),
      down: lin(`${p}.mlp.down_proj`, c.dim, c.hiddenDim, c.mlpBias),
    };
  });
  // Tied embeddings: lm_head reads the embedding table (some tied checkpoints still carry a copy of lm_head.weight).
  const lmHead = c.tieWordEmbeddings || !tensors.has('lm_head.weight')
    ? c.tieWordEmbeddings ? lin('lm_head', c.vocabSize, c.dim, false, embed) : missing('lm_head.weight')
    : lin('lm_head', c.vocabSize, c.dim, false);
  return { embed, layers, finalNorm: fp16('model.norm.weight', [c.dim]), lmHead };
}
