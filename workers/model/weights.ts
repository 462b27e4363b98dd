// The model's read-only weights, built from the loaded tensors under their Hugging Face names (tensor-names.ts says
// which the recipe has; checkpoint-layout.ts maps other layouts onto them). Linear layers come from a LinearFactory
// chosen by the caller (fp16, or LLM.int8 from int8-linear.ts), so the transformer itself has no precision branches;
// embeddings and norms are fp16 tensors. The products that read the same x are one layer each:
// q/k/v (rows stacked: the one-token product rotates q and k and appends k and v to the cache in its epilogue) and
// gate/up (rows in blocks: its epilogue is the GLU), one read of their weights per token.
import type { GpuContext } from '../gpu/device.ts';
import { EngineError } from '../errors.ts';
import type { Config } from './config.ts';
import { expectedTensors, layerTensorNames } from './tensor-names.ts';
import { interleavedRows, stackedRows, type RowSegment } from './concat-rows.ts';
import { Fp16Kernels, Fp16Linear, joinFp16 } from './fp16-linear.ts';
import { isInt8Weight } from './int8-linear.ts';
import { gluBlock, type LinearLayer } from './linear.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { MatVecOptions } from '../kernels/matvec-io.ts';

/**
 * What a linear layer is built from: its name (a module, e.g. `model.layers.0.self_attn.o_proj`, or a fused one,
 * `model.layers.0.self_attn.qkv_proj`), the loaded weights whose rows make its weight — one, or several joined in the
 * order of `rows` — and their biases. A layer joining several (or whose rows are not whole vec4 words) copies them into
 * one new weight and releases the loaded ones, unless `shared` (tied lm_head: the embedding table).
 */
export interface LinearSpec<W = unknown> {
  name: string;
  weights: readonly W[];
  biases: readonly (GpuTensor | null)[];
  rows: readonly RowSegment[];
  /** Parts of a split weight start at multiples of this many rows (the epilogue's pair block; 1: anywhere). */
  rowMultiple: number;
  shared: boolean;
}

export type LinearFactory = (spec: LinearSpec) => LinearLayer;

export interface LayerWeights {
  attnNorm: GpuTensor | null; // [dim] before attention (null: OLMo 2's post-norm-only layers)
  qkv: LinearLayer; // [qDim + 2 kvDim, dim]: q_proj, k_proj, v_proj rows stacked
  qNorm: GpuTensor | null; // [headDim] per head, or [qDim] over the projection
  kNorm: GpuTensor | null; // [headDim] per head, or [kvDim] over the projection
  o: LinearLayer; // [dim, qDim]
  postAttnNorm: GpuTensor | null; // [dim] on the attention output (Gemma's sandwich, OLMo 2)
  ffnNorm: GpuTensor | null; // [dim] before the MLP
  gateUp: LinearLayer; // [2 hiddenDim, dim]: gate_proj and up_proj rows in blocks of gluBlock(hiddenDim)
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
export function fp16LinearFactory(ctx: GpuContext, opts: { maxBindingBytes?: number; matvec?: MatVecOptions } = {}): LinearFactory {
  const kernels = Fp16Kernels.for(ctx, { matvec: opts.matvec });
  return (spec) => {
    const { weight, bias } = joinFp16(ctx, { ...spec, weights: spec.weights as GpuTensor[] }, opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize);
    return new Fp16Linear(ctx, kernels, spec.name, weight, bias);
  };
}

function missing(name: string): never {
  throw new EngineError('bad-file', `the checkpoint has no tensor '${name}'`, { tensor: name });
}

function checkShape(name: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new EngineError('bad-file', `tensor '${name}' has shape [${got}], config.json implies [${want}]`, { tensor: name });
  }
}

/** The shape of a loaded weight (an fp16 GpuTensor, or an Int8Weight made of one). */
function shapeOf(w: unknown): readonly number[] {
  return isInt8Weight(w) ? w.weight.shape : (w as GpuTensor).shape;
}

/**
 * The model's weights from the loaded tensors, through `linear` for the linear layers. Takes the linear weights over:
 * q/k/v and gate/up are joined into one weight each and the loaded ones released, so build the weights of a load once.
 */
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
  /** The loaded weight and bias of module `name`, checked against the recipe's shapes. */
  const part = (name: string, shape?: number[]) => {
    const weight = tensors.get(`${name}.weight`) ?? missing(`${name}.weight`);
    checkShape(`${name}.weight`, shapeOf(weight), shape ?? shapes.get(`${name}.weight`)!);
    return { weight, bias: shapes.has(`${name}.bias`) ? fp16(`${name}.bias`) : null };
  };
  const lin = (name: string, parts: { weight: unknown; bias: GpuTensor | null }[], rows: RowSegment[], rowMultiple: number, shared = false) =>
    linear({ name, weights: parts.map((q) => q.weight), biases: parts.map((q) => q.bias), rows, rowMultiple, shared });
  const embed = fp16('model.embed_tokens.weight');
  const block = gluBlock(c.hiddenDim);
  const layers = Array.from({ length: c.nLayers }, (_, l): LayerWeights => {
    const n = layerTensorNames(c, l);
    const p = `model.layers.${l}`;
    return {
      attnNorm: norm(n.attnNorm),
      qkv: lin(`${p}.self_attn.qkv_proj`, [part(n.q), part(n.k), part(n.v)], stackedRows([c.qDim, c.kvDim, c.kvDim]), c.headDim),
      qNorm: norm(n.qNorm),
      kNorm: norm(n.kNorm),
      o: lin(n.o, [part(n.o)], stackedRows([c.dim]), 1),
      postAttnNorm: norm(n.postAttnNorm),
      ffnNorm: norm(n.ffnNorm),
      gateUp: lin(`${p}.mlp.gate_up_proj`, [part(n.gate), part(n.up)], interleavedRows(2, c.hiddenDim, block), 2 * block),
      down: lin(n.down, [part(n.down)], stackedRows([c.dim]), 1),
      postFfnNorm: norm(n.postFfnNorm),
    };
  });
  // Tied embeddings: lm_head reads the embedding table (some tied checkpoints still carry a copy of lm_head.weight).
  const head = c.tieWordEmbeddings
    ? { weight: embed, bias: null }
    : tensors.has('lm_head.weight')
      ? part('lm_head', [c.vocabSize, c.dim])
      : missing('lm_head.weight');
  const lmHead = lin('lm_head', [head], stackedRows([c.vocabSize]), 1, c.tieWordEmbeddings);
  return { embed, layers, finalNorm: fp16('model.norm.weight'), lmHead };
}
