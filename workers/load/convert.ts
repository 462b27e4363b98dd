// Streaming conversion of checkpoint bytes (BF16 / F32 / F16, little-endian) to the engine's 'f16x2' layout: fp16
// two per u32, element 2i in the low half, each row padded to a whole u32. Chunks from the network may split an
// element or a row anywhere; the converter carries the remainder. Results match half.ts bit for bit (round to
// nearest even), which the tests check element by element.
import { bf16BitsToF32, f32ToF16Bits } from '../gpu/half.ts';
import type { TensorDtype } from '../gpu/dtypes.ts';
import { rowLength, wordsPerRow, rowCount } from '../gpu/tensor.ts';

let bf16Table: Uint16Array | null = null;

/** bf16 → fp16 bits for all 65536 inputs (128 KiB, built once): the hot loop is one table load per element. */
function bf16ToF16Table(): Uint16Array {
  if (!bf16Table) {
    bf16Table = new Uint16Array(65536);
    for (let b = 0; b < 65536; b++) bf16Table[b] = f32ToF16Bits(bf16BitsToF32(b));
  }
  return bf16Table;
}

/**
 * f32 bits → fp16 bits for `n` elements, round to nearest even (the arithmetic of half.ts f32ToF16Bits, inlined so
 * the loop makes no calls).
 */
function f32ToF16Run(src: Uint32Array, dst: Uint16Array, dstOffset: number): void {
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const x = src[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    let h: number;
    if (exp === 0xff) h = sign | 0x7c00 | (mant ? 0x200 : 0);
    else {
      let e = exp - 112; // exp - 127 + 15
      if (e >= 0x1f) h = sign | 0x7c00;
      else if (e <= 0) {
        if (e < -10) h = sign;
        else {
          mant |= 0x800000;
          const shift = 14 - e;
          const half = 1 << (shift - 1);
          const rest = mant & ((1 << shift) - 1);
          let m = mant >>> shift;
          if (rest > half || (rest === half && m & 1)) m++;
          h = sign | m;
        }
      } else {
        let m = mant >>> 13;
        const rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
          m++;
          if (m === 0x400) {
            m = 0;
            e++;
          }
        }
        h = e >= 0x1f ? sign | 0x7c00 : sign | (e << 10) | m;
      }
    }
    dst[dstOffset + i] = h;
  }
}

/**
 * Working memory shared by every converter of this thread (one tensor converts at a time): a load allocates it once,
 * not once per tensor, and it grows to the largest push.
 */
const shared = { scratch: new Uint16Array(0), out: new Uint16Array(0) };

/** Words completed by one push: `words` go at word `wordOffset` of the tensor. */
export interface ConvertedWords {
  wordOffset: number;
  /** A view of a buffer the next push (of any converter) reuses: write or copy it first. */
  words: Uint32Array;
}

/**
 * Converts one tensor's bytes, pushed in arbitrary chunks, into f16x2 words. Each push returns the words completed
 * by it (a low half waiting for its pair is carried to the next push).
 */
export class F16x2Converter {
  readonly elementBytes: number;
  readonly rowLen: number;
  readonly rowWords: number;
  readonly totalElements: number;
  readonly totalWords: number;
  /** Word index in the tensor of the next word returned. */
  wordOffset = 0;
  private elements = 0;
  private readonly pending = new Uint8Array(4);
  private pendingLen = 0;
  /** 1 when a low half (carryHalf) waits for its pair. */
  private carry = 0;
  private carryHalf = 0;
  /** Bytes of the copy the last push made of a misaligned chunk (0 when none). */
  private copied = 0;

  constructor(
    readonly name: string,
    readonly dtype: TensorDtype,
    readonly shape: readonly number[],
  ) {
    this.elementBytes = dtype === 'F32' ? 4 : 2;
    this.rowLen = rowLength(shape);
    this.rowWords = wordsPerRow('f16x2', shape);
    this.totalElements = rowCount(shape) * this.rowLen;
    this.totalWords = rowCount(shape) * this.rowWords;
  }

  get done(): boolean {
    return this.elements === this.totalElements;
  }

  /**
   * Host bytes the conversion holds after a push: the shared working buffers (they outlive the load, grown to its
   * largest push), the bf16 table once built, and the copy of a misaligned chunk the last push made.
   */
  get workingBytes(): number {
    return shared.scratch.byteLength + shared.out.byteLength + (bf16Table?.byteLength ?? 0) + this.copied;
  }

