// The streamed strategy's upload path: checkpoint bytes go to the GPU as they are (queue.writeBuffer into a small
// staging ring) and are converted to f16x2 there (kernels/convert-to-f16.ts), so the JavaScript thread only moves
// bytes and the network never waits for a conversion. fp16 checkpoints with even rows need no conversion at all:
// their bytes are the tensor's words, written straight into its parts.
//
// Queue writes and submits run in order on the queue timeline, so a staging slot or a Params slot can be rewritten as
// soon as the dispatch that read it is submitted. What must be bounded is the host memory Dawn (or the browser) holds
// for writes not yet executed: every byte written is counted by the load's QueueBackpressure
// (queue-backpressure.ts), which the strategy throttles between chunks.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { ConvertToF16, convertParams, CONVERT_PARAMS_BYTES } from '../kernels/convert-to-f16.ts';
import type { QueueBackpressure } from './queue-backpressure.ts';
import type { TensorDtype } from '../gpu/dtypes.ts';
import type { TensorRecord } from './safetensors.ts';
import { rowCount, rowLength, wordsPerRow, type GpuTensor } from '../gpu/tensor.ts';

/** Bytes before a slot's body where a carried partial element is written (so it sits right before the new bytes). */
const HEAD = 8;
const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment
const PARAM_SLOTS = 64;

export interface UploaderOptions {
  /** Largest body one staging slot takes (the stream's chunk size). */
  slotBytes: number;
  /** Staging slots (default 3). */
  slots?: number;
}

export class GpuUploader {
  readonly slotBytes: number;
  private readonly slotStride: number;
  private readonly slots: number;
  /** Created with the first staged bytes (a load that converts on the CPU needs none). */
  private staging: GPUBuffer | null = null;
  private params: GPUBuffer | null = null;
  private readonly paramWords = new Uint32Array(CONVERT_PARAMS_BYTES / 4);
  private readonly tail = new Uint8Array(4);
  private readonly head = new Uint8Array(HEAD);
  private slot = 0;
  private paramSlot = 0;
  private kernelInstance: ConvertToF16 | null = null;

  constructor(
    private readonly ctx: GpuContext,
    private readonly group: BufferGroup,
    private readonly backpressure: QueueBackpressure,
    opts: UploaderOptions,
  ) {
    this.slotBytes = Math.ceil(opts.slotBytes / 4) * 4;
    this.slotStride = HEAD + this.slotBytes + 8;
    this.slots = opts.slots ?? 3;
  }

  private get kernel(): ConvertToF16 {
    return (this.kernelInstance ??= new ConvertToF16(this.ctx));
  }

  private buffers(): { staging: GPUBuffer; params: GPUBuffer } {
    this.staging ??= this.group.createBuffer({
      label: 'load.staging',
      size: this.slotStride * this.slots,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      category: 'staging',
    });
    this.params ??= this.group.createBuffer({
      label: 'load.convertParams',
      size: PARAM_SLOT * PARAM_SLOTS,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      category: 'staging',
    });
    return { staging: this.staging, params: this.params };
  }

  get queue(): GPUQueue {
    return this.ctx.device.queue;
  }

  /**
   * Writes `carry` (a few bytes) and then `body` (at most slotBytes) contiguously into the next staging slot and
   * returns the staging byte where the carry begins.
   */
  stage(carry: Uint8Array, body: Uint8Array): number {
    if (body.length > this.slotBytes) throw new Error(`staging: ${body.length} bytes exceed a slot`);
    const { staging } = this.buffers();
    const base = this.slot * this.slotStride;
    this.slot = (this.slot + 1) % this.slots;
    if (carry.length > 0) {
      this.head.fill(0);
      this.head.set(carry, HEAD - carry.length);
      this.queue.writeBuffer(staging, base, this.head.buffer, 0, HEAD);
    }
    writeUnaligned(this.queue, staging, base + HEAD, body, this.tail);
    this.backpressure.written(body.length);
    return base + HEAD - carry.length;
  }

