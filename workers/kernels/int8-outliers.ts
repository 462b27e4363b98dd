// Owner of shaders/int8_outliers.wgsl: LLM.int8 run-time step 1, the outlier columns of the current activations
// (a column mask, and the compact list the int8 matmul walks in float).
// Variant (override WG): one thread and no barriers on CPU adapters, 256 threads and a scan on GPUs.
import source from '../../shaders/int8_outliers.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { createBindGroup, createKernelPipeline, createParams, workgroupSize } from './pipeline.ts';

export interface OutlierBuffers {
  /** u32 [k]: 1 where the column is an outlier. */
  mask: GPUBuffer;
  /** u32 [1 + k]: the count, then the outlier columns in ascending order. */
  list: GPUBuffer;
}

export interface OutliersBinding {
  readonly bindGroup: GPUBindGroup;
}

/** Creates the mask and list buffers for k columns through `group` (ledger category 'outliers'). */
export function createOutlierBuffers(group: BufferGroup, k: number, label: string): OutlierBuffers {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  return {
    mask: group.createBuffer({ label: `${label}.outlierMask`, size: k * 4, usage, category: 'outliers' }),
    list: group.createBuffer({ label: `${label}.outlierList`, size: (k + 1) * 4, usage, category: 'outliers' }),
  };
}

export class Int8Outliers {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
  /** Threads of the one workgroup: 1 on CPU adapters (no barriers), 256 on GPUs. Either gives the same mask and list. */
  readonly workgroupSize: number;

  constructor(
    private readonly ctx: GpuContext,
    opts: { workgroupSize?: 1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256 } = {},
  ) {
    // One workgroup does the whole scan; 256 is the WebGPU minimum for both limits, so this is always allowed.
    const WG = workgroupSize(ctx, opts.workgroupSize ?? (ctx.software ? 1 : 256));
    this.workgroupSize = WG;
    ({ layout: this.layout, pipeline: this.pipeline } = createKernelPipeline(
      ctx,
      'int8_outliers',
      withStep(source),
      ['read', 'storage', 'storage', 'uniform', 'uniform'],
      { WG },
    ));
  }

  /** x: f32 [maxTokens, k]; step: the Step uniform (its `tokens` rows are scanned). threshold 0: no outliers. */
  bind(x: GPUBuffer, k: number, threshold: number, step: GPUBuffer, out: OutlierBuffers, group: BufferGroup, label: string): OutliersBinding {
    if (!(threshold >= 0)) throw new Error(`int8_outliers: threshold must be >= 0, got ${threshold}`);
    const params = createParams(this.ctx, group, `${label}.int8_outliers.params`, [
      ['u32', k],
      ['f32', threshold],
    ]);
    const bindGroup = createBindGroup(this.ctx, `${label}.int8_outliers.bindGroup`, this, [x, out.mask, out.list, step, params]);
    return { bindGroup };
  }

  encode(pass: GPUComputePassEncoder, binding: OutliersBinding): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, binding.bindGroup);
    pass.dispatchWorkgroups(1);
  }
}
