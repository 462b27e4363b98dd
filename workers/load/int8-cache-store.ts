// Cached int8 weights: for each quantized linear weight, its i8x4 words [rows × rowWords u32] followed by its f32 row
// scales [rows], stored as one cache entry, so a warm `streamed-int8` load reads about half the fp16 bytes and runs no
// quantize kernel. Keyed by the source file's URL + validator, the tensor name and INT8_FORMAT.
//
// What invalidates a cached tensor: a new validator of the source file (ETag / size / Last-Modified: new weights), a
// shape that differs, or a change of INT8_FORMAT. Bump INT8_FORMAT whenever the bytes quantize_rows produces would
// change: its rounding, the absmax/127 scale formula, the i8x4 packing or row padding (tensor.ts), or the scale dtype.
// Not the outlier threshold: LLM.int8's threshold splits activations at run time (int8-linear.ts) and the weight
// quantization does not depend on it, so one cached copy serves every threshold.
import { wordsPerRow, rowCount } from '../gpu/tensor.ts';
import type { CacheEntry } from '../cache/entry.ts';
import type { ReadCounters } from '../cache/reader.ts';
import type { ByteCache } from '../cache/store.ts';
import { validatorKey, type Validator } from '../cache/validator.ts';

export const INT8_FORMAT = 'i8x4-rowabsmax127-v1';

export interface Int8Layout {
  rows: number;
  rowWords: number;
  /** Bytes of the i8x4 words (first in the entry). */
  weightBytes: number;
  /** Bytes of the f32 scales (after the words). */
  scaleBytes: number;
  total: number;
}

export function int8Layout(shape: readonly number[]): Int8Layout {
  const rows = rowCount(shape);
  const rowWords = wordsPerRow('i8x4', shape);
  const weightBytes = rows * rowWords * 4;
  return { rows, rowWords, weightBytes, scaleBytes: rows * 4, total: weightBytes + rows * 4 };
}

/** Writes one tensor's bytes in order; the entry is complete (and used by later loads) only after finish(). */
export class Int8Writer {
  private readonly buf: Uint8Array;
  private pos = 0;

  constructor(private readonly entry: CacheEntry) {
    this.buf = new Uint8Array(Math.min(entry.blockBytes, entry.size));
  }

  /** Host bytes of the block buffer this writer holds. */
  get bufferBytes(): number {
    return this.buf.byteLength;
  }

  async push(bytes: Uint8Array): Promise<void> {
    const B = this.entry.blockBytes;
    let off = 0;
    while (off < bytes.length) {
      const b = Math.floor(this.pos / B);
      const inBlock = this.pos - b * B;
      const len = this.entry.blockLen(b);
      if (!(len > 0)) throw new Error(`int8 store: ${this.entry.url} is written past its ${this.entry.size} bytes`);
      const n = Math.min(bytes.length - off, len - inBlock);
      this.buf.set(bytes.subarray(off, off + n), inBlock);
      off += n;
      this.pos += n;
      if (inBlock + n === len) await this.entry.writeBlock(b, this.buf.subarray(0, len));
    }
  }

  async finish(): Promise<void> {
    if (this.pos !== this.entry.size) throw new Error(`int8 store: ${this.entry.url} got ${this.pos} of ${this.entry.size} bytes`);
  }
}

export class Int8Store {
  constructor(
    private readonly cache: ByteCache,
    private readonly model: string,
    /** The checkpoint file the tensor comes from, at its current validator. */
    private readonly source: { url: string; validator: Validator },
    readonly counters?: ReadCounters,
  ) {}

  private entry(name: string, shape: readonly number[]): Promise<CacheEntry> {
    const layout = int8Layout(shape);
    return this.cache.entry({
      url: `${this.source.url}#int8/${name}`,
      kind: 'int8',
      model: this.model,
      validator: { size: layout.total, etag: `${INT8_FORMAT}|${validatorKey(this.source.validator)}`, lastModified: null, sha256: null },
      meta: { format: INT8_FORMAT, shape: [...shape] },
    });
  }

  /** Whether a complete cached copy exists (a stale one is discarded here). */
  async has(name: string, shape: readonly number[]): Promise<boolean> {
    return (await this.entry(name, shape)).complete;
  }

  /**
   * Streams the cached bytes in order: words at offsets [0, weightBytes), scales after. Returns false when the copy is
   * incomplete or a block fails its check (it is dropped): the caller then quantizes from fp16 as on a cold load,
   * discarding whatever it wrote from this read.
   */
  async read(name: string, shape: readonly number[], onChunk: (bytes: Uint8Array, offset: number) => void | Promise<void>): Promise<boolean> {
    const e = await this.entry(name, shape);
    if (!e.complete) return false;
    for (let i = 0; i < e.blockCount; i++) {
      const data = await e.readBlock(i);
      if (!data) return false;
      if (this.counters) this.counters.cacheBytes += data.length;
      await onChunk(data, i * e.blockBytes);
    }
    return true;
  }

  /** A writer for the tensor's bytes (words, then scales); an old copy is replaced. */
  async writer(name: string, shape: readonly number[]): Promise<Int8Writer> {
    const e = await this.entry(name, shape);
    if (e.committedBytes > 0) await e.dropAll();
    return new Int8Writer(e);
  }
}
