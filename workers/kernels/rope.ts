// Owner of shaders/rope.wgsl: for several tokens (prefill), rotary embedding of q and k (over all of head_dim, its
// first rotary dims, or none: a NoPE layer) from this forward's q/k/v rows, q into its buffer and k, v appended to one
// layer's KV cache (a ring for a sliding-window layer). One token: the rope_kv epilogue of the q/k/v product.
import source from '../../shaders/rope.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';
import { dispatch1d } from './dispatch.ts';
import type { KvCacheBuffer } from './matvec-io.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';

const WG = 64;

export interface RopeShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Pairs of dims turned per head: headDim / 2, fewer for partial rotary, 0 for a layer without RoPE. */
  ropeHalf: number;
  /** Rows of the layer's KV cache: position p is written to row p mod cacheRows (a sliding-window ring). */
  cacheRows: number;
}

/** Where a token's q, k or v columns are: `stride` floats per token in `buffer`, from column `col`. */
export interface RopeSource {
  buffer: GPUBuffer;
  stride: number;
  col: number;
}

export interface RopeBinding {
  readonly bindGroup: GPUBindGroup;
  readonly threadsPerToken: number;
}

/**
 * The (cos, sin) table for positions [0, context): float32 angle = fround(position * invFreq[i]) as HF computes it
 * (inv_freq @ position_ids in float32), then cos and sin times `attentionFactor` (LongRoPE's scaling; 1 otherwise)
 * rounded to float32. Layout [context, invFreq.length, 2].
 */
export function ropeTable(invFreq: Float32Array, context: number, attentionFactor = 1): Float32Array {
  const half = invFreq.length;
  const out = new Float32Array(context * half * 2);
  for (let pos = 0; pos < context; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(pos * invFreq[i]);
      out[(pos * half + i) * 2] = Math.fround(Math.cos(angle)) * attentionFactor;
      out[(pos * half + i) * 2 + 1] = Math.fround(Math.sin(angle)) * attentionFactor;
    }
  }
  return out;
}

export class Rope {
  private readonly kp: KernelPipeline;

  constructor(private readonly ctx: GpuContext) {
    const slots = ['storage', 'read', 'read', 'read', 'storage', 'read', 'uniform', 'uniform'] as const;
    this.kp = createKernelPipeline(ctx, 'rope', withStep(source), slots, { WG });
  }

  /**
   * src: where q, k and v are (the fused q/k/v rows for all three: [maxTokens, (nHeads + 2 nKvHeads) headDim]); q:
   * f32 [maxTokens, nHeads headDim]; kv: the layer's cache (keys from byte 0, values from kv.vOffset); table: ropeTable()
   * of ropeHalf frequencies (any non-empty buffer when ropeHalf is 0); step: the Step uniform (tokens, pos).
   */
  bind(
    label: string,
    shape: RopeShape,
    bufs: { src: { q: RopeSource; k: RopeSource; v: RopeSource }; q: GPUBuffer; kv: KvCacheBuffer; table: GPUBuffer },
    step: GPUBuffer,
    group: BufferGroup,
  ): RopeBinding {
    if (shape.headDim % 2 !== 0 || !(shape.ropeHalf >= 0) || 2 * shape.ropeHalf > shape.headDim) {
      throw new Error(`rope: ${2 * shape.ropeHalf} rotary dims of head_dim ${shape.headDim}`);
    }
    if (!(shape.cacheRows >= 1)) throw new Error(`rope: cache rows ${shape.cacheRows}`);
    if (bufs.kv.vOffset % 4 !== 0) throw new Error(`rope: value cache offset ${bufs.kv.vOffset} is not a whole f32`);
    const { q, k, v } = bufs.src;
    const params = createParams(this.ctx, group, `rope.params.${label}`, [
      ['u32', shape.nHeads],
      ['u32', shape.nKvHeads],
      ['u32', shape.headDim],
      ['u32', shape.ropeHalf],
      ['u32', bufs.kv.vOffset / 4],
      ['u32', shape.cacheRows],
      ['u32', q.stride],
      ['u32', q.col],
      ['u32', k.stride],
      ['u32', k.col],
      ['u32', v.stride],
      ['u32', v.col],
    ]);
    const bindGroup = createBindGroup(this.ctx, `rope.bindGroup.${label}`, this.kp, [bufs.q, q.buffer, k.buffer, v.buffer, bufs.kv.buffer, bufs.table, params, step]);
    return { bindGroup, threadsPerToken: ((shape.nHeads + 2 * shape.nKvHeads) * shape.headDim) / 2 };
  }

  encode(pass: ComputePass, b: RopeBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(Math.ceil((tokens * b.threadsPerToken) / WG), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}

/** q, k and v all from the fused q/k/v product's rows (as the q/k/v linear layer writes them). */
export function fusedQkvSource(buffer: GPUBuffer, shape: Pick<RopeShape, 'nHeads' | 'nKvHeads' | 'headDim'>): { q: RopeSource; k: RopeSource; v: RopeSource } {
  const qDim = shape.nHeads * shape.headDim;
  const kvDim = shape.nKvHeads * shape.headDim;
  const stride = qDim + 2 * kvDim;
  return { q: { buffer, stride, col: 0 }, k: { buffer, stride, col: qDim }, v: { buffer, stride, col: qDim + kvDim } };
}
