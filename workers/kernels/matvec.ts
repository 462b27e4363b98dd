// Owner of shaders/matvec_f16.wgsl and its native-f16 twin: the decode-time matrix-vector product with fp16 weights.
import packedSource from '../../shaders/matvec_f16.wgsl?raw';
import nativeSource from '../../shaders/matvec_f16_native.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';

const WG = 64;

/** Everything one product needs, built once (bind groups, uniforms) so that encode() only records commands. */
export interface MatVecBinding {
  readonly parts: { bindGroup: GPUBindGroup; workgroups: [number, number] }[];
}

export class MatVecF16 {
  private readonly kp: KernelPipeline;
  readonly native: boolean;
  /** Threads per output row: 1 on CPU adapters (no barriers), 64 on GPUs (coalesced reads + a reduction). */
  readonly threadsPerRow: number;

  constructor(
    private readonly ctx: GpuContext,
    opts: { native?: boolean; threadsPerRow?: 1 | 2 | 4 | 8 | 16 | 32 | 64 } = {},
  ) {
    this.native = (opts.native ?? ctx.features.shaderF16) && ctx.features.shaderF16;
    this.threadsPerRow = opts.threadsPerRow ?? (ctx.software ? 1 : WG);
    this.kp = createKernelPipeline(
      ctx,
      this.native ? 'matvec_f16_native' : 'matvec_f16',
      this.native ? nativeSource : packedSource,
      ['read', 'read', 'storage', 'uniform'],
      { WG, TPR: this.threadsPerRow },
    );
  }

  get pipeline(): GPUComputePipeline {
    return this.kp.pipeline;
  }

  /** y[0..rows) = W x. `x` holds K = shape[1] floats, `y` at least shape[0]. Uniforms are owned by `group`. */
  bind(weight: GpuTensor, x: GPUBuffer, y: GPUBuffer, group: BufferGroup): MatVecBinding {
    if (weight.format !== 'f16x2') throw new Error(`matvec_f16: '${weight.name}' is ${weight.format}, not f16x2`);
    const k = weight.shape[1];
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const rowsPerWorkgroup = WG / this.threadsPerRow;
    const parts = weight.parts.map((part, i) => {
      const params = createParams(this.ctx, group, `matvec_f16.params.${weight.name}.${i}`, [
        ['u32', part.rows],
        ['u32', weight.rowWords],
        ['u32', part.rowStart],
        ['u32', k],
      ]);
      const bindGroup = createBindGroup(this.ctx, `matvec_f16.bindGroup.${weight.name}.${i}`, this.kp, [part.buffer, x, y, params]);
      return { bindGroup, workgroups: dispatch1d(Math.ceil(part.rows / rowsPerWorkgroup), maxDim) };
    });
    return { parts };
  }

  encode(pass: GPUComputePassEncoder, binding: MatVecBinding): void {
    pass.setPipeline(this.kp.pipeline);
    for (const p of binding.parts) {
      pass.setBindGroup(0, p.bindGroup);
      pass.dispatchWorkgroups(p.workgroups[0], p.workgroups[1]);
    }
  }
}
