// Load-time quantization (LLM.int8): each fp16 linear weight in scope becomes int8 rows + one absmax/127 scale per
// output row on the GPU (shaders/quantize_rows.wgsl) as soon as its bytes are in; model/int8-linear.ts is the layer
// that runs over the result.
import type { Int8Scope } from '../api.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { allocateTensor, type GpuTensor } from '../gpu/tensor.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import { QuantizeRows } from '../kernels/quantize-rows.ts';
import { createInt8Linear, joinInt8, type Int8Linear, type Int8LinearOptions, type Int8Weight } from '../model/int8-linear.ts';
import { isQuantizedLinear } from './plan.ts';
import { QuantizeScratch } from './quantize-scratch.ts';
import type { TensorRecord } from './safetensors.ts';
import type { TensorTransform } from './tensor-sink.ts';

/**
 * Quantizes one fp16 linear weight (f16x2 [out, in]) on the GPU into int8 rows + scales created through `group`.
 * Resolves once the GPU has finished, so the caller may release or overwrite the fp16 source right away.
 */
export async function quantizeWeight(
  ctx: GpuContext,
  group: BufferGroup,
  fp16: GpuTensor,
  opts: { maxBindingBytes?: number } = {},
): Promise<Int8Weight> {
  if (fp16.format !== 'f16x2' || fp16.shape.length !== 2) throw new Error(`quantizeWeight: '${fp16.name}' must be f16x2 [out, in]`);
  const quantizeRows = perDevice(ctx, 'quantize_rows', (c) => new QuantizeRows(c));
  const maxBindingBytes = opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize;
  const weight = allocateTensor(group, fp16.name, fp16.shape, 'i8x4', { maxBindingBytes, category: 'weights' });
  const scales = group.createBuffer({
    label: `${fp16.name}.scales`,
    size: fp16.shape[0] * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    category: 'scales',
  });
  const binding = quantizeRows.bind(fp16, weight, scales, group);
  try {
    const enc = ctx.device.createCommandEncoder({ label: `quantize_rows.${fp16.name}` });
    const pass = enc.beginComputePass({ label: `quantize_rows.${fp16.name}` });
    quantizeRows.encode(pass, binding);
    pass.end();
    ctx.device.queue.submit([enc.finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
  } finally {
    for (const u of binding.uniforms) group.release(u);
  }
  return { kind: 'int8-weight', weight, scales };
}

/** The loader's transform for `streamed-int8` (tensor-sink.ts TensorTransform), with its scratch hooks. */
export type Int8WeightTransform = ((
  tensor: GpuTensor,
  record: { name: string; shape: readonly number[] },
  group: BufferGroup,
) => Promise<GpuTensor | Int8Weight>) &
  Required<Pick<TensorTransform<GpuTensor | Int8Weight>, 'begin' | 'target' | 'end'>>;

/**
 * The loader's per-tensor transform for `streamed-int8`: each linear weight of `scope` (plan.ts isQuantizedLinear:
 * the decoder linears, and lm_head with 'decoder+lm_head') is streamed into one reusable fp16 scratch (`target`,
 * quantize-scratch.ts) and quantized from there as soon as its last byte is in, so the peak is the int8 weights +
 * scales + one fp16 linear, and nothing is created per tensor but its int8 weight and scales. Other tensors
 * (embeddings, norms, biases, and lm_head unless in scope) pass unchanged. Called on an fp16 tensor of its own (not
 * the scratch: outside a load), it quantizes that one and releases it.
 */
export function int8WeightTransform(ctx: GpuContext, opts: { maxBindingBytes?: number; scope?: Int8Scope } = {}): Int8WeightTransform {
  const scope = opts.scope ?? 'decoder';
  const maxBindingBytes = opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize;
  const scratch = new QuantizeScratch(ctx, () => perDevice(ctx, 'quantize_rows', (c) => new QuantizeRows(c)), maxBindingBytes);
  const inScope = (r: { name: string; shape: readonly number[] }) => isQuantizedLinear(r.name, r.shape, scope);
  const apply = async (tensor: GpuTensor, record: { name: string; shape: readonly number[] }, group: BufferGroup) => {
    if (scratch.holds(tensor)) {
      const { weight, scales } = await scratch.quantize(tensor);
      return { kind: 'int8-weight', weight, scales } satisfies Int8Weight;
    }
    if (!isQuantizedLinear(record.name, tensor.shape, scope)) return tensor;
    const q = await quantizeWeight(ctx, group, tensor, opts);
    for (const p of tensor.parts) group.release(p.buffer);
    return q;
  };
  return Object.assign(apply, {
    begin: (records: readonly TensorRecord[]) => scratch.begin(records.filter(inScope)),
    target: (record: TensorRecord, group: BufferGroup) => (inScope(record) ? scratch.view(group, record.name, record.shape) : null),
    end: () => scratch.end(),
  });
}

/**
 * quantizeWeight + an int8 layer over it (rows padded to whole vec4 words where k needs it, as buildWeights does): one
 * fp16 linear weight (+ bias) to an int8 layer. The fp16 source is not released.
 */
export async function quantizeLinear(
  ctx: GpuContext,
  group: BufferGroup,
  fp16: GpuTensor,
  bias: GpuTensor | null,
  opts: Int8LinearOptions = {},
): Promise<Int8Linear> {
  const maxBindingBytes = opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize;
  const w = await quantizeWeight(ctx, group, fp16, { maxBindingBytes });
  const rows = fp16.shape[0];
  // shared: the caller's bias stays; the int8 weight this made is released here if it was copied
  const joined = joinInt8(ctx, { name: fp16.name, weights: [w], biases: [bias], rows: [{ source: 0, row: 0, rows }], rowMultiple: 1, shared: true }, maxBindingBytes);
  if (joined.weight !== w) {
    for (const p of w.weight.parts) group.release(p.buffer);
    group.release(w.scales);
  }
  return createInt8Linear(ctx, joined.weight, joined.bias, opts);
}
