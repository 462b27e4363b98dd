// LLM.int8 linear layer (Dettmers et al. 2022): int8 weights with one absmax/127 scale per output row, quantized on
// the GPU while the model loads; at run time, entirely on the GPU, the input columns where any |x| >= threshold are
// multiplied in float against the dequantized int8 weight columns and the others are quantized per token and
// multiplied in int8. Threshold 0 turns the decomposition off. One token: a single dispatch (matvec-int8.ts) finds the
// outlier columns, quantizes x and takes both products reading the weight once, with the norm and epilogue fused in.
// Several tokens: the outlier scan and quantization of x (Int8InputStage, shared by the layers that read the same x:
// they depend on x and the threshold only), the int8 matmul, and the epilogue's kernel (linear-io.ts).
// Semantics: ../shared/models/README.md (llama-outliers-fp16); CPU reference: testing/int8-reference.ts.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { Int8MatMul, type Int8MatMulBinding } from '../kernels/int8-matmul.ts';
import { createOutlierBuffers, Int8Outliers, type OutliersBinding } from '../kernels/int8-outliers.ts';
import { createQuantizedActivations, Int8QuantizeX, type QuantizeXBinding } from '../kernels/int8-quantize-x.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import { MatVecInt8 } from '../kernels/matvec-int8.ts';
import type { MatVecBinding, MatVecOptions } from '../kernels/matvec-io.ts';
import { concatBiases, concatRows, concatRowScales, readsAsIs, releaseTensor, type RowSegment } from './concat-rows.ts';
import { bindPrefillIo, encodePrefillEpilogue, encodePrefillNorm, type PrefillIo } from './linear-io.ts';
import type { LinearBinding, LinearIo, LinearLayer } from './linear.ts';

/** The threshold of LLM.int8 (bitsandbytes' default) and of the reference emulation. */
export const DEFAULT_OUTLIER_THRESHOLD = 6;

/** The pipelines of the int8 layers at run time, created once per device (and per dp4a choice) and shared by every layer. */
export class Int8Kernels {
  readonly outliers: Int8Outliers;
  readonly quantizeX: Int8QuantizeX;
  readonly matmul: Int8MatMul;
  readonly matvec: MatVecInt8;

  /**
   * dp4a: use dot4I8Packed (default: where the device has it); false forces the fallback kernel. matvec: the one-token
   * product's variant (default: the device's, matvec-io.ts matvecVariant; benches tune it).
   */
  static for(ctx: GpuContext, opts: { dp4a?: boolean; matvec?: MatVecOptions } = {}): Int8Kernels {
    const dp4a = (opts.dp4a ?? true) && ctx.features.dot4I8Packed;
    const key = `${dp4a ? 'int8-linear.dp4a' : 'int8-linear'}${opts.matvec ? JSON.stringify(opts.matvec) : ''}`;
    return perDevice(ctx, key, (c) => new Int8Kernels(c, dp4a, opts.matvec));
  }

  private constructor(ctx: GpuContext, dp4a: boolean, matvec?: MatVecOptions) {
    this.outliers = new Int8Outliers(ctx);
    this.quantizeX = new Int8QuantizeX(ctx);
    this.matmul = new Int8MatMul(ctx, { dp4a });
    this.matvec = new MatVecInt8(ctx, { ...matvec, dp4a });
  }
}

export interface Int8LinearOptions {
  /** |x| >= threshold marks an outlier column; 0 turns the decomposition off. Default 6. */
  threshold?: number;
  /** Largest bytes per storage binding for the int8 parts (default: the device's limit; tests pass less to split). */
  maxBindingBytes?: number;
  /** Use dot4I8Packed where the device has it (default true); false forces the fallback kernel. */
  dp4a?: boolean;
  /** The one-token product's variant (default: the device's). */
  matvec?: MatVecOptions;
}

/**
 * The input stage of the int8 layers over one x for several tokens: the outlier columns (|x| >= threshold for some token
 * of the forward), then the per-token int8 quantization of the other columns, with the buffers they write. x and the
 * threshold alone decide them, never the weight, so every int8 layer bound through one group to the same x and Step
 * uniform with the same k and threshold gets the same stage and buffers (the prompt chunk's normed x serves q/k/v and
 * gate/up of every layer one after another); each layer records it after x was written, which rewrites the same values.
 */
class Int8InputStage {
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

  encode(pass: ComputePass, tokens: number): void {
    if (!(tokens >= 1 && tokens <= this.maxTokens)) throw new Error(`int8 input stage: ${tokens} tokens, bound for 1..${this.maxTokens}`);
    this.kernels.outliers.encode(pass, this.outliers);
    this.kernels.quantizeX.encode(pass, this.quantizeX, tokens);
  }
}
const stagesByX = new WeakMap<GPUBuffer, Int8InputStage[]>();

export interface Int8Binding extends LinearBinding {
  readonly kind: 'int8';
  readonly matvec: MatVecBinding;
  /** null when bound for one token only. */
  readonly prefill: { io: PrefillIo; input: Int8InputStage; matmul: Int8MatMulBinding } | null;
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

