// Moving cached int8 weights between the GPU and the Int8Store: after a cold load quantizes a weight, its i8x4 words
// and scales are read back in bounded slices and kept; on a warm load they are written straight into new buffers,
// with no fp16 copy and no quantize kernel. Host memory: one staging slice and one cache block at a time, counted in
// the load's host ledger (`host`) when one is given: the mapped slice and its copy, the store's block buffer, and each
// block read.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { HostLedger } from '../gpu/host-ledger.ts';
import type { Int8Weight } from '../model/int8-linear.ts';
import { allocateTensor, type GpuTensor } from '../gpu/tensor.ts';
import { int8Layout, type Int8Store } from './int8-cache-store.ts';

/** Largest read-back slice. */
const SLICE_BYTES = 8 * 1024 * 1024;

/** Reads `size` bytes of `src` back in slices through one staging buffer, handing each to `onSlice` in order. */
async function readBack(
  ctx: GpuContext,
  group: BufferGroup,
  src: GPUBuffer,
  size: number,
  onSlice: (b: Uint8Array) => Promise<void>,
  host?: HostLedger,
): Promise<void> {
  const staging = group.createBuffer({
    label: 'int8-store.readback',
    size: Math.max(4, Math.min(SLICE_BYTES, size)),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    category: 'staging',
  });
  try {
    for (let o = 0; o < size; o += SLICE_BYTES) {
      const n = Math.min(SLICE_BYTES, size - o);
      const enc = ctx.device.createCommandEncoder({ label: 'int8-store.readback' });
      enc.copyBufferToBuffer(src, o, staging, 0, n);
      ctx.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ, 0, n);
      const releaseMapped = host?.hold(n);
      const bytes = new Uint8Array(staging.getMappedRange(0, n)).slice();
      const releaseCopy = host?.hold(bytes.byteLength);
      staging.unmap();
      releaseMapped?.();
      try {
        await onSlice(bytes);
      } finally {
        releaseCopy?.();
      }
    }
  } finally {
    group.release(staging);
  }
}

/** Keeps a freshly quantized weight in the store (words of every row part in order, then the scales). */
export async function storeInt8Weight(ctx: GpuContext, group: BufferGroup, store: Int8Store, w: Int8Weight, host?: HostLedger): Promise<void> {
  const writer = await store.writer(w.weight.name, w.weight.shape);
  const release = host?.hold(writer.bufferBytes);
  try {
    const push = (b: Uint8Array) => writer.push(b);
    for (const p of w.weight.parts) await readBack(ctx, group, p.buffer, p.rows * w.weight.rowWords * 4, push, host);
    await readBack(ctx, group, w.scales, w.scales.size, push, host);
    await writer.finish();
  } finally {
    release?.();
  }
}

/** Writes bytes at byte offset `at` of the tensor's words, across its row parts. */
function writeWordBytes(queue: GPUQueue, t: GpuTensor, at: number, bytes: Uint8Array): void {
  let off = 0;
  for (const part of t.parts) {
    const start = part.rowStart * t.rowWords * 4;
    const end = start + part.rows * t.rowWords * 4;
    const pos = at + off;
    if (off >= bytes.length) break;
    if (pos >= end) continue;
    const n = Math.min(end - pos, bytes.length - off);
    queue.writeBuffer(part.buffer, pos - start, bytes.buffer, bytes.byteOffset + off, n);
    off += n;
  }
}

/**
 * The cached int8 weight of `name`, uploaded into new buffers of `group` (categories weights and scales, as
 * quantizeWeight makes them); null when there is no intact copy (nothing is left allocated then).
 */
export async function loadCachedInt8WeightsWeight(
  ctx: GpuContext,
  group: BufferGroup,
  store: Int8Store,
  name: string,
  shape: readonly number[],
  maxBindingBytes = ctx.limits.maxStorageBufferBindingSize,
  host?: HostLedger,
): Promise<Int8Weight | null> {
  if (!(await store.has(name, shape))) return null;
  const layout = int8Layout(shape);
  const weight = allocateTensor(group, name, shape, 'i8x4', { maxBindingBytes, category: 'weights' });
  const scales = group.createBuffer({
    label: `${name}.scales`,
    size: layout.rows * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    category: 'scales',
  });
  const q = ctx.device.queue;
  const ok = await store.read(name, shape, (bytes, at) => {
    // The block read is let go once written (queue.writeBuffer copies it): counted at its peak, then released.
    host?.hold(bytes.byteLength)();
    const w = Math.max(0, Math.min(bytes.length, layout.weightBytes - at));
    if (w > 0) writeWordBytes(q, weight, at, bytes.subarray(0, w));
    if (w < bytes.length) {
      const s = bytes.subarray(w);
      q.writeBuffer(scales, at + w - layout.weightBytes, s.buffer, s.byteOffset, s.length);
    }
  });
  if (!ok) {
    for (const p of weight.parts) group.release(p.buffer);
    group.release(scales);
    return null;
  }
  return { kind: 'int8-weight', weight, scales };
}
