// Plan before allocating: from config and safetensors headers alone (no weight byte read), the GPU bytes every
// tensor needs in the chosen precision, plus the KV cache and activations for the chosen context, checked against
// the adapter's limits and an optional VRAM budget. A plan that does not fit says why, before any download.
import type { Int8Scope, LoadStrategy, PlanReport } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { GpuLimits } from '../gpu/device.ts';
import { alignedSize, zeroBytes, type CategoryBytes } from '../gpu/ledger.ts';
import { attentionPartialBytes, decodeChunks, DEFAULT_MIN_CHUNK, DEFAULT_SPLIT_WORKGROUPS } from '../kernels/attention.ts';
import { kvCacheRows, maxContext, type Config } from '../model/config.ts';
import { kvCacheLayout } from '../model/run-state.ts';
import { quantizeScratchBytes } from './quantize-scratch.ts';
import { expectedTensors } from '../model/tensor-names.ts';
import { elementCount, type TensorRecord } from './safetensors.ts';
import { rowCount, rowLength, wordsPerRow } from '../gpu/tensor.ts';

/** What the plan needs to know of a decoder-only transformer. */
export interface ModelShape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  intermediate: number;
  /** The model's maximum context (max_position_embeddings). */
  maxContext: number;
  tiedEmbeddings: boolean;
  /** Per layer: its sliding window (its KV cache is a ring, kvCacheRows), or null for global attention. */
  windows: readonly (number | null)[];
  /** q and k are normed after their projections: two more activation buffers (q and k before their norms). */
  qkNorm: boolean;
  /** Rotary dims of each distinct RoPE: one (cos, sin) table of context × dims / 2 pairs each. */
  ropeDims: readonly number[];
  /** The tensors the checkpoint must hold, by name, with their shapes (checkpoint-layout.ts expectedTensors). */
  tensors: ReadonlyMap<string, readonly number[]>;
}

export function modelShape(c: Config): ModelShape {
  return {
    layers: c.nLayers,
    hidden: c.dim,
    heads: c.nHeads,
    kvHeads: c.nKvHeads,
    headDim: c.headDim,
    vocab: c.vocabSize,
    intermediate: c.hiddenDim,
    maxContext: maxContext(c),
    tiedEmbeddings: c.tieWordEmbeddings,
    windows: c.layers.map((l) => l.window),
    qkNorm: c.qkNorm !== 'none',
    ropeDims: c.ropes.map((r) => r.rotaryDims),
    tensors: expectedTensors(c),
  };
}

/**
 * The one rule for which weights `streamed-int8` quantizes (the plan's bytes, int8WeightTransform, the cached int8
 * weights of the cache): 2-D `*_proj.weight`s inside decoder layers, and with scope 'decoder+lm_head' also
 * `lm_head.weight`. Embeddings and norms always stay fp16. The scope must come from int8Scope(), which never gives
 * 'decoder+lm_head' for tied embeddings (lm_head is then the embedding table, which the gather reads in fp16).
 */
export function isQuantizedLinear(name: string, shape: readonly number[], scope: Int8Scope = 'decoder'): boolean {
  if (shape.length !== 2) return false;
  if (scope === 'decoder+lm_head' && name === 'lm_head.weight') return true;
  return /\.layers\.\d+\./.test(name) && name.endsWith('_proj.weight');
}

/**
 * The scope a load gets from its request: lm_head is quantized only when asked (LoadRequest.int8LmHead), with
 * `streamed-int8`, and when it is its own tensor; with tied embeddings the request is ignored, and `note` says so.
 */
export function int8Scope(
  req: { strategy: LoadStrategy; int8LmHead?: boolean },
  tiedEmbeddings: boolean,
): { scope: Int8Scope; note: string | null } {
  if (!req.int8LmHead) return { scope: 'decoder', note: null };
  if (req.strategy !== 'streamed-int8') {
    return { scope: 'decoder', note: `int8 lm_head ignored: only streamed-int8 quantizes (this load is ${req.strategy})` };
  }
  if (tiedEmbeddings) {
    return {
      scope: 'decoder',
      note: 'int8 lm_head ignored: the embeddings are tied, so lm_head is the embedding table, which stays fp16 for the token lookup',
    };
  }
  return { scope: 'decoder+lm_head', note: null };
}

/** GPU bytes of one tensor once loaded, by category. */
export function tensorGpuBytes(
  t: Pick<TensorRecord, 'name' | 'shape'>,
  strategy: LoadStrategy,
  scope: Int8Scope = 'decoder',
): Partial<CategoryBytes> {
  const rows = rowCount(t.shape);
  if (strategy === 'streamed-int8' && isQuantizedLinear(t.name, t.shape, scope)) {
    return { weights: rows * wordsPerRow('i8x4', t.shape) * 4, scales: alignedSize(rows * 4) };
  }
  return { weights: rows * wordsPerRow('f16x2', t.shape) * 4 };
}

/** At most this many unused tensor names are listed in a plan's note (the rest are counted). */
const NAMED_UNUSED = 8;

