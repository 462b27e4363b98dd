// Owner of shaders/matvec_f16.wgsl and its half2() preludes (matvec_f16_packed.wgsl everywhere, matvec_f16_native.wgsl
// where the device has shader-f16): the one-token product with an fp16 weight, its input read through RMSNorm where
// asked and its epilogue (store, residual add, GLU, RoPE + KV append) fused in (matvec-io.ts).
import packedSource from '../../shaders/matvec_f16_packed.wgsl?raw';
import nativeSource from '../../shaders/matvec_f16_native.wgsl?raw';
import source from '../../shaders/matvec_f16.wgsl?raw';
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

export class MatVecF16 {
  readonly native: boolean;
  readonly variant: MatVecVariant;
  private readonly pipelines: Record<MatVecEpilogueKind, MatVecPipeline>;

  constructor(
    private readonly ctx: GpuContext,
    opts: MatVecOptions & { native?: boolean } = {},
  ) {
    this.native = (opts.native ?? ctx.features.shaderF16) && ctx.features.shaderF16;
    this.variant = matvecVariant(ctx, opts);
    this.pipelines = createMatVecPipelines(ctx, this.variant, {
      name: this.native ? 'matvec_f16_native' : 'matvec_f16',
      enables: this.native ? ['f16'] : [],
      prelude: this.native ? nativeSource : packedSource,
      source,
      scales: false,
    });
  }

  /** The product of `weight` (f16x2 [rows, k], rows a multiple of 4 words) with io's x, into io's epilogue. */
  bind(weight: GpuTensor, io: MatVecIo, group: BufferGroup): MatVecBinding {
    if (weight.format !== 'f16x2') throw new Error(`matvec_f16: '${weight.name}' is ${weight.format}, not f16x2`);
    return bindMatVec(this.ctx, 'matvec_f16', this.pipelines, this.variant, weight, io, group, { scales: null, threshold: 0 });
  }

  encode(pass: ComputePass, binding: MatVecBinding): void {
    encodeMatVec(pass, binding);
  }
}
