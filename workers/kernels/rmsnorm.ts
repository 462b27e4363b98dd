// Owner of shaders/rmsnorm.wgsl: out = RMSNorm(x) * w, fp16 weight, f32 activations, one workgroup per row.
import source from '../../shaders/rmsnorm.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';

export interface RmsNormBinding {
  readonly bindGroup: GPUBindGroup;
}

export class RmsNorm {
  private readonly kp: KernelPipeline;

  constructor(
    private readonly ctx: GpuContext,
    opts: { workgroupSize?: number } = {},
  ) {
    // A power of two (the reduction halves it): 64 on GPUs, 8 on CPU backends where barriers cost per thread.
    const wg = opts.workgroupSize ?? (ctx.software ? 8 : 64);
    this.kp = createKernelPipeline(ctx, 'rmsnorm', withStep(source), ['read', 'read', 'storage', 'uniform', 'uniform'], { WG: wg });
  }

  /** x, out: f32 [maxTokens, dim] (distinct buffers); weight: fp16 [dim]; step: the Step uniform. */
  bind(weight: GpuTensor, eps: number, x: GPUBuffer, out: GPUBuffer, step: GPUBuffer, group: BufferGroup): RmsNormBinding {
    if (weight.format !== 'f16x2' || weight.parts.length !== 1) throw new Error(`rmsnorm: '${weight.name}' must be one f16x2 part`);
    const dim = weight.shape[0];
    const params = createParams(this.ctx, group, `rmsnorm.params.${weight.name}`, [
      ['u32', dim],
      ['f32', eps],
    ]);
    const bindGroup = createBindGroup(this.ctx, `rmsnorm.bindGroup.${weight.name}`, this.kp, [x, weight.parts[0].buffer, out, params, step]);
    return { bindGroup };
  }

  encode(pass: GPUComputePassEncoder, b: RmsNormBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(tokens, this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