  /** Converts tensor words [w0, w1), whose first element e0 begins at staging byte `srcByte`, into `t`'s parts. */
  convert(dtype: TensorDtype, t: GpuTensor, rowLen: number, srcByte: number, e0: number, w0: number, w1: number): void {
    const { staging, params } = this.buffers();
    const enc = this.ctx.device.createCommandEncoder({ label: 'load.convert' });
    const pass = enc.beginComputePass({ label: 'load.convert' });
    for (const part of t.parts) {
      const pStart = part.rowStart * t.rowWords;
      const pEnd = pStart + part.rows * t.rowWords;
      const lo = Math.max(w0, pStart);
      const hi = Math.min(w1, pEnd);
      if (lo >= hi) continue;
      const offset = this.paramSlot * PARAM_SLOT;
      this.paramSlot = (this.paramSlot + 1) % PARAM_SLOTS;
      convertParams({ srcByte, e0, w0: lo, nWords: hi - lo, rowLen, rowWords: t.rowWords, dstBase: pStart }, this.paramWords);
      this.queue.writeBuffer(params, offset, this.paramWords);
      this.kernel.encode(pass, dtype, this.kernel.bind(staging, part.buffer, params, offset), hi - lo);
    }
    pass.end();
    this.queue.submit([enc.finish()]);
  }

  /** Writes bytes that are already f16x2 words at tensor byte `at` (a multiple of 4), split across parts. */
  writeDirect(t: GpuTensor, at: number, bytes: Uint8Array): void {
    let pos = at;
    let off = 0;
    for (const part of t.parts) {
      if (off >= bytes.length) break;
      const pStart = part.rowStart * t.rowWords * 4;
      const pEnd = pStart + part.rows * t.rowWords * 4;
      if (pos >= pEnd) continue;
      const n = Math.min(pEnd - pos, bytes.length - off);
      writeUnaligned(this.queue, part.buffer, pos - pStart, bytes.subarray(off, off + n), this.tail);
      pos += n;
      off += n;
    }
    if (off < bytes.length) throw new Error(`tensor '${t.name}': ${bytes.length - off} bytes past its end`);
    this.backpressure.written(bytes.length);
  }

  /** Releases the staging buffers: call once the queue has done every write and conversion (backpressure.drain()). */
  release(): void {
    if (this.staging) this.group.release(this.staging);
    if (this.params) this.group.release(this.params);
    this.staging = this.params = null;
  }
}

/**
 * Largest single queue.writeBuffer. Dawn stages writes in 4 MiB ring buffers and gives a write that fills or exceeds
 * one a fresh allocation; measured on lavapipe (1.1B bf16, GPU conversion), 4 MiB writes cost 3.9 s of JS time and
 * 96 MiB of host growth, 1 MiB writes 2.1 s and 64 MiB.
 */
export const MAX_WRITE_BYTES = 1 << 20;

/** queue.writeBuffer in pieces of at most MAX_WRITE_BYTES (size and offsets multiples of 4). */
export function writeInPieces(queue: GPUQueue, dst: GPUBuffer, at: number, src: ArrayBufferLike, srcOffset: number, size: number): void {
  for (let o = 0; o < size; o += MAX_WRITE_BYTES) {
    queue.writeBuffer(dst, at + o, src, srcOffset + o, Math.min(MAX_WRITE_BYTES, size - o));
  }
}

/**
 * queue.writeBuffer of any number of bytes at a 4-aligned destination: the whole words straight from `bytes`, the
 * last 1–3 bytes through `tail` (padded with zeros), since writes must be a multiple of 4 bytes.
 */
function writeUnaligned(queue: GPUQueue, dst: GPUBuffer, at: number, bytes: Uint8Array, tail: Uint8Array): void {
  const whole = bytes.length & ~3;
  if (whole > 0) writeInPieces(queue, dst, at, bytes.buffer, bytes.byteOffset, whole);
  const rest = bytes.length - whole;
  if (rest > 0) {
    tail.fill(0);
    tail.set(bytes.subarray(whole));
    queue.writeBuffer(dst, at + whole, tail.buffer, 0, 4);
  }
}

