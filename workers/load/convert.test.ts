import { describe, expect, it } from 'vitest';
import { F16x2Converter } from './convert.ts';
import { bf16BitsToF32, f32ToF16Bits } from '../gpu/half.ts';
import type { TensorDtype } from '../gpu/dtypes.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}

/** Source bytes with random bit patterns, plus specials (±0, ±Inf, NaN, subnormals, rounding ties) up front. */
function sourceBytes(dtype: TensorDtype, n: number, seed: number): Uint8Array {
  const next = lcg(seed);
  if (dtype === 'F32') {
    const specials = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x33000000, 0x33000001, 0x387fe000, 0x477ff000, 0x477fefff, 0x38800000, 0x3f801000, 0x3f803000];
    const a = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      // Mostly values near the fp16 range, so rounding paths are exercised, plus some fully random patterns.
      const r = next();
      a[i] = i < specials.length ? specials[i] : i % 5 === 0 ? r : ((r & 0x80000000) | (((r >>> 8) % 50) + 100) << 23 | (r & 0x7fffff)) >>> 0;
    }
    return new Uint8Array(a.buffer);
  }
  const a = new Uint16Array(n);
  const specials = dtype === 'BF16' ? [0, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x3380, 0x3381, 0x3800, 0x387f, 0x4780, 0x477f] : [0, 0x8000, 0x7c00, 0x3c00, 1];
  for (let i = 0; i < n; i++) a[i] = i < specials.length ? specials[i] : next() >>> 16;
  return new Uint8Array(a.buffer);
}

function referenceWords(dtype: TensorDtype, bytes: Uint8Array, shape: number[]): Uint32Array {
  const rowLen = shape.length <= 1 ? shape[0] : shape.slice(1).reduce((a, b) => a * b, 1);
  const rows = shape.length <= 1 ? 1 : shape[0];
  const rowWords = Math.ceil(rowLen / 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const half = (i: number) => {
    if (dtype === 'F16') return dv.getUint16(i * 2, true);
    if (dtype === 'BF16') return f32ToF16Bits(bf16BitsToF32(dv.getUint16(i * 2, true)));
    return f32ToF16Bits(dv.getFloat32(i * 4, true));
  };
  const out = new Uint32Array(rows * rowWords);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < rowLen; c++) {
      const h = half(r * rowLen + c);
      out[r * rowWords + (c >> 1)] |= c & 1 ? h << 16 : h;
    }
  }
  return out;
}

function convertInChunks(dtype: TensorDtype, bytes: Uint8Array, shape: number[], splits: () => number): Uint32Array {
  const conv = new F16x2Converter('t', dtype, shape);
  const out = new Uint32Array(conv.totalWords);
  let o = 0;
  while (o < bytes.length) {
    const n = Math.min(bytes.length - o, splits());
    // Copy to an odd offset in a fresh buffer sometimes, as network chunks may be unaligned.
    const src = new Uint8Array(n + 1).subarray(1);
    src.set(bytes.subarray(o, o + n));
    const { wordOffset, words } = conv.push(o % 3 === 0 ? src : bytes.subarray(o, o + n));
    out.set(words, wordOffset);
    o += n;
  }
  const last = conv.finish();
  out.set(last.words, last.wordOffset);
  expect(conv.wordOffset).toBe(conv.totalWords);
  return out;
}

describe('F16x2Converter', () => {
  const shapes: number[][] = [[7], [1], [64], [3, 5], [17, 33], [4, 2, 3], [9, 1], [40, 64]];
  it.each(['BF16', 'F32', 'F16'] as TensorDtype[])('%s matches half.ts per element with odd chunk splits', (dtype) => {
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const bytes = sourceBytes(dtype, n, n * 7 + shape.length);
      const want = referenceWords(dtype, bytes, shape);
      for (const seed of [1, 2, 3]) {
        const next = lcg(seed * 1000 + n);
        const got = convertInChunks(dtype, bytes, shape, () => 1 + (next() % 13));
        expect(Array.from(got)).toEqual(Array.from(want));
      }
      expect(Array.from(convertInChunks(dtype, bytes, shape, () => 1 << 30))).toEqual(Array.from(want));
      expect(Array.from(convertInChunks(dtype, bytes, shape, () => 1))).toEqual(Array.from(want));
    }
  });

  it('converts every bf16 bit pattern like half.ts', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const got = convertInChunks('BF16', new Uint8Array(all.buffer), [65536], () => 4097);
    const want = referenceWords('BF16', new Uint8Array(all.buffer), [65536]);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('refuses bytes past the shape and reports missing ones', () => {
    const c = new F16x2Converter('w', 'F16', [3]);
    expect(() => c.push(new Uint8Array(8))).toThrow(/more bytes/);
    const d = new F16x2Converter('w', 'BF16', [3]);
    d.push(new Uint8Array(5));
    expect(() => d.finish()).toThrow(/2 of 3 elements/);
  });
});
