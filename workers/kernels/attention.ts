// Owner of shaders/attention.wgsl: causal GQA attention of this forward's queries over one layer's KV cache.
import source from '../../shaders/attention.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, workgroupSize, type KernelPipeline } from './pipeline.ts';

/** The workgroup copies one query head into workgroup memory of this many floats. */
export const MAX_HEAD_DIM = 256;

export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Rows of the KV cache (and of each scores row). */
  context: number;
}

export interface AttentionBinding {
  readonly bindGroup: GPUBindGroup;
  readonly nHeads: number;
}

/** Bytes of the scores scratch the kernel needs for `maxTokens` queries. */
export function attentionScratchBytes(shape: AttentionShape, maxTokens: number): number {
  return maxTokens * shape.nHeads * shape.context * 4;
}

export class Attention {
  private readonly kp: KernelPipeline;

  constructor(
    private readonly ctx: GpuContext,
    opts: { workgroupSize?: number } = {},
  ) {
    // A power of two (tree reductions). 64 fills two GPU warps; a CPU backend pays for every barrier across every
    // thread of the workgroup, so the software adapters get 8 (measured 3-8× faster
    // than 64 on SwiftShader and lavapipe for a 64-token prefill chunk).
    const wg = 1 << Math.floor(Math.log2(workgroupSize(ctx, opts.workgroupSize ?? (ctx.software ? 8 : 64))));
    this.kp = createKernelPipeline(ctx, 'attention', source, ['read', 'read', 'read', 'storage', 'storage', 'uniform', 'uniform'], {
      WG: wg,
    });
  }

  /** q, out: f32 [maxTokens, nHeads*headDim]; caches: f32 [context, nKvHeads*headDim]; scores: attentionScratchBytes. */
  bind(
    label: string,
    shape: AttentionShape,
    bufs: { q: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; scores: GPUBuffer; out: GPUBuffer },
    step: GPUBuffer,
    group: BufferGroup,
  ): AttentionBinding {
    if (shape.headDim > MAX_HEAD_DIM) throw new Error(`attention: head_dim ${shape.headDim} > ${MAX_HEAD_DIM}`);
    const params = createParams(this.ctx, group, `attention.params.${label}`, [
      ['u32', shape.nHeads],
      ['u32', shape.nKvHeads],
      ['u32', shape.headDim],
      ['u32', shape.nHeads / shape.nKvHeads],
      ['u32', shape.context],
      ['f32', 1 / Math.sqrt(shape.headDim)],
    ]);
    const bindGroup = createBindGroup(this.ctx, `attention.bindGroup.${label}`, this.kp, [
      bufs.q,
      bufs.kCache,
      bufs.vCache,
      bufs.scores,
      bufs.out,
      params,
      step,
    ]);
    return { bindGroup, nHeads: shape.nHeads };
  }

  encode(pass: GPUComputePassEncoder, b: AttentionBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(tokens * b.nHeads, this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