/**
 * Checks the checkpoint against the config and returns the names of its tensors the model does not use (they are
 * neither planned nor loaded; planLoad names them in its notes). Throws, naming the file and tensor, for a missing
 * tensor or a shape that disagrees with config; a checkpoint with decoder layers past num_hidden_layers is a config
 * that would silently drop them: 'bad-config' naming the key. Work is proportional to the checkpoint's tensors plus
 * the expected ones (the config's sizes are bounded in config.ts).
 */
export function checkTensors(s: ModelShape, tensors: ReadonlyMap<string, TensorRecord>, configFile = 'config.json'): string[] {
  let deepest = -1;
  for (const name of tensors.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) deepest = Math.max(deepest, Number(m[1]));
  }
  if (deepest >= s.layers) {
    throw new EngineError(
      'bad-config',
      `${configFile}: 'num_hidden_layers' is ${s.layers}, but the checkpoint has decoder layers up to model.layers.${deepest}: ` +
        'a config that does not match the checkpoint',
      { file: configFile, setting: 'num_hidden_layers' },
    );
  }
  const expected = s.tensors;
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) {
      throw new EngineError('bad-file', `the checkpoint has no tensor '${name}', which ${configFile} implies`, {
        file: configFile,
        tensor: name,
      });
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new EngineError(
        'bad-file',
        `tensor '${name}' has shape [${t.shape.join(', ')}], but ${configFile} implies [${shape.join(', ')}]`,
        { file: t.file, tensor: name },
      );
    }
  }
  return [...tensors.keys()].filter((name) => !expected.has(name));
}

/** The plan's note naming the tensors a load skips (null when none). */
export function unusedNote(unused: readonly string[]): string | null {
  if (unused.length === 0) return null;
  const named = unused.slice(0, NAMED_UNUSED).map((n) => `'${n}'`).join(', ');
  const more = unused.length > NAMED_UNUSED ? ` and ${unused.length - NAMED_UNUSED} more` : '';
  return `${unused.length} tensor${unused.length === 1 ? '' : 's'} of the checkpoint the model does not use ${unused.length === 1 ? 'is' : 'are'} skipped (not downloaded where avoidable, never on the GPU): ${named}${more}`;
}

export interface PlanOptions {
  model: string;
  architecture: string;
  shape: ModelShape;
  tensors: readonly TensorRecord[];
  strategy: LoadStrategy;
  /** Quantize lm_head too (streamed-int8, untied embeddings only; see int8Scope). */
  int8LmHead?: boolean;
  /** Default: min(shape.maxContext, 2048). */
  contextLength?: number;
  /** Rows of activations reserved for one forward (prompt chunk; default 64). */
  maxTokens?: number;
  limits: Pick<GpuLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'> & Partial<Pick<GpuLimits, 'minStorageBufferOffsetAlignment'>>;
  vramBudgetBytes?: number;
  /** Tensors of the checkpoint the model does not use (checkTensors): not in `tensors`, named in the notes. */
  unused?: readonly string[];
  /** What reading the checkpoint's layout left out or took apart (checkpoint-layout.ts), carried into the notes. */
  layoutNotes?: readonly string[];
}

const MiB = 1024 * 1024;
function mib(n: number): string {
  return `${(n / MiB).toFixed(1)} MiB`;
}

/**
 * Activations of one forward of `t` tokens (f32, model/run-state.ts): residual x, normed xb and the o/down product
 * (3 × hidden); the q/k/v product (q + 2 kv); the rotated q and the attention output (2 q); q and k after their norms
 * where the recipe norms them; the gate/up product and the GLU output (3 × intermediate); attention scores (heads × ctx
 * per token) and the logits; the RoPE tables (context × rotary dims / 2 (cos, sin) pairs per
 * distinct RoPE); plus, on GPUs, the split-K decode attention's partials (counted here for every adapter: an upper
 * bound by well under a MiB on CPU adapters).
 */
export function activationBytes(s: ModelShape, ctx: number, t: number): number {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const perToken = 3 * s.hidden + (q + 2 * kv) + 2 * q + (s.qkNorm ? q + kv : 0) + 3 * s.intermediate + s.heads * ctx + s.vocab;
  const ropeTables = s.ropeDims.reduce((a, dims) => a + ctx * dims * 4, 0);
  const att = { nHeads: s.heads, nKvHeads: s.kvHeads, headDim: s.headDim, context: ctx };
  return perToken * t * 4 + ropeTables + attentionPartialBytes(att, decodeChunks(att, DEFAULT_MIN_CHUNK, DEFAULT_SPLIT_WORKGROUPS));
}

/**
 * f32 keys and values of every layer: `ctx` rows each, or a sliding window's ring (kvCacheRows) where it has one, in
 * one buffer per layer with the values from an offset the device can bind at (model/run-state.ts kvCacheLayout).
 */
