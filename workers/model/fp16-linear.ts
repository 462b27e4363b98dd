// The fp16 linear layer: y = x Wᵀ (+ b) with W fp16 packed two per u32 ([out, in], split in parts when large).
// One token (decode) goes through the matrix-vector kernel, several (prefill) through the register-tiled matmul; the
// bias, where the checkpoint has one (Qwen2's q/k/v), is added by its own small kernel after either.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { BiasAdd } from '../kernels/bias-add.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import type { ElementwiseBinding } from '../kernels/elementwise.ts';
import { MatMulF16, type MatMulBinding } from '../kernels/matmul.ts';
import { MatVecF16, type MatVecBinding } from '../kernels/matvec.ts';
import type { LinearBinding, LinearLayer } from './linear.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

/** The pipelines of the fp16 path, created once per device and shared by every layer. */
export class Fp16Kernels {
  readonly matvec: MatVecF16;
  readonly matmul: MatMulF16;
  readonly bias: BiasAdd;

  static for(ctx: GpuContext): Fp16Kernels {
    return perDevice(ctx, 'fp16-linear', (c) => new Fp16Kernels(c));
  }

  private constructor(ctx: GpuContext) {
    this.matvec = new MatVecF16(ctx);
    this.matmul = new MatMulF16(ctx);
    this.bias = new BiasAdd(ctx);
  }
}

interface Fp16Binding extends LinearBinding {
  readonly kind: 'fp16';
  /** The products read x as it is. */
  readonly input: null;
  readonly matvec: MatVecBinding;
  /** null when bound for one token only. */
  readonly matmul: MatMulBinding | null;
  readonly bias: ElementwiseBinding | null;
}

function tensorBytes(t: GpuTensor | null): number {
  return t ? t.parts.reduce((n, p) => n + p.buffer.size, 0) : 0;
}

export class Fp16Linear implements LinearLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    private readonly ctx: GpuContext,
    private readonly kernels: Fp16Kernels,
    readonly name: string,
    /** f16x2 [out, in]. */
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

  bind(x: GPUBuffer, y: GPUBuffer, step: GPUBuffer, maxTokens: number, group: BufferGroup): Fp16Binding {
    if (x.size < maxTokens * this.inFeatures * 4) throw new Error(`fp16 linear '${this.name}': x holds fewer than ${maxTokens}×${this.inFeatures} floats`);
    if (y.size < maxTokens * this.outFeatures * 4) throw new Error(`fp16 linear '${this.name}': y holds fewer than ${maxTokens}×${this.outFeatures} floats`);
    const k = this.kernels;
    return {
      kind: 'fp16',
      input: null,
      matvec: k.matvec.bind(this.weight, x, y, group),
      matmul: maxTokens > 1 ? k.matmul.bind(this.weight, x, y, step, group) : null,
      bias: this.bias ? k.bias.bind(this.bias, y, step, group) : null,
    };
  }

  encode(pass: GPUComputePassEncoder, binding: LinearBinding, tokens: number): void {
    this.encodeProduct(pass, binding, tokens);
  }

  encodeProduct(pass: GPUComputePassEncoder, binding: LinearBinding, tokens: number): void {
    const b = binding as Fp16Binding;
    if (tokens === 1) this.kernels.matvec.encode(pass, b.matvec);
    else if (b.matmul) this.kernels.matmul.encode(pass, b.matmul, tokens);
    else throw new Error(`fp16 linear '${this.name}': bound for one token, asked for ${tokens}`);
    if (b.bias) this.kernels.bias.encode(pass, b.bias, tokens);
  }

  /** Frees the weight and bias buffers through the group that owns them (a no-op for buffers already freed). */
  destroy(): void {
    for (const t of [this.weight, this.bias]) {
      for (const p of t?.parts ?? []) this.ctx.ledger.ownerOf(p.buffer)?.release(p.buffer);
    }
  }
}
