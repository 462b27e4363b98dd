// Owner of shaders/matmul_f16.wgsl: y = x Wᵀ for several tokens (prefill) with an fp16 weight split in parts.
// No native-f16 variant: unpack2x16float is exact and the arithmetic stays f32 either way; on the CPU backends and the
// H100 (no shader-f16 there) the packed path is the only one that runs.
import source from '../../shaders/matmul_f16.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';

const TN = 8;
const TT = 8;
/** Output rows and tokens covered by one workgroup (4 × 4 per thread). */
const ROWS_PER_WG = TN * 4;
const TOKENS_PER_WG = TT * 4;

export interface MatMulBinding {
  readonly parts: { bindGroup: GPUBindGroup; rowTiles: number }[];
}

export class MatMulF16 {
  private readonly kp: KernelPipeline;

  constructor(private readonly ctx: GpuContext) {
    this.kp = createKernelPipeline(ctx, 'matmul_f16', withStep(source), ['read', 'read', 'storage', 'uniform', 'uniform'], { TN, TT });
  }

  /** x: f32 [maxTokens, K]; y: f32 [maxTokens, N] with N = weight.shape[0]; step: the Step uniform (tokens). */
  bind(weight: GpuTensor, x: GPUBuffer, y: GPUBuffer, step: GPUBuffer, group: BufferGroup): MatMulBinding {
    if (weight.format !== 'f16x2') throw new Error(`matmul_f16: '${weight.name}' is ${weight.format}, not f16x2`);
    const [n, k] = weight.shape;
    const parts = weight.parts.map((part, i) => {
      const params = createParams(this.ctx, group, `matmul_f16.params.${weight.name}.${i}`, [
        ['u32', part.rows],
        ['u32', weight.rowWords],
        ['u32', part.rowStart],
        ['u32', k],
        ['u32', n],
      ]);
      const bindGroup = createBindGroup(this.ctx, `matmul_f16.bindGroup.${weight.name}.${i}`, this.kp, [part.buffer, x, y, params, step]);
      return { bindGroup, rowTiles: Math.ceil(part.rows / ROWS_PER_WG) };
    });
    return { parts };
  }

  encode(pass: GPUComputePassEncoder, b: MatMulBinding, tokens: number): void {
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const tokenTiles = Math.ceil(tokens / TOKENS_PER_WG);
    pass.setPipeline(this.kp.pipeline);
    for (const part of b.parts) {
      const [wx, wy] = dispatch1d(part.rowTiles, maxDim);
      pass.setBindGroup(0, part.bindGroup);
      pass.dispatchWorkgroups(wx, wy, tokenTiles);
    }
  }
}
