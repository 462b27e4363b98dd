// Owner of shaders/matmul_f16.wgsl and matmul_f16_tiled.wgsl: y = x Wᵀ for several tokens (prefill) with an fp16
// weight split in parts. CPU adapters take matmul_f16.wgsl (4 × 4 per thread in registers, no barriers: barriers cost
// far more than the math there); GPUs the tiled twin, which stages 64 rows × 32 halves of W and 64 tokens of x in
// workgroup memory per k step (vec4 weight loads; rows must be whole vec4 words, as every linear layer's are).
// No native-f16 variant: unpack2x16float is exact and the arithmetic stays f32 either way; on the CPU backends and the
// H100 (no shader-f16 there) the packed path is the only one that runs.
import source from '../../shaders/matmul_f16.wgsl?raw';
import tiledSource from '../../shaders/matmul_f16_tiled.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

const TN = 8;
const TT = 8;
/** Output rows and tokens covered by one workgroup (4 × 4 per thread). */
const ROWS_PER_WG = TN * 4;
const TOKENS_PER_WG = TT * 4;
/** The same for the tiled kernel (TILE_N, TILE_T in its WGSL). */
const TILED_ROWS = 64;
const TILED_TOKENS = 64;

export interface MatMulBinding {
  readonly parts: { bindGroup: GPUBindGroup; rowTiles: number }[];
}

export class MatMulF16 {
  private readonly kp: KernelPipeline;
  /** Workgroup-memory tiles (GPUs) or registers only (CPU adapters). */
  readonly tiled: boolean;

  constructor(
    private readonly ctx: GpuContext,
    opts: { tiled?: boolean } = {},
  ) {
    this.tiled = opts.tiled ?? !ctx.software;
    const slots = ['read', 'read', 'storage', 'uniform', 'uniform'] as const;
    this.kp = this.tiled
      ? createKernelPipeline(ctx, 'matmul_f16_tiled', withStep(tiledSource), slots)
      : createKernelPipeline(ctx, 'matmul_f16', withStep(source), slots, { TN, TT });
  }

  /** x: f32 [maxTokens, K]; y: f32 [maxTokens, N] with N = weight.shape[0]; step: the Step uniform (tokens). */
  bind(weight: GpuTensor, x: GPUBuffer, y: GPUBuffer, step: GPUBuffer, group: BufferGroup): MatMulBinding {
    if (weight.format !== 'f16x2') throw new Error(`matmul_f16: '${weight.name}' is ${weight.format}, not f16x2`);
    const [n, k] = weight.shape;
    if (this.tiled && weight.rowWords % 4 !== 0) throw new Error(`matmul_f16_tiled: '${weight.name}' rows are ${weight.rowWords} words, not whole vec4`);
    const rowsPerWorkgroup = this.tiled ? TILED_ROWS : ROWS_PER_WG;
    const parts = weight.parts.map((part, i) => {
      const params = createParams(this.ctx, group, `matmul_f16.params.${weight.name}.${i}`, [
        ['u32', part.rows],
        ['u32', weight.rowWords],
        ['u32', part.rowStart],
        ['u32', k],
        ['u32', n],
      ]);
      const bindGroup = createBindGroup(this.ctx, `matmul_f16.bindGroup.${weight.name}.${i}`, this.kp, [part.buffer, x, y, params, step]);
      return { bindGroup, rowTiles: Math.ceil(part.rows / rowsPerWorkgroup) };
    });
    return { parts };
  }

  encode(pass: ComputePass, b: MatMulBinding, tokens: number): void {
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const tokenTiles = Math.ceil(tokens / (this.tiled ? TILED_TOKENS : TOKENS_PER_WG));
    pass.setPipeline(this.kp.pipeline);
    for (const part of b.parts) {
      const [wx, wy] = dispatch1d(part.rowTiles, maxDim);
      pass.setBindGroup(0, part.bindGroup);
      pass.dispatchWorkgroups(wx, wy, tokenTiles);
    }
  }
}
