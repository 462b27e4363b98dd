// The model's read-only weights, built from the loaded tensors under their Hugging Face names. Linear layers come
// from a LinearFactory chosen by the caller (fp16, or LLM.int8 from int8-linear.ts), so the transformer itself has no
// precision branches; embeddings and norms are fp16 tensors. The products that read the same x are one layer each:
// q/k/v (rows stacked: the one-token product rotates q and k and appends k and v to the cache in its epilogue) and
// gate/up (rows in blocks: its epilogue is the GLU), one read of their weights per token.
import type { GpuContext } from '../gpu/device.ts';
import { EngineError } from '../errors.ts';
import type { Config } from './config.ts';
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
  attnNorm: GpuTensor; // [dim]
  qkv: LinearLayer; // [qDim + 2 kvDim, dim]: q_proj, k_proj, v_proj rows stacked
  o: LinearLayer; // [dim, qDim]
  ffnNorm: GpuTensor; // [dim]
  gateUp: LinearLayer; // [2 hiddenDim, dim]: gate_proj and up_proj rows in blocks of gluBlock(hiddenDim)
  down: LinearLayer; // [dim, hiddenDim]
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
  const fp16 = (name: string, shape: number[]): GpuTensor => {
    const t = (tensors.get(name) ?? missing(name)) as GpuTensor;
    if (t.format !== 'f16x2') throw new EngineError('bad-file', `tensor '${name}' must be fp16 here, is ${t.format}`, { tensor: name });
    checkShape(name, t.shape, shape);
    return t;
  };
  /** The loaded weight and bias of module `name`, checked against [out, in]. */
  const part = (name: string, out: number, inp: number, hasBias: boolean) => {
    const weight = tensors.get(`${name}.weight`) ?? missing(`${name}.weight`);
    checkShape(`${name}.weight`, shapeOf(weight), [out, inp]);
    return { weight, bias: hasBias ? fp16(`${name}.bias`, [out]) : null };
  };
  const lin = (name: string, parts: { weight: unknown; bias: GpuTensor | null }[], rows: RowSegment[], rowMultiple: number, shared = false) =>
    linear({ name, weights: parts.map((q) => q.weight), biases: parts.map((q) => q.bias), rows, rowMultiple, shared });
  const embed = fp16('model.embed_tokens.weight', [c.vocabSize, c.dim]);
  const block = gluBlock(c.hiddenDim);
  const layers = Array.from({ length: c.nLayers }, (_, l): LayerWeights => {
    const p = `model.layers.${l}`;
    const [q, k, v] = [['q', c.qDim], ['k', c.kvDim], ['v', c.kvDim]].map(([n, out]) => part(`${p}.self_attn.${n}_proj`, out as number, c.dim, c.qkvBias));
    const o = part(`${p}.self_attn.o_proj`, c.dim, c.qDim, c.oBias);
    const [gate, up] = ['gate', 'up'].map((n) => part(`${p}.mlp.${n}_proj`, c.hiddenDim, c.dim, c.mlpBias));
    const down = part(`${p}.mlp.down_proj`, c.dim, c.hiddenDim, c.mlpBias);
    return {
      attnNorm: fp16(`${p}.input_layernorm.weight`, [c.dim]),
      qkv: lin(`${p}.self_attn.qkv_proj`, [q, k, v], stackedRows([c.qDim, c.kvDim, c.kvDim]), c.headDim),
      o: lin(`${p}.self_attn.o_proj`, [o], stackedRows([c.dim]), 1),
      ffnNorm: fp16(`${p}.post_attention_layernorm.weight`, [c.dim]),
      gateUp: lin(`${p}.mlp.gate_up_proj`, [gate, up], interleavedRows(2, c.hiddenDim, block), 2 * block),
      down: lin(`${p}.mlp.down_proj`, [down], stackedRows([c.dim]), 1),
    };
  });
  // Tied embeddings: lm_head reads the embedding table (some tied checkpoints still carry a copy of lm_head.weight).
  const head = c.tieWordEmbeddings ? { weight: embed, bias: null } : tensors.has('lm_head.weight') ? part('lm_head', c.vocabSize, c.dim, false) : missing('lm_head.weight');
  const lmHead = lin('lm_head', [head], stackedRows([c.vocabSize]), 1, c.tieWordEmbeddings);
  return { embed, layers, finalNorm: fp16('model.norm.weight', [c.dim]), lmHead };
}
