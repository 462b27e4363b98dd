// Where a tensor's bytes go during a load: its fp16 GPU buffers are created when its first byte arrives (so the
// ledger grows with the load, not ahead of it), chunks are converted to f16x2 words and written at their word offset
// across the tensor's row-split parts, and when the last byte is in, an optional transform (int8 quantization) may
// replace the tensor. Converting here (convert.ts), the converter's working buffers are counted in the load's host
// ledger until the words are written; converting on the GPU, the JS side holds only the chunk it was given.
import type { BufferGroup } from '../gpu/ledger.ts';
import { F16x2Converter } from './convert.ts';
import { GpuTensorWriter, writeInPieces, type GpuUploader } from './gpu-upload.ts';
import type { LoadMeter } from './load-meter.ts';
import type { QueueBackpressure } from './queue-backpressure.ts';
import type { TensorRecord } from './safetensors.ts';
import { allocateTensor, type GpuTensor } from '../gpu/tensor.ts';

/**
 * Replaces a fully written fp16 tensor (e.g. quantizes it); may release its parts through `group`. A transform may
 * also own where tensors land (int8WeightTransform's scratch): the loader tells it which records are coming (`begin`),
 * asks it for each record's fp16 destination (`target`: a region it reuses, consumed when the transform is called on
 * it) and tells it when the load has ended, however it ended (`end`: nothing it made is left in the ledger).
 */
export interface TensorTransform<T> {
  (tensor: GpuTensor, record: TensorRecord, group: BufferGroup): Promise<T>;
  begin?(records: readonly TensorRecord[]): void;
  target?(record: TensorRecord, group: BufferGroup): GpuTensor | null;
  end?(): void | Promise<void>;
}

export interface SinkContext<T> {
  queue: GPUQueue;
  group: BufferGroup;
  maxBindingBytes: number;
  meter: LoadMeter;
  /** Counts the bytes written to the queue (the strategy throttles on it). */
  backpressure: QueueBackpressure;
  /** Streamed loads with `convertOnGpu`: raw bytes go to the GPU through its staging ring for conversion. */
  uploader?: GpuUploader;
  /** Convert on the GPU (convert_to_f16) rather than here (convert.ts); needs `uploader`. */
  convertOnGpu?: boolean;
  transform?: TensorTransform<T>;
  /** Receives the finished tensor (or what the transform made of it). */
  done: (name: string, t: GpuTensor | T) => void;
}

/** Writes words at word offset `wordOffset` of a tensor, splitting at part boundaries. */
export function writeWords(queue: GPUQueue, t: GpuTensor, wordOffset: number, words: Uint32Array): void {
  let w = wordOffset;
  let i = 0;
  for (const part of t.parts) {
    if (i >= words.length) break;
    const partStart = part.rowStart * t.rowWords;
    const partEnd = partStart + part.rows * t.rowWords;
    if (w >= partEnd) continue;
    const n = Math.min(partEnd - w, words.length - i);
    const src = words.subarray(i, i + n);
    writeInPieces(queue, part.buffer, (w - partStart) * 4, src.buffer, src.byteOffset, src.byteLength);
    w += n;
    i += n;
  }
  if (i < words.length) throw new Error(`tensor '${t.name}': ${words.length - i} words past its end`);
}

export class TensorSink<T> {
  /** Created with the first byte and dropped after the last, so a file's waiting sinks hold no conversion buffers. */
  private converter: F16x2Converter | GpuTensorWriter | null = null;
  private tensor: GpuTensor | null = null;
  /** The tensor is a region the transform lent (target), not buffers of its own. */
  private targeted = false;
  bytesIn = 0;

  constructor(
    readonly record: TensorRecord,
    private readonly ctx: SinkContext<T>,
  ) {}

  private start(): { tensor: GpuTensor; converter: F16x2Converter | GpuTensorWriter } {
    if (!this.tensor) this.tensor = this.allocate();
    if (!this.converter) {
      const r = this.record;
      this.converter = this.ctx.uploader && this.ctx.convertOnGpu ? new GpuTensorWriter(r, this.ctx.uploader) : new F16x2Converter(r.name, r.dtype, r.shape);
    }
    return { tensor: this.tensor, converter: this.converter };
  }

  get bytesTotal(): number {
    return this.record.end - this.record.start;
  }

  /** Converts and uploads the next bytes of this tensor (in order). */
  push(bytes: Uint8Array): void {
    const { meter, queue } = this.ctx;
    const { tensor, converter } = this.start();
    const t0 = meter.now();
    if (converter instanceof GpuTensorWriter) {
      converter.push(tensor, bytes); // staging + dispatch recording; the conversion itself runs on the GPU
      meter.timeSince('convert', t0);
      this.bytesIn += bytes.length;
      return;
    }
    const { wordOffset, words } = converter.push(bytes);
    const release = meter.hostBuffers.hold(converter.workingBytes);
    const t1 = meter.timeSince('convert', t0);
    try {
      writeWords(queue, tensor, wordOffset, words);
    } finally {
      release();
    }
    this.ctx.backpressure.written(words.byteLength);
    meter.timeSince('upload', t1);
    this.bytesIn += bytes.length;
  }

  /** After the last byte: checks the count, writes the final word, runs the transform. */
  async finish(): Promise<void> {
    const { meter, queue, transform } = this.ctx;
    const { tensor, converter } = this.start(); // start() also covers a tensor with no elements
    this.converter = null;
    this.tensor = null;
    if (converter instanceof GpuTensorWriter) converter.finish();
    else {
      const last = converter.finish();
      if (last.words.length) writeWords(queue, tensor, last.wordOffset, last.words);
    }
    let result: GpuTensor | T = tensor;
    if (transform) {
      const t0 = meter.now();
      result = await transform(tensor, this.record, this.ctx.group);
      if (result !== tensor) meter.timeSince('quantize', t0); // only the tensors it replaced (quantized)
      else if (this.targeted) throw new Error(`tensor '${this.record.name}': the transform kept the region it lent (target) as the tensor`);
      // A lent region's transform submits its work over the region without waiting (the scratch's quantize), and the
      // next tensor's writes queue behind it: counted as the region's bytes, so that the next throttle waits for it
      // rather than let writes pile up behind it (on lavapipe, Dawn's upload buffers for up to 16 MiB of writes).
      if (this.targeted) this.ctx.backpressure.submitted(tensor.parts.reduce((a, p) => a + p.rows * tensor.rowWords * 4, 0));
    }
    this.ctx.done(this.record.name, result);
  }

  private allocate(): GpuTensor {
    const lent = this.ctx.transform?.target?.(this.record, this.ctx.group);
    this.targeted = !!lent;
    if (lent) return lent;
    const shape = this.record.shape.length === 0 ? [1] : this.record.shape;
    return allocateTensor(this.ctx.group, this.record.name, shape, 'f16x2', { maxBindingBytes: this.ctx.maxBindingBytes });
  }
}
