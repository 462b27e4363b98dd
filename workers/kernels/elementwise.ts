// The shape the element-wise kernels share (add.wgsl, bias_add.wgsl, glu.wgsl): one thread per element over
// tokens × width, bindings (read-write buffer, read-only buffer, Params uniform {width, ...the kernel's own fields},
// Step uniform). Each kernel's own file (add.ts, bias-add.ts, glu.ts) owns its pipeline through this base, with
// its variants as override constants.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

/** Uniform fields after the width, in the order the kernel's Params struct declares them. */
export type ParamFields = readonly (readonly ['u32' | 'f32', number])[];

const WG = 64;

export interface ElementwiseBinding {
  readonly bindGroup: GPUBindGroup;
  readonly width: number;
}

export class ElementwiseKernel {
  private readonly kp: KernelPipeline;

  protected constructor(
    private readonly ctx: GpuContext,
    private readonly name: string,
    source: string,
    constants: Record<string, number> = {},
  ) {
    this.kp = createKernelPipeline(ctx, name, source, ['storage', 'read', 'uniform', 'uniform'], { WG, ...constants });
  }

  protected bindBuffers(
    label: string,
    inout: GPUBuffer,
    input: GPUBuffer,
    width: number,
    step: GPUBuffer,
    group: BufferGroup,
    fields: ParamFields = [],
  ): ElementwiseBinding {
    const params = createParams(this.ctx, group, `${this.name}.params.${label}`, [['u32', width], ...fields]);
    return { bindGroup: createBindGroup(this.ctx, `${this.name}.bindGroup.${label}`, this.kp, [inout, input, params, step]), width };
  }

  encode(pass: ComputePass, b: ElementwiseBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(Math.ceil((tokens * b.width) / WG), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
