// Owner of shaders/embedding.wgsl: x[t] = table[ids[t]] · scale (fp16 table, maybe split in parts) → f32 rows.
import source from '../../shaders/embedding.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

const WG = 64;

export interface EmbeddingBinding {
  readonly bindGroups: GPUBindGroup[];
  readonly rowWords: number;
}

export class Embedding {
  private readonly kp: KernelPipeline;

  constructor(private readonly ctx: GpuContext) {
    this.kp = createKernelPipeline(ctx, 'embedding', withStep(source), ['read', 'read', 'storage', 'uniform', 'uniform'], { WG });
  }

  /** ids: u32 [maxTokens]; x: f32 [maxTokens, dim]; step: the Step uniform (tokens); scale: multiplies every value. */
  bind(table: GpuTensor, ids: GPUBuffer, x: GPUBuffer, step: GPUBuffer, group: BufferGroup, scale = 1): EmbeddingBinding {
    if (table.format !== 'f16x2') throw new Error(`embedding: '${table.name}' is ${table.format}, not f16x2`);
    const dim = table.shape[1];
    const bindGroups = table.parts.map((part, i) => {
      const params = createParams(this.ctx, group, `embedding.params.${table.name}.${i}`, [
        ['u32', part.rowStart],
        ['u32', part.rows],
        ['u32', table.rowWords],
        ['u32', dim],
        ['f32', scale],
      ]);
      return createBindGroup(this.ctx, `embedding.bindGroup.${table.name}.${i}`, this.kp, [part.buffer, ids, x, params, step]);
    });
    return { bindGroups, rowWords: table.rowWords };
  }

  encode(pass: ComputePass, b: EmbeddingBinding, tokens: number): void {
    const [wx, wy] = dispatch1d(Math.ceil((tokens * b.rowWords) / WG), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.kp.pipeline);
    for (const bg of b.bindGroups) {
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(wx, wy);
    }
  }
}
