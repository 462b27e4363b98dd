// Owner of shaders/int8_quantize_x.wgsl: LLM.int8 run-time step 2, per-token int8 quantization of the activations'
// non-outlier columns (four per u32) with one absmax/127 scale per token, for several tokens (prefill) after
// Int8Outliers; one token's product (matvec-int8.ts) quantizes x itself.
// Variant (override WG): one thread per token and no barriers on CPU adapters, 64 threads and reductions on GPUs.
import source from '../../shaders/int8_quantize_x.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, workgroupSize } from './pipeline.ts';
import { withStep } from './step.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

export interface QuantizedActivations {
  /** u32 [maxTokens, ceil(k / 4)]: int8 x, four per u32, 0 on outlier columns. */
  xq: GPUBuffer;
  /** f32 [maxTokens]: absmax / 127 of each token's non-outlier columns. */
  sx: GPUBuffer;
}

export interface QuantizeXBinding {
  readonly bindGroup: GPUBindGroup;
}

/** Creates xq and sx for up to maxTokens rows of k columns through `group` (ledger category 'activations'). */
export function createQuantizedActivations(group: BufferGroup, k: number, maxTokens: number, label: string): QuantizedActivations {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  return {
    xq: group.createBuffer({ label: `${label}.xq`, size: maxTokens * Math.ceil(k / 4) * 4, usage, category: 'activations' }),
    sx: group.createBuffer({ label: `${label}.sx`, size: maxTokens * 4, usage, category: 'activations' }),
  };
}

export class Int8QuantizeX {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
  /** Threads per token: 1 on CPU adapters (no barriers), 64 on GPUs. Either gives the same values. */
  readonly workgroupSize: number;

  constructor(
    private readonly ctx: GpuContext,
    opts: { workgroupSize?: 1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256 } = {},
  ) {
    const WG = workgroupSize(ctx, opts.workgroupSize ?? (ctx.software ? 1 : 64));
    this.workgroupSize = WG;
    ({ layout: this.layout, pipeline: this.pipeline } = createKernelPipeline(
      ctx,
      'int8_quantize_x',
      withStep(source),
      ['read', 'read', 'storage', 'storage', 'uniform', 'uniform'],
      { WG },
    ));
  }

  /** x: f32 [maxTokens, k]; outliers: the mask Int8Outliers writes (recorded before); step: the Step uniform. */
  bind(
    x: GPUBuffer,
    k: number,
    outliers: { mask: GPUBuffer },
    out: QuantizedActivations,
    step: GPUBuffer,
    group: BufferGroup,
    label: string,
  ): QuantizeXBinding {
    const params = createParams(this.ctx, group, `${label}.int8_quantize_x.params`, [
      ['u32', k],
      ['u32', Math.ceil(k / 4)],
    ]);
    const buffers = [x, outliers.mask, out.xq, out.sx, step, params];
    const bindGroup = createBindGroup(this.ctx, `${label}.int8_quantize_x.bindGroup`, this, buffers);
    return { bindGroup };
  }

  /** Records the quantization of the first `tokens` rows (the Step uniform must say the same), after Int8Outliers. */
  encode(pass: ComputePass, binding: QuantizeXBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(tokens, this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, binding.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }
}
