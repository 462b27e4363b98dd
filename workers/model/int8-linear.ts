// LLM.int8 linear layer (Dettmers et al. 2022): int8 weights with one absmax/127 scale per output row, quantized on
// the GPU while the model loads; at run time, per forward and entirely on the GPU, the input columns where any
// |x| >= threshold are multiplied in float against the dequantized int8 weight columns and the others are quantized
// per token and multiplied in int8. Threshold 0 turns the decomposition off. The first two steps depend on x and the
// threshold only, so layers that read the same x (q/k/v, gate/up) share them: see Int8InputStage.
// Semantics: ../shared/models/README.md (llama-outliers-fp16); CPU reference: int8-reference.ts.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { Int8MatMul, type Int8MatMulBinding } from '../kernels/int8-matmul.ts';
import { createOutlierBuffers, Int8Outliers, type OutliersBinding } from '../kernels/int8-outliers.ts';
import { createQuantizedActivations, Int8QuantizeX, type QuantizeXBinding } from '../kernels/int8-quantize-x.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import type { InputStage, LinearBinding, LinearLayer } from './linear.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

/** The threshold of LLM.int8 (bitsandbytes' default) and of the reference emulation. */
export const DEFAULT_OUTLIER_THRESHOLD = 6;

/** The pipelines of the int8 layers at run time, created once per device (and per dp4a choice) and shared by every layer. */
export class Int8Kernels {
  readonly outliers: Int8Outliers;
  readonly quantizeX: Int8QuantizeX;
  readonly matmul: Int8MatMul;

  /** dp4a: use dot4I8Packed (default: where the device has it); false forces the fallback kernel. */
  static for(ctx: GpuContext, opts: { dp4a?: boolean } = {}): Int8Kernels {
    const dp4a = (opts.dp4a ?? true) && ctx.features.dot4I8Packed;
    return perDevice(ctx, dp4a ? 'int8-linear.dp4a' : 'int8-linear', (c) => new Int8Kernels(c, dp4a));
  }

  private constructor(ctx: GpuContext, dp4a: boolean) {
    this.outliers = new Int8Outliers(ctx);
    this.quantizeX = new Int8QuantizeX(ctx);
    this.matmul = new Int8MatMul(ctx, { dp4a });
  }
}

export interface Int8LinearOptions {
  /** |x| >= threshold marks an outlier column; 0 turns the decomposition off. Default 6. */
  threshold?: number;
  /** Largest bytes per storage binding for the int8 parts (default: the device's limit; tests pass less to split). */
  maxBindingBytes?: number;
  /** Use dot4I8Packed where the device has it (default true); false forces the fallback kernel. */
  dp4a?: boolean;
}

/**
 * The input stage of the int8 layers over one x (linear.ts InputStage): the outlier columns, then the per-token int8
 * quantization of the other columns, with the buffers they write (outlier mask and list, quantized x, token scales).
 * An outlier column is one where |x[t, c]| >= threshold for some token t of the step: x and the threshold alone decide
 * it, never the weight, and so does the quantization. Every int8 layer bound through one group to the same x and Step
 * uniform with the same k and threshold therefore gets the same stage (and buffers); one recording of it after x was
 * written serves all of them (linear.ts bindSharedInput), and a layer recorded alone records it again, which rewrites
 * the same values.
 */
class Int8InputStage implements InputStage {
  constructor(
    private readonly kernels: Int8Kernels,
    readonly group: BufferGroup,
    readonly k: number,
    readonly maxTokens: number,
    readonly threshold: number,
    /** The Step uniform the stage's kernels read. */
    readonly step: GPUBuffer,
    private readonly outliers: OutliersBinding,
    private readonly quantizeX: QuantizeXBinding,
    /** What the int8 product reads: x, its int8 rows and scales, and the outlier list. */
    readonly inputs: { x: GPUBuffer; xq: GPUBuffer; sx: GPUBuffer; outlierList: GPUBuffer },
  ) {}

  encode(pass: GPUComputePassEncoder, tokens: number): void {
    if (!(tokens >= 1 && tokens <= this.maxTokens)) throw new Error(`int8 input stage: ${tokens} tokens, bound for 1..${this.maxTokens}`);
    if (tokens > 1) this.kernels.outliers.encode(pass, this.outliers); // one token: quantizeX finds them itself
    this.kernels.quantizeX.encode(pass, this.quantizeX, tokens);
  }
}
const stagesByX = new WeakMap<GPUBuffer, Int8InputStage[]>();

interface Int8Binding extends LinearBinding {
  readonly kind: 'int8';
  readonly input: Int8InputStage;
  readonly matmul: Int8MatMulBinding;
  readonly maxTokens: number;
}

