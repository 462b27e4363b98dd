import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { bf16BitsToF32, f32ToF16Bits } from '../gpu/half.ts';
import type { TensorDtype } from '../gpu/dtypes.ts';
import { ConvertToF16, convertParams, CONVERT_PARAMS_BYTES } from './convert-to-f16.ts';

let ctx: GpuContext;
let kernel: ConvertToF16;

beforeAll(async () => {
  ctx = await nodeGpuContext();
  kernel = new ConvertToF16(ctx);
});
afterAll(() => ctx?.device.destroy());

/** Runs one conversion of `src` (placed at byte `shift` of the staging buffer) into `dstWords` words. */
async function convert(dtype: TensorDtype, src: Uint8Array, shift: number, p: { e0: number; w0: number; nWords: number; rowLen: number; rowWords: number; dstBase: number }, dstWords: number): Promise<Uint32Array> {
  const { device } = ctx;
  const stagingBytes = Math.ceil((shift + src.length + 4) / 4) * 4;
  const staged = new Uint8Array(stagingBytes).fill(0xa5); // junk around the bytes
  staged.set(src, shift);
  const staging = ctx.ledger.createBuffer({ label: 'test.staging', size: stagingBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, category: 'staging' });
  const dst = ctx.ledger.createBuffer({ label: 'test.dst', size: dstWords * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, category: 'activations' });
  const params = ctx.ledger.createBuffer({ label: 'test.params', size: 256, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
  try {
    device.queue.writeBuffer(staging, 0, staged);
    device.queue.writeBuffer(dst, 0, new Uint32Array(dstWords).fill(0xdeadbeef));
    const words = new Uint32Array(CONVERT_PARAMS_BYTES / 4);
    convertParams({ srcByte: shift, ...p }, words);
    device.queue.writeBuffer(params, 0, words);
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    kernel.encode(pass, dtype, kernel.bind(staging, dst, params, 0), p.nWords);
    pass.end();
    device.queue.submit([enc.finish()]);
    return new Uint32Array(await readBuffer(ctx, dst));
  } finally {
    for (const b of [staging, dst, params]) ctx.ledger.destroy(b);
  }
}

/** f16x2 words of one row of fp16 bits (odd count: high half of the last word 0). */
function pack(halves: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(halves.length / 2));
  for (let i = 0; i < halves.length; i++) out[i >> 1] |= i & 1 ? halves[i] << 16 : halves[i];
  return out;
}

function f32BitsToF16(x: number): number {
  const f = new Float32Array(new Uint32Array([x]).buffer)[0];
  return f32ToF16Bits(f);
}

describe('convert_to_f16', () => {
  it('BF16: every one of the 65536 bit patterns (normals, subnormals, overflow to inf, NaN, ties), at every byte alignment', async () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const want = pack(Array.from(bits, (b) => f32ToF16Bits(bf16BitsToF32(b))));
    for (const shift of [0, 1, 2, 3]) {
      const got = await convert('BF16', new Uint8Array(bits.buffer), shift, { e0: 0, w0: 0, nWords: 32768, rowLen: 65536, rowWords: 32768, dstBase: 0 }, 32768);
      let bad = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
      expect(bad, `shift ${shift}`).toBe(0);
    }
  });

  it('F32: exact ties at every rounding position, subnormal results, overflow, NaN and random patterns', async () => {
    const xs: number[] = [];
    const lows = [0, 0x1000, 0x0fff, 0x1001, 0x3000, 0x2fff, 0xffff];
    for (let hi = 0; hi < 65536; hi += 1) for (const lo of [lows[hi % lows.length], lows[(hi * 5 + 3) % lows.length]]) xs.push(((hi << 16) | lo) >>> 0);
    for (let exp = 98; exp <= 113; exp++) {
      const shift = 14 - (exp - 112);
      for (let m = 0; m < 64; m++) {
        for (const sign of [0, 0x80000000]) {
          const mant = (((m << shift) | (1 << (shift - 1))) & 0x7fffff) >>> 0;
          xs.push((sign | (exp << 23) | mant) >>> 0); // an exact tie
          xs.push((sign | (exp << 23) | (mant ^ 1)) >>> 0);
        }
      }
    }
    let s = 12345;
    for (let i = 0; i < 100_000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      xs.push(s);
    }
    xs.push(0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x477fe000, 0x477ff000, 0x477fefff, 0x33000000, 0x33000001, 0x387fe000);
    if (xs.length % 2) xs.push(0);
    const src = new Uint32Array(xs);
    const want = pack(Array.from(src, f32BitsToF16));
    for (const shift of [0, 2, 3]) {
      const n = want.length;
      const got = await convert('F32', new Uint8Array(src.buffer), shift, { e0: 0, w0: 0, nWords: n, rowLen: src.length, rowWords: n, dstBase: 0 }, n);
      const bad = want.findIndex((w, i) => got[i] !== w);
      expect(bad, bad >= 0 ? `shift ${shift}: x=${src[bad * 2].toString(16)},${src[bad * 2 + 1].toString(16)} got ${got[bad].toString(16)} want ${want[bad].toString(16)}` : '').toBe(-1);
    }
  });

  it('F16 rows of odd length: pads each row, starts mid-tensor and writes at the part offset', async () => {
    const rowLen = 5, rowWords = 3, rows = 6;
    const halves = new Uint16Array(rows * rowLen).map((_, i) => (i * 2654435761) & 0xffff);
    const all: number[] = [];
    for (let r = 0; r < rows; r++) all.push(...pack(halves.subarray(r * rowLen, (r + 1) * rowLen)));
    // words 7..16 (row 2, word 1 .. row 5, word 1), into a part whose first word is tensor word 6
    const e0 = 2 * rowLen + 2;
    const src = new Uint8Array(halves.buffer, e0 * 2);
    const got = await convert('F16', src, 1, { e0, w0: 7, nWords: 10, rowLen, rowWords, dstBase: 6 }, 12);
    expect(got[0]).toBe(0xdeadbeef);
    expect(Array.from(got.subarray(1, 11))).toEqual(all.slice(7, 17));
    expect(got[11]).toBe(0xdeadbeef);
  });
});
