// The fp16 linear layer: y = x Wᵀ (+ b) with W fp16 packed two per u32 ([out, in], rows of whole vec4 words, split in
// parts when large). One token goes through the one-token product with the norm and epilogue fused in (matvec.ts);
// several through RMSNorm, the register-tiled matmul, the bias kernel and the epilogue's kernel (linear-io.ts).
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { BiasAdd } from '../kernels/bias-add.ts';
import type { ElementwiseBinding } from '../kernels/elementwise.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import { MatMulF16, type MatMulBinding } from '../kernels/matmul.ts';
import { MatVecF16 } from '../kernels/matvec.ts';
import type { MatVecBinding, MatVecOptions } from '../kernels/matvec-io.ts';
import { concatBiases, concatRows, readsAsIs, releaseTensor, type RowSegment } from './concat-rows.ts';
import { bindPrefillIo, encodePrefillEpilogue, encodePrefillNorm, type PrefillIo } from './linear-io.ts';
import type { LinearBinding, LinearIo, LinearLayer } from './linear.ts';

/** The pipelines of the fp16 path, created once per device and shared by every layer. */
export class Fp16Kernels {
  readonly matvec: MatVecF16;
  readonly matmul: MatMulF16;
  readonly bias: BiasAdd;

  /** matvec: the one-token product's variant (default: the device's, matvec-io.ts matvecVariant; benches tune it). */
  static for(ctx: GpuContext, opts: { matvec?: MatVecOptions } = {}): Fp16Kernels {
    return perDevice(ctx, `fp16-linear${opts.matvec ? JSON.stringify(opts.matvec) : ''}`, (c) => new Fp16Kernels(c, opts.matvec));
  }

  private constructor(ctx: GpuContext, matvec?: MatVecOptions) {
    this.matvec = new MatVecF16(ctx, matvec);
    this.matmul = new MatMulF16(ctx);
    this.bias = new BiasAdd(ctx);
  }
}

interface Fp16Binding extends LinearBinding {
  readonly kind: 'fp16';
  readonly matvec: MatVecBinding;
  /** null when bound for one token only. */
  readonly prefill: { io: PrefillIo; matmul: MatMulBinding; bias: ElementwiseBinding | null } | null;
}

function tensorBytes(t: GpuTensor | null): number {
  return t ? t.parts.reduce((n, p) => n + p.buffer.size, 0) : 0;
}

/** What an fp16 layer is made of (weights.ts LinearSpec with fp16 weights). */
export interface Fp16Source {
  name: string;
  weights: readonly GpuTensor[];
  biases: readonly (GpuTensor | null)[];
  rows: readonly RowSegment[];
  rowMultiple: number;
  /** The weights are read elsewhere too (tied lm_head: the embedding table): copied if need be, never released. */
  shared: boolean;
}

/**
 * The weight and bias of a layer from its sources: the one loaded tensor where it can be read as it is, otherwise the
 * concatenation (or padded copy) made on the GPU, after which the sources are released (unless shared).
 */
export function joinFp16(ctx: GpuContext, src: Fp16Source, maxBindingBytes: number): { weight: GpuTensor; bias: GpuTensor | null } {
  const [w0] = src.weights;
  for (const w of src.weights) if (w.format !== 'f16x2' || w.shape.length !== 2) throw new Error(`fp16 linear '${src.name}': '${w.name}' must be f16x2 [out, in]`);
  const single = src.weights.length === 1 && src.rows.length === 1 && src.rows[0].row === 0 && src.rows[0].rows === w0.shape[0];
  if (single && readsAsIs(w0, src.rowMultiple)) return { weight: w0, bias: src.biases[0] };
  const group = ctx.ledger.ownerOf(w0.parts[0].buffer);
  if (!group) throw new Error(`fp16 linear '${src.name}': '${w0.name}' belongs to no buffer group`);
  const enc = ctx.device.createCommandEncoder({ label: `join.${src.name}` });
  const weight = concatRows(enc, group, `${src.name}.weight`, src.weights, src.rows, { maxBindingBytes, rowMultiple: src.rowMultiple });
  const bias = concatBiases(enc, group, src.name, src.biases, src.rows);
  ctx.device.queue.submit([enc.finish()]);
  if (!src.shared) for (const t of [...src.weights, ...src.biases]) if (t !== bias) releaseTensor(ctx, t);
  return { weight, bias };
}

export class Fp16Linear implements LinearLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    private readonly ctx: GpuContext,
    private readonly kernels: Fp16Kernels,
    readonly name: string,
    /** f16x2 [out, in], rows of whole vec4 words. */
    readonly weight: GpuTensor,
    /** f16x2 [out], or null. */
    readonly bias: GpuTensor | null,
  ) {
    if (weight.format !== 'f16x2' || weight.shape.length !== 2) throw new Error(`fp16 linear '${name}': weight must be f16x2 [out, in]`);
    [this.outFeatures, this.inFeatures] = weight.shape;
    if (bias && (bias.format !== 'f16x2' || bias.shape.length !== 1 || bias.shape[0] !== this.outFeatures)) {
      throw new Error(`fp16 linear '${name}': bias must be f16x2 [${this.outFeatures}]`);
    }
  }

  get bytes(): number {
    return tensorBytes(this.weight) + tensorBytes(this.bias);
  }

  bind(io: LinearIo, maxTokens: number, group: BufferGroup): Fp16Binding {
    if (io.x.size < maxTokens * this.inFeatures * 4) throw new Error(`fp16 linear '${this.name}': x holds fewer than ${maxTokens}×${this.inFeatures} floats`);
    const k = this.kernels;
    const matvec = k.matvec.bind(this.weight, { x: io.x, norm: io.norm, bias: this.bias, epilogue: io.epilogue, step: io.step }, group);
    if (maxTokens === 1) return { kind: 'fp16', matvec, prefill: null };
    const pio = bindPrefillIo(this.ctx, io, this, group);
    if (pio.output.size < maxTokens * this.outFeatures * 4) throw new Error(`fp16 linear '${this.name}': y holds fewer than ${maxTokens}×${this.outFeatures} floats`);
    return {
      kind: 'fp16',
      matvec,
      prefill: {
        io: pio,
        matmul: k.matmul.bind(this.weight, pio.input, pio.output, io.step, group),
        bias: this.bias ? k.bias.bind(this.bias, pio.output, io.step, group) : null,
      },
    };
  }

  encode(pass: ComputePass, binding: LinearBinding, tokens: number): void {
    const b = binding as Fp16Binding;
    if (b.kind !== 'fp16') throw new Error(`fp16 linear '${this.name}': binding of kind '${b.kind}'`);
    if (tokens === 1) return this.kernels.matvec.encode(pass, b.matvec);
    const p = b.prefill;
    if (!p) throw new Error(`fp16 linear '${this.name}': bound for one token, asked for ${tokens}`);
    encodePrefillNorm(this.ctx, pass, p.io, tokens);
    this.kernels.matmul.encode(pass, p.matmul, tokens);
    if (p.bias) this.kernels.bias.encode(pass, p.bias, tokens);
    encodePrefillEpilogue(this.ctx, pass, p.io, tokens);
  }

  /** Frees the weight and bias buffers through the group that owns them (a no-op for buffers already freed). */
  destroy(): void {
    releaseTensor(this.ctx, this.weight);
    releaseTensor(this.ctx, this.bias);
  }
}
