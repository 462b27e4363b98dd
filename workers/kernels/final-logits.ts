// Owner of shaders/final_logits.wgsl: the logits' scale and soft cap (Granite's logits_scaling, Gemma 2's
// final_logit_softcapping), in place over [tokens, vocab]. Models without either never record it.
import source from '../../shaders/final_logits.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

const WG = 64;

export interface FinalLogitsBinding {
  readonly bindGroup: GPUBindGroup;
  readonly vocab: number;
}

export class FinalLogits {
  private readonly kp: KernelPipeline;

  constructor(private readonly ctx: GpuContext) {
    this.kp = createKernelPipeline(ctx, 'final_logits', withStep(source), ['storage', 'uniform', 'uniform'], { WG });
  }

  /** logits: f32 [maxTokens, vocab]; the rows step.tokens says become cap·tanh(l·scale/cap), or l·scale (cap null). */
  bind(label: string, logits: GPUBuffer, vocab: number, scale: number, cap: number | null, step: GPUBuffer, group: BufferGroup): FinalLogitsBinding {
    const params = createParams(this.ctx, group, `final_logits.params.${label}`, [
      ['u32', vocab],
      ['f32', scale],
      ['f32', cap ?? 0],
    ]);
    return { bindGroup: createBindGroup(this.ctx, `final_logits.bindGroup.${label}`, this.kp, [logits, params, step]), vocab };
  }

  encode(pass: ComputePass, b: FinalLogitsBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(Math.ceil((tokens * b.vocab) / WG), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