export class Int8Linear implements LinearLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    private readonly ctx: GpuContext,
    private readonly kernels: Int8Kernels,
    readonly name: string,
    /** i8x4 [out, in]. */
    readonly weight: GpuTensor,
    /** f32 [out]: absmax / 127 per output row. */
    readonly scales: GPUBuffer,
    /** f16x2 [out] or null. */
    readonly bias: GpuTensor | null,
    readonly threshold: number,
  ) {
    if (weight.format !== 'i8x4' || weight.shape.length !== 2) throw new Error(`int8 linear '${name}': weight must be i8x4 [out, in]`);
    [this.outFeatures, this.inFeatures] = weight.shape;
  }

  /** GPU bytes of the int8 weight and its scales (the linear-weight bytes the 0.53 × fp16 rule is about). */
  get weightBytes(): number {
    return this.weight.parts.reduce((n, p) => n + p.buffer.size, 0) + this.scales.size;
  }

  get bytes(): number {
    return this.weightBytes + (this.bias?.parts.reduce((n, p) => n + p.buffer.size, 0) ?? 0);
  }

  bind(x: GPUBuffer, y: GPUBuffer, step: GPUBuffer, maxTokens: number, group: BufferGroup): Int8Binding {
    const k = this.inFeatures;
    if (x.size < maxTokens * k * 4) throw new Error(`int8 linear '${this.name}': x holds fewer than ${maxTokens}×${k} floats`);
    if (y.size < maxTokens * this.outFeatures * 4) {
      throw new Error(`int8 linear '${this.name}': y holds fewer than ${maxTokens}×${this.outFeatures} floats`);
    }
    const input = this.inputStageFor(x, step, maxTokens, group);
    const matmul = this.kernels.matmul.bind(this.weight, this.scales, this.bias, input.inputs, y, step, group);
    return { kind: 'int8', input, matmul, maxTokens };
  }

  /** Outlier columns, per-token quantization of x, then the int8 product. */
  encode(pass: GPUComputePassEncoder, binding: LinearBinding, tokens: number): void {
    const b = this.check(binding, tokens);
    b.input.encode(pass, tokens);
    this.kernels.matmul.encode(pass, b.matmul, tokens);
  }

  /** The int8 product alone, reading what binding.input last wrote (see LinearLayer.encodeProduct). */
  encodeProduct(pass: GPUComputePassEncoder, binding: LinearBinding, tokens: number): void {
    this.kernels.matmul.encode(pass, this.check(binding, tokens).matmul, tokens);
  }

  private check(binding: LinearBinding, tokens: number): Int8Binding {
    const b = binding as Int8Binding;
    if (b.kind !== 'int8') throw new Error(`int8 linear '${this.name}': binding of kind '${b.kind}'`);
    if (!(tokens >= 1 && tokens <= b.maxTokens)) throw new Error(`int8 linear '${this.name}': ${tokens} tokens, bound for 1..${b.maxTokens}`);
    return b;
  }

  /** Releases the int8 weight, its scales and the bias from the group that owns them (if still alive). */
  destroy(): void {
    const release = (buffer: GPUBuffer) => this.ctx.ledger.ownerOf(buffer)?.release(buffer);
    for (const p of this.weight.parts) release(p.buffer);
    release(this.scales);
    for (const p of this.bias?.parts ?? []) release(p.buffer);
  }

  /** The input stage of x for this layer's k and threshold: the one already made through `group`, or a new one. */
  private inputStageFor(x: GPUBuffer, step: GPUBuffer, maxTokens: number, group: BufferGroup): Int8InputStage {
    const k = this.inFeatures;
    const list = stagesByX.get(x) ?? [];
    stagesByX.set(x, list);
    const found = list.find(
      (s) =>
        s.group === group && !group.isDestroyed && s.step === step && s.k === k && s.maxTokens >= maxTokens && s.threshold === this.threshold,
    );
    if (found) return found;
    const label = `${x.label || 'x'}.int8`;
    const outlierBuffers = createOutlierBuffers(group, k, label);
    const act = createQuantizedActivations(group, k, maxTokens, label);
    const stage = new Int8InputStage(
      this.kernels,
      group,
      k,
      maxTokens,
      this.threshold,
      step,
      this.kernels.outliers.bind(x, k, this.threshold, step, outlierBuffers, group, label),
      this.kernels.quantizeX.bind(x, k, this.threshold, outlierBuffers, act, step, group, label),
      { x, xq: act.xq, sx: act.sx, outlierList: outlierBuffers.list },
    );
    list.push(stage);
    return stage;
  }
}

/** A quantized linear weight as the loader hands it over (what load/quantize.ts makes of an fp16 weight). */
export interface Int8Weight {
  readonly kind: 'int8-weight';
  /** i8x4 [out, in], category 'weights'. */
  readonly weight: GpuTensor;
  /** f32 [out]: absmax / 127 per output row, category 'scales'. */
  readonly scales: GPUBuffer;
}

export function isInt8Weight(t: unknown): t is Int8Weight {
  return typeof t === 'object' && t !== null && (t as Int8Weight).kind === 'int8-weight';
}

/** The int8 layer over a quantized weight; its bias stays fp16 (f16x2 [out]). */
export function createInt8Linear(
  ctx: GpuContext,
  w: Int8Weight,
  bias: GpuTensor | null,
  opts: Pick<Int8LinearOptions, 'threshold' | 'dp4a'> = {},
): Int8Linear {
  const kernels = Int8Kernels.for(ctx, { dp4a: opts.dp4a });
  return new Int8Linear(ctx, kernels, w.weight.name, w.weight, w.scales, bias, opts.threshold ?? DEFAULT_OUTLIER_THRESHOLD);
}

/** What weights.ts's LinearFactory passes: the module name, the loaded weight (GpuTensor or Int8Weight), the bias. */
export interface LinearSpecLike {
  name: string;
  weight: unknown;
  bias: GpuTensor | null;
}

/**
 * The LinearFactory of the int8 path: an Int8Weight (what int8WeightTransform made of a decoder linear, or of
 * lm_head in scope 'decoder+lm_head') becomes an Int8Linear; anything else (an fp16 lm_head, tied embeddings, layers
 * kept in fp16) goes to `fp16`, e.g. fp16LinearFactory.
 */
export function int8LinearFactory(
  ctx: GpuContext,
  fp16: (spec: LinearSpecLike) => LinearLayer,
  opts: Pick<Int8LinearOptions, 'threshold' | 'dp4a'> = {},
): (spec: LinearSpecLike) => LinearLayer {
  return (spec) => (isInt8Weight(spec.weight) ? createInt8Linear(ctx, spec.weight, spec.bias, opts) : fp16(spec));
}