  push(chunk: Uint8Array): ConvertedWords {
    const eb = this.elementBytes;
    this.copied = 0;
    let c = chunk;
    // Complete an element split by the previous chunk.
    let head: Uint8Array | null = null;
    if (this.pendingLen > 0) {
      const need = eb - this.pendingLen;
      const take = Math.min(need, c.length);
      this.pending.set(c.subarray(0, take), this.pendingLen);
      this.pendingLen += take;
      c = c.subarray(take);
      if (this.pendingLen < eb) return { wordOffset: this.wordOffset, words: new Uint32Array(0) };
      head = this.pending.slice(0, eb);
      this.pendingLen = 0;
    }
    const whole = Math.floor(c.length / eb);
    const tailLen = c.length - whole * eb;
    if (tailLen > 0) {
      this.pending.set(c.subarray(whole * eb));
      this.pendingLen = tailLen;
    }
    const n = (head ? 1 : 0) + whole;
    if (this.elements + n > this.totalElements) {
      throw new Error(`tensor '${this.name}': more bytes than its shape holds`);
    }
    const body = c.subarray(0, whole * eb);
    if (this.rowLen % 2 === 0) {
      // Even rows have no padding: convert straight into the output, after the carried half.
      const out = outHalves(this.carry + n + 1);
      if (this.carry) out[0] = this.carryHalf;
      this.toHalves(head, body, out, this.carry);
      return this.complete(out, this.carry + n, n);
    }
    // Source halves (fp16 bits) of the n new elements, contiguous.
    if (shared.scratch.length < n) shared.scratch = new Uint16Array(Math.max(n, 1024));
    const halves = shared.scratch.subarray(0, n);
    this.toHalves(head, body, halves, 0);
    return this.emit(halves);
  }

  /** Checks that every element arrived and returns the last word (padding the final odd half with zero). */
  finish(): ConvertedWords {
    if (this.pendingLen > 0 || this.elements !== this.totalElements) {
      throw new Error(
        `tensor '${this.name}': ${this.elements} of ${this.totalElements} elements arrived` +
          (this.pendingLen ? ` (+${this.pendingLen} stray bytes)` : ''),
      );
    }
    const wordOffset = this.wordOffset;
    if (this.carry === 0) return { wordOffset, words: new Uint32Array(0) };
    this.carry = 0;
    this.wordOffset += 1;
    return { wordOffset, words: new Uint32Array([this.carryHalf]) };
  }

  /** fp16 bits of the head element (if any) and the body's elements into dst[at...]. */
  private toHalves(head: Uint8Array | null, body: Uint8Array, dst: Uint16Array, at: number): void {
    let o = at;
    if (head) {
      this.convert(head, dst, o);
      o++;
    }
    if (body.length > 0) this.convert(body, dst, o);
  }

  /** Converts whole elements of `src` into fp16 bits at dst[offset...]. */
  private convert(src: Uint8Array, dst: Uint16Array, offset: number): void {
    const eb = this.elementBytes;
    const aligned = src.byteOffset % eb === 0 ? src : src.slice();
    if (aligned !== src) this.copied += aligned.byteLength;
    const count = aligned.length / eb;
    if (this.dtype === 'F32') {
      f32ToF16Run(new Uint32Array(aligned.buffer, aligned.byteOffset, count), dst, offset);
    } else if (this.dtype === 'BF16') {
      const t = bf16ToF16Table();
      let i = 0;
      if (offset % 2 === 0 && aligned.byteOffset % 4 === 0 && (dst.byteOffset + offset * 2) % 4 === 0) {
        // Two elements per step: one u32 load, two table loads, one u32 store.
        const pairs = count >> 1;
        const s32 = new Uint32Array(aligned.buffer, aligned.byteOffset, pairs);
        const d32 = new Uint32Array(dst.buffer, dst.byteOffset + offset * 2, pairs);
        for (let k = 0; k < pairs; k++) {
          const x = s32[k];
          d32[k] = t[x & 0xffff] | (t[x >>> 16] << 16);
        }
        i = pairs * 2;
      }
      const s16 = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
      for (; i < count; i++) dst[offset + i] = t[s16[i]];
    } else {
      dst.set(new Uint16Array(aligned.buffer, aligned.byteOffset, count), offset);
    }
  }

  /** Places n element halves at their padded positions and returns the completed words. */
  private emit(halves: Uint16Array): ConvertedWords {
    const n = halves.length;
    const rowLen = this.rowLen;
    const padded = (rowLen & 1) === 1;
    // Upper bound on halves written: carry + n + one pad per row boundary crossed.
    const out = outHalves(this.carry + n + (padded ? Math.ceil(n / rowLen) + 1 : 0) + 1);
    if (this.carry) out[0] = this.carryHalf;
    let p = this.carry;
    if (!padded) {
      out.set(halves, p);
      p += n;
    } else {
      let col = this.elements % rowLen;
      let i = 0;
      while (i < n) {
        const take = Math.min(rowLen - col, n - i);
        out.set(halves.subarray(i, i + take), p);
        p += take;
        i += take;
        col += take;
        if (col === rowLen) {
          out[p++] = 0; // row padding: the high half of the row's last word
          col = 0;
        }
      }
    }
    return this.complete(out, p, n);
  }

  /** `p` halves of `out` hold the carried half and the `n` new elements (padded): returns the whole words. */
  private complete(out: Uint16Array, p: number, n: number): ConvertedWords {
    this.elements += n;
    const words = p >> 1;
    this.carry = p & 1;
    if (this.carry) this.carryHalf = out[p - 1];
    const wordOffset = this.wordOffset;
    this.wordOffset += words;
    return { wordOffset, words: new Uint32Array(out.buffer, 0, words) };
  }
}

/** The shared output, at least `n` halves (and a whole number of words). */
function outHalves(n: number): Uint16Array {
  if (shared.out.length < n) shared.out = new Uint16Array(Math.max(n, shared.out.length * 2) + 2);
  return shared.out;
}
