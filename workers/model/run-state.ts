// The transformer's RunState (llama2.c's RunState): every activation buffer and the KV cache, allocated once through
// one BufferGroup, sized for `maxTokens` rows per forward and `context` cached positions (a sliding-window layer's
// cache is a ring of kvCacheRows rows). forward() allocates nothing.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup, LedgerCategory } from '../gpu/ledger.ts';
import { attentionScratchBytes } from '../kernels/attention.ts';
import type { KvCacheBuffer } from '../kernels/matvec-io.ts';
import { tokenSetBytes } from '../kernels/repetition-penalty.ts';
import { ropeTable } from '../kernels/rope.ts';
import { ropeAttentionFactor, ropeInverseFrequencies } from './rope-config.ts';
import { STEP_UNIFORM_BYTES } from '../kernels/step.ts';
import { EngineError } from '../errors.ts';
import { kvCacheRows, type Config } from './config.ts';

export interface RunState {
  /** Rows per forward (the prefill chunk), possibly lowered so every buffer fits one storage binding. */
  maxTokens: number;
  ids: GPUBuffer; // u32 [maxTokens] token ids of a forward fed from the CPU (a GPU-fed decode step reads `sampled`)
  x: GPUBuffer; // f32 [maxTokens, dim] residual stream
  xb: GPUBuffer; // f32 [maxTokens, dim] x through RMSNorm (prompt chunks; one-token products norm x as they read it)
  qkv: GPUBuffer; // f32 [maxTokens, qDim + 2 kvDim] q, k, v before RoPE (prompt chunks; every forward with q/k norms)
  qNormed: GpuBufferPair | null; // q and k after their norms (q/k-norm recipes only)
  q: GPUBuffer; // f32 [maxTokens, qDim] rotated queries
  cacheRows: number[]; // per layer: rows of its KV cache (context, or a sliding window's ring)
  kv: KvCacheBuffer[]; // per layer f32 keys [cacheRows, kvDim] (rotated; position p in row p mod rows), values from kv.vOffset
  att: GPUBuffer; // f32 [maxTokens, nHeads, context] attention scores / weights scratch
  attOut: GPUBuffer; // f32 [maxTokens, qDim] attention output (input of o_proj)
  proj: GPUBuffer; // f32 [maxTokens, dim] o_proj / down_proj product before the residual add (prompt chunks, post norms)
  gateUp: GPUBuffer; // f32 [maxTokens, 2 hiddenDim] gate/up product of a prompt chunk (rows in blocks), before the GLU
  h: GPUBuffer; // f32 [maxTokens, hiddenDim] act(gate) · up, the input of down_proj
  logits: GPUBuffer; // f32 [vocab] logits of the last position
  logitsAll: GPUBuffer | null; // f32 [maxTokens, vocab] logits of every position (verification only)
  ropeTables: GPUBuffer[]; // per Config.ropes entry f32 [context, rotaryDims / 2, 2] (cos, sin) per position and frequency
  penalized: GPUBuffer; // u32 [ceil(vocab / 32)] the repetition penalty's ids (a bitset: TokenSet's GPU copy)
  sampled: GPUBuffer; // u32 [1] the sampled token id: read back, and the input of a GPU-fed decode step
  step: GPUBuffer; // uniform Step {tokens, pos, kv_len, row 0} of this forward
  lastStep: GPUBuffer; // uniform Step {1, pos + tokens - 1, kv_len, row tokens - 1}: the last position (lm_head)
}

/** q and k after their norms: f32 [maxTokens, qDim] and [maxTokens, kvDim]. */
export interface GpuBufferPair {
  q: GPUBuffer;
  k: GPUBuffer;
}

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/** Bytes of one layer's KV cache buffer: keys, then the values from an offset the device can bind at. */
export function kvCacheLayout(rows: number, kvDim: number, offsetAlignment: number): { vOffset: number; bytes: number } {
  const kBytes = rows * kvDim * 4;
  const vOffset = Math.ceil(kBytes / offsetAlignment) * offsetAlignment;
  return { vOffset, bytes: vOffset + kBytes };
}

export function createRunState(ctx: GpuContext, group: BufferGroup, c: Config, context: number, wantTokens: number, allLogits: boolean): RunState {
  const maxBinding = ctx.limits.maxStorageBufferBindingSize;
  // The widest per-token row decides how many rows fit one binding.
  const widest = Math.max(c.nHeads * context, 2 * c.hiddenDim, c.qDim + 2 * c.kvDim, c.dim, allLogits ? c.vocabSize : 0) * 4;
  const maxTokens = Math.max(1, Math.min(wantTokens, Math.floor(maxBinding / widest)));
  const cacheRows = c.layers.map((l) => kvCacheRows(l.window, context, maxTokens));
  // One binding holds a layer's whole cache (the q/k/v product appends to both halves).
  const layouts = cacheRows.map((rows) => kvCacheLayout(rows, c.kvDim, ctx.limits.minStorageBufferOffsetAlignment));
  const kvBytes = Math.max(...layouts.map((l) => l.bytes));
  if (kvBytes > maxBinding || c.vocabSize * 4 > maxBinding) {
    throw new EngineError('will-not-fit', `a KV cache of ${context} positions needs ${kvBytes} bytes per layer, more than one binding (${maxBinding})`, {
      setting: 'contextLength',
    });
  }
  const buf = (label: string, size: number, category: LedgerCategory = 'activations', usage = STORAGE()) =>
    group.createBuffer({ label: `run.${label}`, size, usage, category });
  const uniform = (label: string) => buf(label, STEP_UNIFORM_BYTES, 'uniforms', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  // One (cos, sin) table per distinct RoPE (a model whose every layer is NoPE still binds one, unread).
  const ropeTables = (c.ropes.length ? c.ropes : [null]).map((spec, i) => {
    const table = spec ? ropeTable(ropeInverseFrequencies(spec, context), context, ropeAttentionFactor(spec)) : new Float32Array(4);
    const b = buf(`rope.${i}`, table.byteLength);
    ctx.device.queue.writeBuffer(b, 0, table);
    return b;
  });
  const qkNorm = c.qkNorm !== 'none';
  const attShape = { nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, context };
  return {
    maxTokens,
    ids: buf('ids', maxTokens * 4),
    x: buf('x', maxTokens * c.dim * 4),
    xb: buf('xb', maxTokens * c.dim * 4),
    qkv: buf('qkv', maxTokens * (c.qDim + 2 * c.kvDim) * 4),
    qNormed: qkNorm ? { q: buf('qNormed', maxTokens * c.qDim * 4), k: buf('kNormed', maxTokens * c.kvDim * 4) } : null,
    q: buf('q', maxTokens * c.qDim * 4),
    cacheRows,
    kv: layouts.map((l, i) => ({ buffer: buf(`kv.${i}`, l.bytes, 'kv-cache'), vOffset: l.vOffset })),
    att: buf('att', attentionScratchBytes(attShape, maxTokens)),
    attOut: buf('attOut', maxTokens * c.qDim * 4),
    proj: buf('proj', maxTokens * c.dim * 4),
    gateUp: buf('gateUp', maxTokens * 2 * c.hiddenDim * 4),
    h: buf('h', maxTokens * c.hiddenDim * 4),
    logits: buf('logits', c.vocabSize * 4),
    logitsAll: allLogits ? buf('logitsAll', maxTokens * c.vocabSize * 4) : null,
    ropeTables,
    penalized: buf('penalized', tokenSetBytes(c.vocabSize)),
    sampled: buf('sampled', 4),
    step: uniform('step'),
    lastStep: uniform('lastStep'),
  };
}