/**
 * One tensor's bytes, pushed in arbitrary pieces, through the uploader. Each push converts the whole words it
 * completes; the bytes of an element split by the piece, and of a low half waiting for its pair, are carried (at
 * most 2 elements − 1 byte).
 */
export class GpuTensorWriter {
  private readonly eb: number;
  private readonly rowLen: number;
  private readonly rowWords: number;
  private readonly totalElements: number;
  /** fp16 with even rows: the bytes are the words. */
  private readonly direct: boolean;
  private elements = 0;
  private readonly carry = new Uint8Array(8);
  private carryLen = 0;
  private readonly joined = new Uint8Array(8);

  constructor(
    private readonly record: TensorRecord,
    private readonly up: GpuUploader,
  ) {
    this.eb = record.dtype === 'F32' ? 4 : 2;
    const shape = record.shape.length === 0 ? [1] : record.shape;
    this.rowLen = rowLength(shape);
    this.rowWords = wordsPerRow('f16x2', shape);
    this.totalElements = rowCount(shape) * this.rowLen;
    this.direct = record.dtype === 'F16' && this.rowLen % 2 === 0;
  }

  private wordOf(e: number): number {
    const row = Math.floor(e / this.rowLen);
    return row * this.rowWords + Math.ceil((e - row * this.rowLen) / 2);
  }

  push(t: GpuTensor, bytes: Uint8Array): void {
    let rest = bytes;
    while (rest.length > 0) {
      const piece = rest.subarray(0, Math.min(rest.length, this.up.slotBytes));
      rest = rest.subarray(piece.length);
      this.pushPiece(t, piece);
    }
  }

  private pushPiece(t: GpuTensor, piece: Uint8Array): void {
    const total = this.carryLen + piece.length;
    const avail = Math.floor(total / this.eb);
    if (this.elements + avail > this.totalElements) throw new Error(`tensor '${this.record.name}': more bytes than its shape holds`);
    let k = avail;
    if (((this.elements + k) % this.rowLen) % 2 === 1) k--; // end on a whole word
    if (k > 0) {
      const carry = this.carry.subarray(0, this.carryLen);
      const used = k * this.eb - this.carryLen; // bytes of `piece` this step converts
      if (this.direct) {
        const at = this.elements * 2;
        if (this.carryLen > 0) {
          // the carried bytes complete a word with the first bytes of the piece
          this.joined.set(carry);
          this.joined.set(piece.subarray(0, 4 - this.carryLen), this.carryLen);
          this.up.writeDirect(t, at, this.joined.subarray(0, 4));
          this.up.writeDirect(t, at + 4, piece.subarray(4 - this.carryLen, used));
        } else {
          this.up.writeDirect(t, at, piece.subarray(0, used));
        }
      } else {
        const srcByte = this.up.stage(carry, piece.subarray(0, used));
        this.up.convert(this.record.dtype, t, this.rowLen, srcByte, this.elements, this.wordOf(this.elements), this.wordOf(this.elements + k));
      }
      this.elements += k;
      // What is left (< 2 elements) comes only from the piece, since k ≥ 1 consumed the carry.
      const left = piece.length - used;
      this.carry.set(piece.subarray(used));
      this.carryLen = left;
    } else {
      this.carry.set(piece, this.carryLen);
      this.carryLen = total;
    }
  }

  finish(): void {
    if (this.carryLen > 0 || this.elements !== this.totalElements) {
      throw new Error(
        `tensor '${this.record.name}': ${this.elements + Math.floor(this.carryLen / this.eb)} of ${this.totalElements} elements arrived` +
          (this.carryLen % this.eb ? ` (+${this.carryLen % this.eb} stray bytes)` : ''),
      );
    }
  }
}
