// Owner of shaders/rope.wgsl: rotary embedding of q (in place) and k (over all of head_dim, its first rotary dims, or
// none: a NoPE layer), and the append of k, v to one layer's KV cache (a ring for a sliding-window layer).
import source from '../../shaders/rope.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';

const WG = 64;

export interface RopeShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

export interface RopeLayerOptions {
  /** Dims of each head that rotate (even, <= headDim; default headDim); 0: none (a NoPE layer only appends to the cache). */
  rotaryDims?: number;
  /** Rows of the layer's KV cache: position p is written to row p mod cacheRows (a sliding-window ring). */
  cacheRows: number;
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
    this.kp = createKernelPipeline(
      ctx,
      'rope',
      withStep(source),
      ['storage', 'read', 'read', 'storage', 'storage', 'read', 'uniform', 'uniform'],
      { WG },
    );
  }

  /**
   * q: f32 [maxTokens, nHeads*headDim]; k, v: f32 [maxTokens, nKvHeads*headDim]; kCache, vCache: f32 [cacheRows,
   * nKvHeads*headDim]; table: ropeTable() of rotaryDims / 2 frequencies (any buffer when rotaryDims is 0); step: the
   * Step uniform (tokens, pos).
   */
  bind(
    label: string,
    shape: RopeShape,
    bufs: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; table: GPUBuffer },
    step: GPUBuffer,
    group: BufferGroup,
    layer: RopeLayerOptions,
  ): RopeBinding {
    const half = shape.headDim / 2;
    const rotaryDims = layer.rotaryDims ?? shape.headDim;
    if (rotaryDims % 2 !== 0 || rotaryDims < 0 || rotaryDims > shape.headDim) throw new Error(`rope: rotary dims ${rotaryDims} of head_dim ${shape.headDim}`);
    if (!(layer.cacheRows >= 1)) throw new Error(`rope: cache rows ${layer.cacheRows}`);
    const params = createParams(this.ctx, group, `rope.params.${label}`, [
      ['u32', shape.nHeads],
      ['u32', shape.nKvHeads],
      ['u32', shape.headDim],
      ['u32', half],
      ['u32', rotaryDims / 2],
      ['u32', layer.cacheRows],
    ]);
    const bindGroup = createBindGroup(this.ctx, `rope.bindGroup.${label}`, this.kp, [
      bufs.q,
      bufs.k,
      bufs.v,
      bufs.kCache,
      bufs.vCache,
      bufs.table,
      params,
      step,
    ]);
    return { bindGroup, threadsPerToken: (shape.nHeads + shape.nKvHeads) * half };
  }

  encode(pass: GPUComputePassEncoder, b: RopeBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(Math.ceil((tokens * b.threadsPerToken) / WG), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
