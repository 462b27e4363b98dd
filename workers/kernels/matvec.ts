// Owner of shaders/matvec_f16.wgsl and its native-f16 twin: the decode-time matrix-vector product with fp16 weights.
import packedSource from '../../shaders/matvec_f16.wgsl?raw';
import nativeSource from '../../shaders/matvec_f16_native.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../model/tensor.ts';
import { dispatch1d, uniformData } from './dispatch.ts';

const WG = 64;

/** Everything one product needs, built once (bind groups, uniforms) so that encode() only records commands. */
export interface MatVecBinding {
  readonly parts: { bindGroup: GPUBindGroup; workgroups: [number, number] }[];
}

export class MatVecF16 {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
  readonly native: boolean;
  /** Threads per output row: 1 on CPU adapters (no barriers), 64 on GPUs (coalesced reads + a reduction). */
  readonly threadsPerRow: number;

  constructor(
    private readonly ctx: GpuContext,
    opts: { native?: boolean; threadsPerRow?: 1 | 2 | 4 | 8 | 16 | 32 | 64 } = {},
  ) {
    const { device } = ctx;
    this.native = (opts.native ?? ctx.features.shaderF16) && ctx.features.shaderF16;
    this.threadsPerRow = opts.threadsPerRow ?? (ctx.software ? 1 : WG);
    this.layout = device.createBindGroupLayout({
      label: 'matvec_f16.layout',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
        { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ],
    });
    const module = device.createShaderModule({
      label: this.native ? 'matvec_f16_native.module' : 'matvec_f16.module',
      code: this.native ? nativeSource : packedSource,
    });
    this.pipeline = device.createComputePipeline({
      label: this.native ? 'matvec_f16_native.pipeline' : 'matvec_f16.pipeline',
      layout: device.createPipelineLayout({ label: 'matvec_f16.pipelineLayout', bindGroupLayouts: [this.layout] }),
      compute: { module, entryPoint: 'main', constants: { WG, TPR: this.threadsPerRow } },
    });
  }

  /** y[0..rows) = W x. `x` holds K = shape[1] floats, `y` at least shape[0]. Uniforms are owned by `group`. */
  bind(weight: GpuTensor, x: GPUBuffer, y: GPUBuffer, group: BufferGroup): MatVecBinding {
    if (weight.format !== 'f16x2') throw new Error(`matvec_f16: '${weight.name}' is ${weight.format}, not f16x2`);
    const k = weight.shape[1];
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const parts = weight.parts.map((part, i) => {
      const uniform = group.createBuffer({
        label: `matvec_f16.params.${weight.name}.${i}`,
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        category: 'uniforms',
      });
      this.ctx.device.queue.writeBuffer(
        uniform,
        0,
        uniformData([
          ['u32', part.rows],
          ['u32', weight.rowWords],
          ['u32', part.rowStart],
          ['u32', k],
        ]),
      );
      const bindGroup = this.ctx.device.createBindGroup({
        label: `matvec_f16.bindGroup.${weight.name}.${i}`,
        layout: this.layout,
        entries: [
          { binding: 0, resource: { buffer: part.buffer } },
          { binding: 1, resource: { buffer: x } },
          { binding: 2, resource: { buffer: y } },
          { binding: 3, resource: { buffer: uniform } },
        ],
      });
      return { bindGroup, workgroups: dispatch1d(Math.ceil(part.rows / (WG / this.threadsPerRow)), maxDim) };
    });
    return { parts };
  }

  encode(pass: GPUComputePassEncoder, binding: MatVecBinding): void {
    pass.setPipeline(this.pipeline);
    for (const p of binding.parts) {
      pass.setBindGroup(0, p.bindGroup);
      pass.dispatchWorkgroups(p.workgroups[0], p.workgroups[1]);
    }
  }
}