  bind(io: LinearIo, maxTokens: number, group: BufferGroup): Int8Binding {
    const k = this.inFeatures;
    if (io.x.size < maxTokens * k * 4) throw new Error(`int8 linear '${this.name}': x holds fewer than ${maxTokens}×${k} floats`);
    const matvec = this.kernels.matvec.bind(this.weight, this.scales, this.threshold, { x: io.x, norm: io.norm, bias: this.bias, epilogue: io.epilogue, step: io.step }, group);
    if (maxTokens === 1) return { kind: 'int8', matvec, prefill: null, maxTokens };
    const pio = bindPrefillIo(this.ctx, io, this, group);
    if (pio.output.size < maxTokens * this.outFeatures * 4) {
      throw new Error(`int8 linear '${this.name}': y holds fewer than ${maxTokens}×${this.outFeatures} floats`);
    }
    const input = this.inputStageFor(pio.input, io.step, maxTokens, group);
    const matmul = this.kernels.matmul.bind(this.weight, this.scales, this.bias, input.inputs, pio.output, io.step, group);
    return { kind: 'int8', matvec, prefill: { io: pio, input, matmul }, maxTokens };
  }

  /** One token: the fused product. Several: norm, outlier columns and quantization of x, the int8 product, epilogue. */
  encode(pass: ComputePass, binding: LinearBinding, tokens: number): void {
    const b = binding as Int8Binding;
    if (b.kind !== 'int8') throw new Error(`int8 linear '${this.name}': binding of kind '${b.kind}'`);
    if (!(tokens >= 1 && tokens <= b.maxTokens)) throw new Error(`int8 linear '${this.name}': ${tokens} tokens, bound for 1..${b.maxTokens}`);
    if (tokens === 1) return this.kernels.matvec.encode(pass, b.matvec);
    const p = b.prefill!;
    encodePrefillNorm(this.ctx, pass, p.io, tokens);
    p.input.encode(pass, tokens);
    this.kernels.matmul.encode(pass, p.matmul, tokens);
    encodePrefillEpilogue(this.ctx, pass, p.io, tokens);
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
      this.kernels.quantizeX.bind(x, k, outlierBuffers, act, step, group, label),
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
  opts: Pick<Int8LinearOptions, 'threshold' | 'dp4a' | 'matvec'> = {},
): Int8Linear {
  const kernels = Int8Kernels.for(ctx, { dp4a: opts.dp4a, matvec: opts.matvec });
  return new Int8Linear(ctx, kernels, w.weight.name, w.weight, w.scales, bias, opts.threshold ?? DEFAULT_OUTLIER_THRESHOLD);
}

/** What weights.ts's LinearFactory passes (weights.ts LinearSpec): the loaded weights whose rows make the layer. */
export interface LinearSpecLike {
  name: string;
  weights: readonly unknown[];
  biases: readonly (GpuTensor | null)[];
  rows: readonly RowSegment[];
  rowMultiple: number;
  shared: boolean;
}

/**
 * The int8 weight, scales and bias of a layer from its quantized sources: the one loaded weight where it can be read
 * as it is, otherwise the concatenation (or padded copy) made on the GPU, after which the sources are released.
 */
export function joinInt8(ctx: GpuContext, spec: LinearSpecLike, maxBindingBytes: number): { weight: Int8Weight; bias: GpuTensor | null } {
  const ws = spec.weights as Int8Weight[];
  const w0 = ws[0].weight;
  const single = ws.length === 1 && spec.rows.length === 1 && spec.rows[0].row === 0 && spec.rows[0].rows === w0.shape[0];
  if (single && readsAsIs(w0, spec.rowMultiple)) return { weight: ws[0], bias: spec.biases[0] };
  const group = ctx.ledger.ownerOf(w0.parts[0].buffer);
  if (!group) throw new Error(`int8 linear '${spec.name}': '${w0.name}' belongs to no buffer group`);
  const enc = ctx.device.createCommandEncoder({ label: `join.${spec.name}` });
  const name = `${spec.name}.weight`;
  const weight = concatRows(enc, group, name, ws.map((w) => w.weight), spec.rows, { maxBindingBytes, rowMultiple: spec.rowMultiple });
  const scales = concatRowScales(enc, group, name, ws.map((w) => w.scales), spec.rows);
  const bias = concatBiases(enc, group, spec.name, spec.biases, spec.rows);
  ctx.device.queue.submit([enc.finish()]);
  if (!spec.shared) {
    for (const w of ws) {
      releaseTensor(ctx, w.weight);
      ctx.ledger.ownerOf(w.scales)?.release(w.scales);
    }
    for (const b of spec.biases) if (b !== bias) releaseTensor(ctx, b);
  }
  return { weight: { kind: 'int8-weight', weight, scales }, bias };
}

/**
 * The LinearFactory of the int8 path: Int8Weights (what int8WeightTransform made of decoder linears, or of lm_head in
 * scope 'decoder+lm_head') become an Int8Linear; anything else (an fp16 lm_head, tied embeddings, layers kept in fp16)
 * goes to `fp16`, e.g. fp16LinearFactory.
 */
export function int8LinearFactory(
  ctx: GpuContext,
  fp16: (spec: LinearSpecLike) => LinearLayer,
  opts: Pick<Int8LinearOptions, 'threshold' | 'dp4a' | 'maxBindingBytes' | 'matvec'> = {},
): (spec: LinearSpecLike) => LinearLayer {
  return (spec) => {
    if (!spec.weights.every(isInt8Weight)) {
      if (spec.weights.some(isInt8Weight)) throw new Error(`linear '${spec.name}': int8 and fp16 weights cannot be joined`);
      return fp16(spec);
    }
    const { weight, bias } = joinInt8(ctx, spec, opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize);
    return createInt8Linear(ctx, weight, bias, opts);
  };
}
