// The model's read-only weights, built from the loaded tensors under their Hugging Face names (checkpoint-layout.ts
// says which the recipe has). Linear layers come from a LinearFactory chosen by the caller (fp16, or LLM.int8 from
// int8-linear.ts), so the transformer itself has no precision branches; embeddings and norms are fp16 tensors.
import type { GpuContext } from '../gpu/device.ts';
import { EngineError } from '../errors.ts';
import { expectedTensors, layerTensorNames } from './tensor-names.ts';
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
  attnNorm: GpuTensor | null; // [dim] before attention (null: OLMo 2's post-norm-only layers)
  wq: LinearLayer; // [qDim, dim]
  wk: LinearLayer; // [kvDim, dim]
  wv: LinearLayer; // [kvDim, dim]
  qNorm: GpuTensor | null; // [headDim] per head, or [qDim] over the projection
  kNorm: GpuTensor | null; // [headDim] per head, or [kvDim] over the projection
  wo: LinearLayer; // [dim, qDim]
  postAttnNorm: GpuTensor | null; // [dim] on the attention output (Gemma's sandwich, OLMo 2)
  ffnNorm: GpuTensor | null; // [dim] before the MLP
  gate: LinearLayer; // [hiddenDim, dim]
  up: LinearLayer; // [hiddenDim, dim]
  down: LinearLayer; // [dim, hiddenDim]
  postFfnNorm: GpuTensor | null; // [dim] on the MLP output
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
  const shapes = expectedTensors(c);
  const fp16 = (name: string): GpuTensor => {
    const t = (tensors.get(name) ?? missing(name)) as GpuTensor;
    if (t.format !== 'f16x2') throw new EngineError('bad-file', `tensor '${name}' must be fp16 here, is ${t.format}`, { tensor: name });
    checkShape(name, t.shape, shapes.get(name)!);
    return t;
  };
  const norm = (name: string | null) => (name === null ? null : fp16(name));
  const lin = (name: string, weight?: unknown): LinearLayer => {
    const w = weight ?? tensors.get(`${name}.weight`) ?? missing(`${name}.weight`);
    const hasBias = shapes.has(`${name}.bias`);
    const layer = linear({ name, weight: w, bias: hasBias ? fp16(`${name}.bias`) : null });
    checkShape(`${name}.weight`, [layer.outFeatures, layer.inFeatures], shapes.get(`${name}.weight`) ?? [c.vocabSize, c.dim]);
    return layer;
  };
  const embed = fp16('model.embed_tokens.weight');
  const layers = Array.from({ length: c.nLayers }, (_, l): LayerWeights => {
    const n = layerTensorNames(c, l);
    return {
      attnNorm: norm(n.attnNorm),
      wq: lin(n.q),
      wk: lin(n.k),
      wv: lin(n.v),
      qNorm: norm(n.qNorm),
      kNorm: norm(n.kNorm),
      wo: lin(n.o),
      postAttnNorm: norm(n.postAttnNorm),
      ffnNorm: norm(n.ffnNorm),
      gate: lin(n.gate),
      up: lin(n.up),
      down: lin(n.down),
      postFfnNorm: norm(n.postFfnNorm),
    };
  });
  // Tied embeddings: lm_head reads the embedding table (some tied checkpoints still carry a copy of lm_head.weight).
  const lmHead = c.tieWordEmbeddings || !tensors.has('lm_head.weight')
    ? c.tieWordEmbeddings ? lin('lm_head', embed) : missing('lm_head.weight')
    : lin('lm_head');
  return { embed, layers, finalNorm: fp16('model.norm.weight'), lmHead };
}
