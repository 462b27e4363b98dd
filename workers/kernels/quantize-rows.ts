// Owner of shaders/quantize_rows.wgsl: the load-time LLM.int8 weight quantizer (fp16 rows → int8 rows + one f32
// absmax/127 scale per row). Source and destination are split by rows independently (an int8 row is half the bytes of
// an fp16 row, so their parts differ): one dispatch per overlapping (source part, destination part) pair.
import source from '../../shaders/quantize_rows.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams } from './pipeline.ts';

const WG = 64;

/** One tensor's quantization, built by bind(): its bind groups and the uniforms to release once it has run. */
export interface QuantizeRowsBinding {
  readonly dispatches: { bindGroup: GPUBindGroup; workgroups: [number, number] }[];
  readonly uniforms: GPUBuffer[];
}

export class QuantizeRows {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
  /** Threads per row: 1 on CPU adapters (no barriers), 64 on GPUs. Either gives the same words and scales. */
  readonly threadsPerRow: number;

  constructor(
    private readonly ctx: GpuContext,
    opts: { threadsPerRow?: 1 | 2 | 4 | 8 | 16 | 32 | 64 } = {},
  ) {
    this.threadsPerRow = opts.threadsPerRow ?? (ctx.software ? 1 : WG);
    ({ layout: this.layout, pipeline: this.pipeline } = createKernelPipeline(
      ctx,
      'quantize_rows',
      source,
      ['read', 'storage', 'storage', 'uniform'],
      { WG, TPR: this.threadsPerRow },
    ));
  }

  /**
   * Prepares dst (i8x4, same shape as src) and scales (f32, one per row of src) from src (f16x2). The uniforms are
   * created through `group`; release them (group.release) after the work has been submitted.
   */
  bind(src: GpuTensor, dst: GpuTensor, scales: GPUBuffer, group: BufferGroup): QuantizeRowsBinding {
    if (src.format !== 'f16x2') throw new Error(`quantize_rows: '${src.name}' is ${src.format}, not f16x2`);
    if (dst.format !== 'i8x4') throw new Error(`quantize_rows: '${dst.name}' is ${dst.format}, not i8x4`);
    if (src.shape.length !== 2 || dst.shape.join() !== src.shape.join()) {
      throw new Error(`quantize_rows: '${src.name}' [${src.shape}] → '${dst.name}' [${dst.shape}]: need equal 2-D shapes`);
    }
    const [rows, k] = src.shape;
    if (scales.size < rows * 4) throw new Error(`quantize_rows: scales of '${dst.name}' hold fewer than ${rows} floats`);
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const dispatches: QuantizeRowsBinding['dispatches'] = [];
    const uniforms: GPUBuffer[] = [];
    for (const s of src.parts) {
      for (const d of dst.parts) {
        const lo = Math.max(s.rowStart, d.rowStart);
        const hi = Math.min(s.rowStart + s.rows, d.rowStart + d.rows);
        if (lo >= hi) continue;
        const i = uniforms.length;
        const uniform = createParams(this.ctx, group, `quantize_rows.params.${dst.name}.${i}`, [
          ['u32', hi - lo],
          ['u32', lo - s.rowStart],
          ['u32', lo - d.rowStart],
          ['u32', lo],
          ['u32', k],
          ['u32', src.rowWords],
          ['u32', dst.rowWords],
          ['u32', 0],
        ]);
        uniforms.push(uniform);
        const bindGroup = createBindGroup(this.ctx, `quantize_rows.bindGroup.${dst.name}.${i}`, this, [s.buffer, d.buffer, scales, uniform]);
        dispatches.push({ bindGroup, workgroups: dispatch1d(Math.ceil((hi - lo) / (WG / this.threadsPerRow)), maxDim) });
      }
    }
    return { dispatches, uniforms };
  }

  encode(pass: GPUComputePassEncoder, binding: QuantizeRowsBinding): void {
    pass.setPipeline(this.pipeline);
    for (const d of binding.dispatches) {
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1]);
    }
  }
}
