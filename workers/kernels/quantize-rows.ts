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

/** What quantizing one shape takes (QuantizeRows.plan): per dispatch, the parts it reads and writes and its uniform. */
export interface QuantizeRowsPlan {
  readonly rows: number;
  readonly steps: readonly {
    readonly srcPart: number;
    readonly dstPart: number;
    readonly fields: readonly (readonly ['u32', number])[];
    readonly workgroups: [number, number];
  }[];
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
   * The dispatches that quantize src (f16x2) into dst (i8x4, same shape): one per overlapping (source part,
   * destination part) pair, with the uniform fields each reads. Depends only on the shape and the two row splits, so
   * tensors of one shape split alike share it (and its uniforms: see QuantizeScratch).
   */
  plan(src: GpuTensor, dst: GpuTensor): QuantizeRowsPlan {
    if (src.format !== 'f16x2') throw new Error(`quantize_rows: '${src.name}' is ${src.format}, not f16x2`);
    if (dst.format !== 'i8x4') throw new Error(`quantize_rows: '${dst.name}' is ${dst.format}, not i8x4`);
    if (src.shape.length !== 2 || dst.shape.join() !== src.shape.join()) {
      throw new Error(`quantize_rows: '${src.name}' [${src.shape}] → '${dst.name}' [${dst.shape}]: need equal 2-D shapes`);
    }
    const [, k] = src.shape;
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const steps: QuantizeRowsPlan['steps'][number][] = [];
    src.parts.forEach((s, si) => {
      dst.parts.forEach((d, di) => {
        const lo = Math.max(s.rowStart, d.rowStart);
        const hi = Math.min(s.rowStart + s.rows, d.rowStart + d.rows);
        if (lo >= hi) return;
        const fields: [string, number][] = [
          ['u32', hi - lo],
          ['u32', lo - s.rowStart],
          ['u32', lo - d.rowStart],
          ['u32', lo],
          ['u32', k],
          ['u32', src.rowWords],
          ['u32', dst.rowWords],
          ['u32', 0],
        ];
        steps.push({ srcPart: si, dstPart: di, fields: fields as QuantizeRowsPlan['steps'][number]['fields'], workgroups: dispatch1d(Math.ceil((hi - lo) / (WG / this.threadsPerRow)), maxDim) });
      });
    });
    return { rows: src.shape[0], steps };
  }

  /** The plan's uniforms, created through `group` (category 'uniforms'); they never change once written. */
  createUniforms(plan: QuantizeRowsPlan, group: BufferGroup, label: string): GPUBuffer[] {
    return plan.steps.map((st, i) => createParams(this.ctx, group, `quantize_rows.params.${label}.${i}`, st.fields));
  }

  /** Bind groups of one tensor's quantization: src's and dst's parts, the scales, and the plan's uniforms. */
  bindPlan(plan: QuantizeRowsPlan, src: GpuTensor, dst: GpuTensor, scales: GPUBuffer, uniforms: readonly GPUBuffer[]): QuantizeRowsBinding {
    if (scales.size < plan.rows * 4) throw new Error(`quantize_rows: scales of '${dst.name}' hold fewer than ${plan.rows} floats`);
    if (uniforms.length !== plan.steps.length) throw new Error(`quantize_rows: ${uniforms.length} uniforms for ${plan.steps.length} dispatches`);
    const dispatches = plan.steps.map((st, i) => ({
      bindGroup: createBindGroup(this.ctx, `quantize_rows.bindGroup.${dst.name}.${i}`, this, [
        src.parts[st.srcPart].buffer,
        dst.parts[st.dstPart].buffer,
        scales,
        uniforms[i],
      ]),
      workgroups: st.workgroups,
    }));
    return { dispatches, uniforms: [...uniforms] };
  }

  /**
   * Prepares dst (i8x4, same shape as src) and scales (f32, one per row of src) from src (f16x2). The uniforms are
   * created through `group`; release them (group.release) after the work has been submitted.
   */
  bind(src: GpuTensor, dst: GpuTensor, scales: GPUBuffer, group: BufferGroup): QuantizeRowsBinding {
    const plan = this.plan(src, dst);
    if (scales.size < plan.rows * 4) throw new Error(`quantize_rows: scales of '${dst.name}' hold fewer than ${plan.rows} floats`);
    return this.bindPlan(plan, src, dst, scales, this.createUniforms(plan, group, dst.name));
  }

  encode(pass: GPUComputePassEncoder, binding: QuantizeRowsBinding): void {
    pass.setPipeline(this.pipeline);
    for (const d of binding.dispatches) {
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1]);
    }
  }
}
