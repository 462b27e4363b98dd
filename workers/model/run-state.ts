// The transformer's RunState (llama2.c's RunState): every activation buffer and the KV cache, allocated once through
// one BufferGroup, sized for `maxTokens` rows per forward and `context` cached positions (a sliding-window layer's
// cache is a ring of kvCacheRows rows). forward() allocates nothing.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup, LedgerCategory } from '../gpu/ledger.ts';
import { attentionScratchBytes } from '../kernels/attention.ts';
import { tokenSetBytes } from '../kernels/repetition-penalty.ts';
import { ropeTable } from '../kernels/rope.ts';
import { ropeAttentionFactor, ropeInverseFrequencies } from './rope-config.ts';
import { STEP_UNIFORM_BYTES } from '../kernels/step.ts';
import { EngineError } from '../errors.ts';
import { kvCacheRows, type Config } from './config.ts';

export interface RunState {
  /** Rows per forward (the prefill chunk), possibly lowered so every buffer fits one storage binding. */
  maxTokens: number;
  ids: GPUBuffer; // u32 [maxTokens] token ids of this forward
  x: GPUBuffer; // f32 [maxTokens, dim] residual stream
  xb: GPUBuffer; // f32 [maxTokens, dim] rmsnorm output (input of the projections; final norm at the end)
  q: GPUBuffer; // f32 [maxTokens, nHeads * headDim] queries (rotated in place)
  k: GPUBuffer; // f32 [maxTokens, nKvHeads * headDim] keys of this forward (before rope)
  v: GPUBuffer; // f32 [maxTokens, nKvHeads * headDim] values of this forward
  qPre: GPUBuffer | null; // f32 [maxTokens, nHeads * headDim] q_proj output before q_norm (q/k-norm recipes only)
  kPre: GPUBuffer | null; // f32 [maxTokens, nKvHeads * headDim] k_proj output before k_norm (q/k-norm recipes only)
  cacheRows: number[]; // per layer: rows of its KV cache (context, or a sliding window's ring)
  keyCache: GPUBuffer[]; // per layer f32 [cacheRows, nKvHeads * headDim] rotated keys, position p in row p mod rows
  valueCache: GPUBuffer[]; // per layer f32 [cacheRows, nKvHeads * headDim] values
  att: GPUBuffer; // f32 [maxTokens, nHeads, context] attention scores / weights scratch
  attOut: GPUBuffer; // f32 [maxTokens, nHeads * headDim] attention output (input of o_proj)
  proj: GPUBuffer; // f32 [maxTokens, dim] o_proj / down_proj output, added to x
  gate: GPUBuffer; // f32 [maxTokens, hiddenDim] gate_proj output, then silu(gate) * up
  up: GPUBuffer; // f32 [maxTokens, hiddenDim] up_proj output
  xLast: GPUBuffer; // f32 [dim] final-norm row of the last position
  logits: GPUBuffer; // f32 [vocab] logits of the last position
  logitsAll: GPUBuffer | null; // f32 [maxTokens, vocab] logits of every position (verification only)
  ropeTables: GPUBuffer[]; // per Config.ropes entry f32 [context, rotaryDims / 2, 2] (cos, sin) per position and frequency
  penalized: GPUBuffer; // u32 [ceil(vocab / 32)] the repetition penalty's ids (a bitset: TokenSet's GPU copy)
  sampled: GPUBuffer; // u32 [1] the sampled token id
  sampledReadback: GPUBuffer; // u32 [1] MAP_READ copy of sampled
  step: GPUBuffer; // uniform Step {tokens, pos, kv_len} of this forward
  lastStep: GPUBuffer; // uniform Step {1, pos + tokens - 1, kv_len} of the last position (lm_head, sampling)
}

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export function createRunState(ctx: GpuContext, group: BufferGroup, c: Config, context: number, wantTokens: number, allLogits: boolean): RunState {
  const maxBinding = ctx.limits.maxStorageBufferBindingSize;
  // The widest per-token row decides how many rows fit one binding.
  const widest = Math.max(c.nHeads * context, c.hiddenDim, c.qDim, c.dim, allLogits ? c.vocabSize : 0) * 4;
  const maxTokens = Math.max(1, Math.min(wantTokens, Math.floor(maxBinding / widest)));
  const cacheRows = c.layers.map((l) => kvCacheRows(l.window, context, maxTokens));
  const kvBytes = Math.max(...cacheRows) * c.kvDim * 4;
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
    q: buf('q', maxTokens * c.qDim * 4),
    k: buf('k', maxTokens * c.kvDim * 4),
    v: buf('v', maxTokens * c.kvDim * 4),
    qPre: qkNorm ? buf('qPre', maxTokens * c.qDim * 4) : null,
    kPre: qkNorm ? buf('kPre', maxTokens * c.kvDim * 4) : null,
    cacheRows,
    keyCache: cacheRows.map((rows, l) => buf(`keyCache.${l}`, rows * c.kvDim * 4, 'kv-cache')),
    valueCache: cacheRows.map((rows, l) => buf(`valueCache.${l}`, rows * c.kvDim * 4, 'kv-cache')),
    att: buf('att', attentionScratchBytes(attShape, maxTokens)),
    attOut: buf('attOut', maxTokens * c.qDim * 4),
    proj: buf('proj', maxTokens * c.dim * 4),
    gate: buf('gate', maxTokens * c.hiddenDim * 4),
    up: buf('up', maxTokens * c.hiddenDim * 4),
    xLast: buf('xLast', c.dim * 4),
    logits: buf('logits', c.vocabSize * 4),
    logitsAll: allLogits ? buf('logitsAll', maxTokens * c.vocabSize * 4) : null,
    ropeTables,
    penalized: buf('penalized', tokenSetBytes(c.vocabSize)),
    sampled: buf('sampled', 4),
    sampledReadback: buf('sampledReadback', 4, 'staging', GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ),
    step: uniform('step'),
    lastStep: uniform('lastStep'),
  };
}
