// Owner of shaders/sample.wgsl: greedy / temperature / top-k / top-p sampling of one logits row on the GPU, by the
// rules of the CPU reference (workers/testing/sampler-reference.ts) with the caller's uniform draw u.
import source from '../../shaders/sample.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { uniformData } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, type KernelPipeline } from './pipeline.ts';
import type { TokenSet } from './repetition-penalty.ts';

/** One sampled token's settings, by the rules of the CPU reference (workers/testing/sampler-reference.ts). */
export interface SamplingParams {
  /** 0 (or less) = greedy. */
  temperature: number;
  /** Keep the K most likely tokens; 0 = all. */
  topK: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  topP: number;
  /** This token's uniform draw in [0, 1): Mulberry32.nextUniform(), a multiple of 2^-24 (exact in f32). */
  u: number;
  /**
   * Hugging Face's repetition penalty, applied to the logits before the rules above (repetition-penalty.ts); absent
   * or a penalty of 1: off. `seen`: the ids of the sequence so far. The sampler itself never applies it.
   */
  repetitionPenalty?: { penalty: number; seen: TokenSet };
}
import type { ComputePass } from '../gpu/pass-recorder.ts';

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, u: 0 };

export interface SampleBinding {
  readonly bindGroup: GPUBindGroup;
  readonly params: GPUBuffer;
  readonly vocab: number;
  readonly rowOffset: number;
}

export class Sampler {
  private readonly kp: KernelPipeline;

  constructor(private readonly ctx: GpuContext) {
    const lim = Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX, 256);
    this.kp = createKernelPipeline(ctx, 'sample', source, ['read', 'storage', 'uniform'], {
      WG: 1 << Math.floor(Math.log2(lim)),
    });
  }

  /** Samples logits[rowOffset .. rowOffset + vocab) into out[0] (u32). Options default to greedy (see setOptions). */
  bind(label: string, logits: GPUBuffer, rowOffset: number, vocab: number, out: GPUBuffer, group: BufferGroup): SampleBinding {
    const params = group.createBuffer({
      label: `sample.params.${label}`,
      size: 32,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      category: 'uniforms',
    });
    const binding = {
      bindGroup: createBindGroup(this.ctx, `sample.bindGroup.${label}`, this.kp, [logits, out, params]),
      params,
      vocab,
      rowOffset,
    };
    this.setOptions(binding, GREEDY);
    return binding;
  }

  /** Writes the sampling parameters, u included (queue.writeBuffer: takes effect for the next submitted step). */
  setOptions(b: SampleBinding, params: SamplingParams): void {
    if (!(params.topP > 0)) throw new Error(`sample: top_p must be > 0, got ${params.topP}`);
    this.ctx.device.queue.writeBuffer(
      b.params,
      0,
      uniformData([
        ['u32', b.vocab],
        ['u32', Math.max(0, Math.floor(params.topK))],
        ['u32', b.rowOffset],
        ['u32', 0],
        ['f32', params.temperature],
        ['f32', Math.min(1, params.topP)],
        ['f32', params.u],
      ]),
    );
  }

  encode(pass: ComputePass, b: SampleBinding): void {
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(1);
  }
}