export function kvCacheBytes(s: ModelShape, ctx: number, maxTokens: number, offsetAlignment = 256): number {
  return s.windows.reduce<number>((a, w) => a + kvCacheLayout(kvCacheRows(w, ctx, maxTokens), s.kvHeads * s.headDim, offsetAlignment).bytes, 0);
}

export function planLoad(opts: PlanOptions): PlanReport {
  const s = opts.shape;
  const ctx = opts.contextLength ?? Math.min(s.maxContext, 2048);
  const bytes = zeroBytes();
  const reasons: string[] = [];
  let parameters = 0;
  let largest = { name: '', bytes: 0 };
  const quantized: TensorRecord[] = [];
  const binding = opts.limits.maxStorageBufferBindingSize;
  const { scope, note } = int8Scope(opts, s.tiedEmbeddings);
  for (const t of opts.tensors) {
    parameters += elementCount(t.shape);
    const b = tensorGpuBytes(t, opts.strategy, scope);
    bytes.weights += b.weights ?? 0;
    bytes.scales += b.scales ?? 0;
    const f16 = rowCount(t.shape) * wordsPerRow('f16x2', t.shape) * 4;
    if (f16 > largest.bytes) largest = { name: t.name, bytes: f16 };
    if (isQuantizedLinear(t.name, t.shape, scope)) quantized.push(t);
    // Tensors are split by rows across bindings, so only a single row must fit one.
    const rowBytes = wordsPerRow('f16x2', t.shape) * 4;
    if (rowBytes > binding) {
      reasons.push(`one row of '${t.name}' is ${mib(rowBytes)}, more than one storage binding holds (${mib(binding)})`);
    }
    // naive: a full-precision (f32) copy of every tensor exists on the GPU before conversion.
    if (opts.strategy === 'naive') {
      bytes.staging += alignedSize(elementCount(t.shape) * 4);
      if (rowLength(t.shape) * 4 > opts.limits.maxBufferSize) {
        reasons.push(`one f32 row of '${t.name}' exceeds the largest GPU buffer (${mib(opts.limits.maxBufferSize)})`);
      }
    }
  }
  // streamed-int8: each linear layer lands in fp16 in one reusable scratch and is quantized from there, one at a time;
  // the scratch fits the largest of them (quantize-scratch.ts, which allocates exactly this).
  if (opts.strategy === 'streamed-int8') bytes.staging += quantizeScratchBytes(quantized, binding);
  // naive converts one tensor at a time after every f32 copy exists: the peak holds them all plus one fp16 tensor.
  const maxTokens = opts.maxTokens ?? 64;
  const alignment = opts.limits.minStorageBufferOffsetAlignment ?? 256;
  bytes['kv-cache'] = kvCacheBytes(s, ctx, maxTokens, alignment);
  bytes.activations = activationBytes(s, ctx, maxTokens);
  const notes = [...(opts.layoutNotes ?? []), ...[note, unusedNote(opts.unused ?? [])].filter((n): n is string => n !== null)];
  const sliding = s.windows.flatMap((w, i) => (w === null || kvCacheRows(w, ctx, maxTokens) >= ctx ? [] : [i]));
  if (sliding.length > 0) {
    const full = s.layers * 2 * ctx * s.kvHeads * s.headDim * 4;
    const rows = [...new Set(sliding.map((i) => kvCacheRows(s.windows[i], ctx, maxTokens)))].join(' / ');
    notes.push(
      `sliding-window layers ${sliding.join(', ')} keep a ring of ${rows} of the ${ctx} positions: KV cache ${mib(bytes['kv-cache'])} ` +
        `instead of ${mib(full)}`,
    );
  }
  const kvLayerBytes = Math.max(...s.windows.map((w) => kvCacheLayout(kvCacheRows(w, ctx, maxTokens), s.kvHeads * s.headDim, alignment).bytes));
  if (kvLayerBytes > binding) {
    reasons.push(`the KV cache of one layer (K and V: ${mib(kvLayerBytes)} for ${ctx} tokens) exceeds one storage binding (${mib(binding)}); choose a shorter context`);
  }
  if (ctx > s.maxContext) reasons.push(`context length ${ctx} is more than the model's maximum (${s.maxContext})`);
  const totalBytes = Object.values(bytes).reduce((a, b) => a + b, 0);
  if (opts.vramBudgetBytes !== undefined && totalBytes > opts.vramBudgetBytes) {
    const parts = (Object.entries(bytes) as [string, number][])
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${mib(n)}`)
      .join(', ');
    reasons.push(
      `needs ${mib(totalBytes)} of GPU memory (${parts}) but the budget is ${mib(opts.vramBudgetBytes)}` +
        (opts.strategy === 'streamed-int8' ? '' : '; try streamed-int8 or a shorter context'),
    );
  }
  return {
    model: opts.model,
    architecture: opts.architecture,
    parameters,
    bytes,
    totalBytes,
    largestTensor: largest,
    contextLength: ctx,
    fits: reasons.length === 0,
    reasons,
    ...(opts.strategy === 'streamed-int8' ? { int8Scope: scope } : {}),
    notes,
  };
}
