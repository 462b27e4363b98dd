// Owner of shaders/rope.wgsl: for several tokens (prefill), rotary embedding of q and k from their fused q/k/v rows, q
// into its buffer and k, v appended to one layer's KV cache. (One token: the rope_kv epilogue of the products.)
import source from '../../shaders/rope.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';
import type { KvCacheBuffer } from './matvec-io.ts';

const WG = 64;

export interface RopeShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Pairs of dims turned per head: headDim / 2, fewer for partial rotary, 0 for a layer without RoPE. */
  ropeHalf: number;
}

export interface RopeBinding {
  readonly bindGroup: GPUBindGroup;
  readonly threadsPerToken: number;
}

/**
 * The (cos, sin) table for positions [0, context): float32 angle = fround(position * invFreq[i]) as HF computes it
 * (inv_freq @ position_ids in float32), then cos and sin rounded to float32. Layout [context, half, 2].
 */
export function ropeTable(invFreq: Float32Array, context: number): Float32Array {
  const half = invFreq.length;
  const out = new Float32Array(context * half * 2);
  for (let pos = 0; pos < context; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(pos * invFreq[i]);
      out[(pos * half + i) * 2] = Math.cos(angle);
      out[(pos * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return out;
}

export class Rope {
  private readonly kp: KernelPipeline;

  constructor(private readonly ctx: GpuContext) {
    this.kp = createKernelPipeline(ctx, 'rope', withStep(source), ['storage', 'read', 'storage', 'read', 'uniform', 'uniform'], { WG });
  }

  /**
   * qkv: f32 [maxTokens, (nHeads + 2 nKvHeads) headDim] (this forward's q, k, v per token); q: f32 [maxTokens,
   * nHeads headDim]; kv: the layer's cache (keys from byte 0, values from kv.vOffset); table: ropeTable() of
   * ropeHalf frequencies (ropeHalf 0: no rotation, any non-empty buffer); step: the Step uniform (tokens, pos).
   */
  bind(
    label: string,
    shape: RopeShape,
    bufs: { qkv: GPUBuffer; q: GPUBuffer; kv: KvCacheBuffer; table: GPUBuffer },
    step: GPUBuffer,
    group: BufferGroup,
  ): RopeBinding {
    if (shape.headDim % 2 !== 0 || 2 * shape.ropeHalf > shape.headDim) throw new Error(`rope: ${2 * shape.ropeHalf} rotary dims of head_dim ${shape.headDim}`);
    if (bufs.kv.vOffset % 4 !== 0) throw new Error(`rope: value cache offset ${bufs.kv.vOffset} is not a whole f32`);
    const params = createParams(this.ctx, group, `rope.params.${label}`, [
      ['u32', shape.nHeads],
      ['u32', shape.nKvHeads],
      ['u32', shape.headDim],
      ['u32', shape.ropeHalf],
      ['u32', bufs.kv.vOffset / 4],
    ]);
    const bindGroup = createBindGroup(this.ctx, `rope.bindGroup.${label}`, this.kp, [bufs.q, bufs.qkv, bufs.kv.buffer, bufs.table, params, step]);
    return { bindGroup, threadsPerToken: ((shape.nHeads + 2 * shape.nKvHeads) * shape.headDim) / 2 };
  }

  encode(pass: ComputePass, b: RopeBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(Math.ceil((tokens * b.threadsPerToken) / WG), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
