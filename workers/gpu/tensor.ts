// A weight on the GPU. Large tensors are split along dimension 0 (rows) into parts that each fit one storage binding
import type { BufferGroup } from './ledger.ts';
// (maxStorageBufferBindingSize: 128 MiB on lavapipe and many phones); kernels loop over the parts.

export type WeightFormat =
  /** fp16, two values per u32, element 2i in the low half; each row padded to a whole u32. */
  | 'f16x2'
  /** int8, four values per u32 (LLM.int8 linear layers), each row padded to a whole u32; scales in a side buffer. */
  | 'i8x4';

export interface TensorPart {
  buffer: GPUBuffer;
  /** First row of dimension 0 held by this part. */
  rowStart: number;
  rows: number;
}

export interface GpuTensor {
  name: string;
  /** Logical shape as in the checkpoint, e.g. [out_features, in_features]. 1-D tensors have one row. */
  shape: readonly number[];
  format: WeightFormat;
  /** u32 words per row (of the last dimension, padded). */
  rowWords: number;
  parts: TensorPart[];
}

/** Elements per row: the product of every dimension after the first (a 1-D tensor is one row). */
export function rowLength(shape: readonly number[]): number {
  return shape.length <= 1 ? (shape[0] ?? 1) : shape.slice(1).reduce((a, b) => a * b, 1);
}

export function rowCount(shape: readonly number[]): number {
  return shape.length <= 1 ? 1 : shape[0];
}

export function wordsPerRow(format: WeightFormat, shape: readonly number[]): number {
  const n = rowLength(shape);
  return format === 'f16x2' ? Math.ceil(n / 2) : Math.ceil(n / 4);
}

/**
 * How many rows go in each part so that a part fits in `maxBindingBytes` (and its size stays a multiple of 4).
 * Throws when a single row does not fit, naming the tensor.
 */
export function rowsPerPart(name: string, rowBytes: number, totalRows: number, maxBindingBytes: number): number {
  const rows = Math.floor(maxBindingBytes / rowBytes);
  if (rows < 1) {
    throw new Error(`tensor '${name}': one row is ${rowBytes} bytes, more than a storage binding allows (${maxBindingBytes})`);
  }
  return Math.min(rows, totalRows);
}

export interface AllocateOptions {
  /** Bytes one storage binding may hold (the device's maxStorageBufferBindingSize, or less to force splits in tests). */
  maxBindingBytes: number;
  category?: 'weights' | 'scales' | 'outliers';
}

/**
 * Creates the GPU buffers of a tensor through `group` (so the ledger records them), split by rows where needed.
 * The bytes are written later by the loader, part by part.
 */
export function allocateTensor(
  group: BufferGroup,
  name: string,
  shape: readonly number[],
  format: WeightFormat,
  opts: AllocateOptions,
): GpuTensor {
  const rowWords = wordsPerRow(format, shape);
  const totalRows = rowCount(shape);
  const perPart = rowsPerPart(name, rowWords * 4, totalRows, opts.maxBindingBytes);
  const parts: TensorPart[] = [];
  for (let rowStart = 0; rowStart < totalRows; rowStart += perPart) {
    const rows = Math.min(perPart, totalRows - rowStart);
    const buffer = group.createBuffer({
      label: parts.length === 0 && rowStart + rows === totalRows ? name : `${name}[rows ${rowStart}..${rowStart + rows})`,
      size: rows * rowWords * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      category: opts.category ?? 'weights',
    });
    parts.push({ buffer, rowStart, rows });
  }
  return { name, shape, format, rowWords, parts };
}

/** Writes whole packed rows [rowStart, rowStart + rows) from `words` (rowWords u32 per row) into the tensor's parts. */
export function writeRows(queue: GPUQueue, t: GpuTensor, rowStart: number, words: Uint32Array): void {
  const rows = words.length / t.rowWords;
  if (!Number.isInteger(rows)) throw new Error(`tensor '${t.name}': ${words.length} words is not a whole number of rows`);
  for (const part of t.parts) {
    const lo = Math.max(rowStart, part.rowStart);
    const hi = Math.min(rowStart + rows, part.rowStart + part.rows);
    if (lo >= hi) continue;
    const src = words.subarray((lo - rowStart) * t.rowWords, (hi - rowStart) * t.rowWords);
    queue.writeBuffer(part.buffer, (lo - part.rowStart) * t.rowWords * 4, src.buffer, src.byteOffset, src.byteLength);
  }
}
