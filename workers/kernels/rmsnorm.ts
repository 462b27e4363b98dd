// Owner of shaders/rmsnorm.wgsl: out = RMSNorm(x) · (w + offset), fp16 weight, f32 activations, one workgroup per row;
// or, accumulating, out += scale · that (a post-norm and its residual add in one dispatch).
import source from '../../shaders/rmsnorm.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

export interface RmsNormOptions {
  /** The norm's weight multiplies as w + weightOffset: 0 (Llama, x̂ · w) or 1 (Gemma, x̂ · (1 + w)). Default 0. */
  weightOffset?: number;
  /** Rows per token: x holds tokens × rowsPerToken rows of the weight's length (q/k norms per head). Default 1. */
  rowsPerToken?: number;
  /** Add scale · the norm to out instead of writing it (post-norm + residual). Default: write. */
  accumulate?: { scale: number };
  /**
   * Read x as columns of wider rows: each token's rowsPerToken rows start at token · stride + offset floats (the q or
   * k columns of the fused q/k/v rows). Default: x is [tokens × rowsPerToken, dim].
   */
  xColumns?: { stride: number; offset: number };
}

export interface RmsNormBinding {
  readonly bindGroup: GPUBindGroup;
  readonly accumulate: boolean;
  readonly rowsPerToken: number;
}

export class RmsNorm {
  /** The writing and the accumulating variant (override ACCUMULATE). */
  private readonly kps: Record<'write' | 'accumulate', KernelPipeline>;

  constructor(
    private readonly ctx: GpuContext,
    opts: { workgroupSize?: number } = {},
  ) {
    // A power of two (the reduction halves it): 64 on GPUs, 8 on CPU backends where barriers cost per thread.
    const wg = opts.workgroupSize ?? (ctx.software ? 8 : 64);
    const slots = ['read', 'read', 'storage', 'uniform', 'uniform'] as const;
    this.kps = {
      write: createKernelPipeline(ctx, 'rmsnorm', withStep(source), slots, { WG: wg, ACCUMULATE: 0 }),
      accumulate: createKernelPipeline(ctx, 'rmsnorm.accumulate', withStep(source), slots, { WG: wg, ACCUMULATE: 1 }),
    };
  }

  /**
   * x, out: f32 [maxTokens × rowsPerToken, dim] (distinct buffers); weight: fp16 [dim]; eps: the config's epsilon;
   * step: the Step uniform.
   */
  bind(weight: GpuTensor, eps: number, x: GPUBuffer, out: GPUBuffer, step: GPUBuffer, group: BufferGroup, opts: RmsNormOptions = {}): RmsNormBinding {
    if (weight.format !== 'f16x2' || weight.parts.length !== 1) throw new Error(`rmsnorm: '${weight.name}' must be one f16x2 part`);
    const dim = weight.shape[0];
    const rowsPerToken = opts.rowsPerToken ?? 1;
    const accumulate = opts.accumulate !== undefined;
    const params = createParams(this.ctx, group, `rmsnorm.params.${weight.name}`, [
      ['u32', dim],
      ['f32', eps],
      ['f32', opts.weightOffset ?? 0],
      ['u32', rowsPerToken],
      ['f32', opts.accumulate?.scale ?? 1],
      ['u32', opts.xColumns?.stride ?? rowsPerToken * dim],
      ['u32', opts.xColumns?.offset ?? 0],
    ]);
    const kp = this.kps[accumulate ? 'accumulate' : 'write'];
    const bindGroup = createBindGroup(this.ctx, `rmsnorm.bindGroup.${weight.name}`, kp, [x, weight.parts[0].buffer, out, params, step]);
    return { bindGroup, accumulate, rowsPerToken };
  }

  encode(pass: ComputePass, b: RmsNormBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(tokens * b.rowsPerToken, this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kps[b.accumulate ? 'accumulate' : 'write'].pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
