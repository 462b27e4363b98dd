// Owner of shaders/rope.wgsl: rotary embedding of q (in place) and k, and the append of k, v to one layer's KV cache.
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
    this.kp = createKernelPipeline(
      ctx,
      'rope',
      withStep(source),
      ['storage', 'read', 'read', 'storage', 'storage', 'read', 'uniform', 'uniform'],
      { WG },
    );
  }

  /**
   * q: f32 [maxTokens, nHeads*headDim]; k, v: f32 [maxTokens, nKvHeads*headDim]; kCache, vCache: f32 [context,
   * nKvHeads*headDim]; table: from ropeTable(); step: the Step uniform (tokens, pos).
   */
  bind(
    label: string,
    shape: RopeShape,
    bufs: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; table: GPUBuffer },
    step: GPUBuffer,
    group: BufferGroup,
  ): RopeBinding {
    const half = shape.headDim / 2;
    const params = createParams(this.ctx, group, `rope.params.${label}`, [
      ['u32', shape.nHeads],
      ['u32', shape.nKvHeads],
      ['u32', shape.headDim],
      ['u32', half],
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
