// Shared plumbing of the kernel GPU tests (not shipped): deterministic data, fp16 tensors, buffers, one-pass runs.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { readBuffer } from '../gpu/node-gpu.ts';
import { packF16, roundToF16 } from '../gpu/half.ts';
import { allocateTensor, writeRows, type GpuTensor } from '../gpu/tensor.ts';
import { STEP_UNIFORM_BYTES, writeStep } from '../kernels/step.ts';

/** Deterministic pseudo-random values in [-scale, scale). */
export function rand(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

/** The values as the GPU sees them after fp16 packing. */
export function asF16(values: Float32Array): Float32Array {
  return values.map(roundToF16);
}

/** Deterministic fp16 values in [-scale, scale) (rand, rounded as the GPU holds them). */
export function randF16(n: number, seed: number, scale = 1): Float32Array {
  return asF16(rand(n, seed, scale));
}

/** An fp16 tensor [rows, k] (or 1-D [k] when rows is null) holding `values`, split at `maxBindingBytes`. */
export function f16Tensor(
  ctx: GpuContext,
  group: BufferGroup,
  name: string,
  values: Float32Array,
  shape: number[],
  maxBindingBytes = ctx.limits.maxStorageBufferBindingSize,
): GpuTensor {
  const t = allocateTensor(group, name, shape, 'f16x2', { maxBindingBytes });
  const k = shape.length === 1 ? shape[0] : shape[1];
  const rows = shape.length === 1 ? 1 : shape[0];
  const packed = new Uint32Array(rows * t.rowWords);
  for (let r = 0; r < rows; r++) packed.set(packF16(values.subarray(r * k, (r + 1) * k)), r * t.rowWords);
  writeRows(ctx.device.queue, t, 0, packed);
  return t;
}

const USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export function storage(ctx: GpuContext, group: BufferGroup, label: string, data: Float32Array | Uint32Array | number): GPUBuffer {
  const size = typeof data === 'number' ? data : data.byteLength;
  const b = group.createBuffer({ label, size, usage: USAGE(), category: 'activations' });
  if (typeof data !== 'number') ctx.device.queue.writeBuffer(b, 0, data);
  return b;
}

export function stepUniform(ctx: GpuContext, group: BufferGroup, tokens: number, pos = 0): GPUBuffer {
  const b = group.createBuffer({ label: 'step', size: STEP_UNIFORM_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
  writeStep(ctx.device.queue, b, tokens, pos);
  return b;
}

export function runPass(ctx: GpuContext, record: (pass: GPUComputePassEncoder) => void): void {
  const enc = ctx.device.createCommandEncoder({ label: 'test' });
  const pass = enc.beginComputePass();
  record(pass);
  pass.end();
  ctx.device.queue.submit([enc.finish()]);
}

export async function readF32(ctx: GpuContext, b: GPUBuffer): Promise<Float32Array> {
  return new Float32Array(await readBuffer(ctx, b));
}

/** Largest |got - want| / (1 + |want|) over all entries (and the index), for readable failures. */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>, n = want.length): { err: number; at: number } {
  let err = 0;
  let at = -1;
  for (let i = 0; i < n; i++) {
    const e = Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]));
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}
