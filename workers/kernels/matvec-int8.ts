// Owner of shaders/matvec_int8.wgsl (with int8_dot4_packed.wgsl or int8_dot4_shifts.wgsl in front): the one-token
// LLM.int8 product, x quantized and its outlier columns taken in float inside the kernel, with the input norm and the
// epilogue of matvec-io.ts. One dispatch per product instead of a quantization dispatch and a product dispatch.
import dot4Packed from '../../shaders/int8_dot4_packed.wgsl?raw';
import dot4Shifts from '../../shaders/int8_dot4_shifts.wgsl?raw';
import source from '../../shaders/matvec_int8.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import {
  bindMatVec,
  createMatVecPipelines,
  encodeMatVec,
  matvecVariant,
  type MatVecBinding,
  type MatVecEpilogueKind,
  type MatVecIo,
  type MatVecOptions,
  type MatVecPipeline,
  type MatVecVariant,
} from './matvec-io.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

export class MatVecInt8 {
  /** True when the kernel uses dot4I8Packed (the device has the WGSL feature and it was not turned off). */
  readonly dp4a: boolean;
  readonly variant: MatVecVariant;
  private readonly pipelines: Record<MatVecEpilogueKind, MatVecPipeline>;

  constructor(
    private readonly ctx: GpuContext,
    opts: MatVecOptions & { dp4a?: boolean } = {},
  ) {
    this.dp4a = (opts.dp4a ?? ctx.features.dot4I8Packed) && ctx.features.dot4I8Packed;
    this.variant = matvecVariant(ctx, opts, 4);
    this.pipelines = createMatVecPipelines(ctx, this.variant, {
      name: this.dp4a ? 'matvec_int8_dp4a' : 'matvec_int8',
      enables: [],
      prelude: this.dp4a ? dot4Packed : dot4Shifts,
      source,
      scales: true,
    });
  }

  /**
   * The product of `weight` (i8x4 [rows, k], rows a multiple of 4 words; `scales` f32 [rows]) with io's x, x quantized
   * per token with outlier columns |x| >= threshold (0: none) taken in float, into io's epilogue.
   */
  bind(weight: GpuTensor, scales: GPUBuffer, threshold: number, io: MatVecIo, group: BufferGroup): MatVecBinding {
    if (weight.format !== 'i8x4') throw new Error(`matvec_int8: '${weight.name}' is ${weight.format}, not i8x4`);
    if (!(threshold >= 0)) throw new Error(`matvec_int8: threshold must be >= 0, got ${threshold}`);
    if (scales.size < weight.shape[0] * 4) throw new Error(`matvec_int8: scales of '${weight.name}' hold fewer than ${weight.shape[0]} rows`);
    return bindMatVec(this.ctx, 'matvec_int8', this.pipelines, this.variant, weight, io, group, { scales, threshold });
  }

  encode(pass: ComputePass, binding: MatVecBinding): void {
    encodeMatVec(pass, binding);
  }
}
