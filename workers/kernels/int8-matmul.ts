// Owner of shaders/int8_matmul.wgsl and its two dot4() files, int8_dot4_packed.wgsl / int8_dot4_shifts.wgsl: LLM.int8 run-time
// step 3, the int8 × int8 product rescaled by row scale × token scale, plus the float product of the outlier columns
// against the dequantized int8 weight columns, plus the bias. Entry point `decode` for one token, `prefill` for more.
// Variant (override TPR): one thread per output row and no barriers on CPU adapters, 64 threads and a reduction on GPUs.
import matmulSource from '../../shaders/int8_matmul.wgsl?raw';
import dot4Packed from '../../shaders/int8_dot4_packed.wgsl?raw';
import dot4Shifts from '../../shaders/int8_dot4_shifts.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipelines, createParams } from './pipeline.ts';

const WG = 64;
/** Tokens per thread (and per workgroup) of the `prefill` entry point (TT in the WGSL). */
export const PREFILL_TOKENS_PER_WORKGROUP = 4;

/** What the product reads besides the weight: the outputs of Int8Outliers and Int8QuantizeX, and x itself. */
export interface Int8MatMulInputs {
  x: GPUBuffer;
  xq: GPUBuffer;
  sx: GPUBuffer;
  outlierList: GPUBuffer;
}

export interface Int8MatMulBinding {
  readonly parts: { bindGroup: GPUBindGroup; rows: number }[];
}

export class Int8MatMul {
  readonly layout: GPUBindGroupLayout;
  readonly decode: GPUComputePipeline;
  readonly prefill: GPUComputePipeline;
  /** True when the kernel uses dot4I8Packed (the device has the WGSL feature and it was not turned off). */
  readonly dp4a: boolean;
  /** Threads per output row: 1 on CPU adapters (no barriers), 64 on GPUs (coalesced reads + a reduction). */
  readonly threadsPerRow: number;

  constructor(
    private readonly ctx: GpuContext,
    opts: { dp4a?: boolean; threadsPerRow?: 1 | 2 | 4 | 8 | 16 | 32 | 64 } = {},
  ) {
    this.dp4a = (opts.dp4a ?? ctx.features.dot4I8Packed) && ctx.features.dot4I8Packed;
    this.threadsPerRow = opts.threadsPerRow ?? (ctx.software ? 1 : WG);
    const name = this.dp4a ? 'int8_matmul_dp4a' : 'int8_matmul';
    // dot4() comes from its own file, in front of the kernel (see the head of int8_matmul.wgsl for why).
    const code = `${this.dp4a ? dot4Packed : dot4Shifts}\n${matmulSource}`;
    const read = 'read' as const;
    const { layout, pipelines } = createKernelPipelines(
      ctx,
      name,
      code,
      [read, read, read, read, read, read, read, 'storage', 'uniform', 'uniform'],
      ['decode', 'prefill'],
      { WG, TPR: this.threadsPerRow },
    );
    this.layout = layout;
    this.decode = pipelines.decode;
    this.prefill = pipelines.prefill;
  }

  /**
   * y[t, :] = x[t, :] Wᵀ (+ b) through the int8 decomposition, for every row part of `weight` (i8x4 [n, k]).
   * scales: f32 [n]; bias: f16x2 [n] or null; y: f32 [maxTokens, n]; step: the Step uniform.
   */
  bind(
    weight: GpuTensor,
    scales: GPUBuffer,
    bias: GpuTensor | null,
    inputs: Int8MatMulInputs,
    y: GPUBuffer,
    step: GPUBuffer,
    group: BufferGroup,
  ): Int8MatMulBinding {
    if (weight.format !== 'i8x4') throw new Error(`int8_matmul: '${weight.name}' is ${weight.format}, not i8x4`);
    const [n, k] = weight.shape;
    if (bias && (bias.format !== 'f16x2' || bias.parts.length !== 1 || bias.shape[bias.shape.length - 1] !== n)) {
      throw new Error(`int8_matmul: bias '${bias.name}' must be one f16x2 buffer of ${n} values`);
    }
    // Without a bias the binding still needs a buffer; the shader never reads it (has_bias = 0).
    const biasBuffer =
      bias?.parts[0].buffer ??
      group.createBuffer({ label: `${weight.name}.int8_matmul.noBias`, size: 4, usage: GPUBufferUsage.STORAGE, category: 'uniforms' });
    const parts = weight.parts.map((part, i) => {
      const params = createParams(this.ctx, group, `${weight.name}.int8_matmul.params.${i}`, [
        ['u32', part.rows],
        ['u32', weight.rowWords],
        ['u32', part.rowStart],
        ['u32', k],
        ['u32', n],
        ['u32', bias ? 1 : 0],
        ['u32', 0],
        ['u32', 0],
      ]);
      const buffers = [part.buffer, scales, inputs.xq, inputs.sx, inputs.x, inputs.outlierList, biasBuffer, y, step, params];
      const bindGroup = createBindGroup(this.ctx, `${weight.name}.int8_matmul.bindGroup.${i}`, this, buffers);
      return { bindGroup, rows: part.rows };
    });
    return { parts };
  }

  /** Records the product for the first `tokens` rows of x (the Step uniform must say the same). */
  encode(pass: GPUComputePassEncoder, binding: Int8MatMulBinding, tokens: number): void {
    const perWorkgroup = tokens === 1 ? 1 : PREFILL_TOKENS_PER_WORKGROUP;
    const blocks = Math.ceil(tokens / perWorkgroup);
    const rowsPerWorkgroup = WG / this.threadsPerRow;
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    pass.setPipeline(tokens === 1 ? this.decode : this.prefill);
    for (const p of binding.parts) {
      const [wx, wy] = dispatch1d(Math.ceil(p.rows / rowsPerWorkgroup) * blocks, maxDim);
      pass.setBindGroup(0, p.bindGroup);
      pass.dispatchWorkgroups(wx, wy);
    }
  }
}
