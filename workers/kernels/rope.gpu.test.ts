import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { Rope, ropeTable } from './rope.ts';
import { maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

/** HF's apply_rotary_pos_emb on one head vector (rotate-half over the first 2·invFreq.length dims), in float64. */
function cpuRotate(x: Float32Array, invFreq: Float32Array, position: number): Float64Array {
  const half = invFreq.length;
  const out = Float64Array.from(x);
  for (let i = 0; i < half; i++) {
    const a = Math.fround(position * invFreq[i]);
    const c = Math.cos(a);
    const s = Math.sin(a);
    out[i] = x[i] * c - x[i + half] * s;
    out[i + half] = x[i + half] * c + x[i] * s;
  }
  return out;
}

describe('rope + KV append (several tokens, from fused q/k/v rows)', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    { nHeads: 4, nKvHeads: 2, headDim: 8, ropeHalf: 4, tokens: 3, pos: 5 },
    { nHeads: 6, nKvHeads: 1, headDim: 16, ropeHalf: 8, tokens: 1, pos: 900 },
    { nHeads: 2, nKvHeads: 2, headDim: 16, ropeHalf: 6, tokens: 2, pos: 7 }, // partial rotary: 12 of 16 dims
    { nHeads: 2, nKvHeads: 1, headDim: 8, ropeHalf: 0, tokens: 2, pos: 3 }, // no rotation
  ])('q rotated, k rotated and v into cache rows pos..pos+T ($nHeads/$nKvHeads heads, $ropeHalf pairs, T=$tokens)', async (s) => {
    const group = ctx.ledger.group('test');
    try {
      const context = 1000;
      const invFreq = new Float32Array(s.ropeHalf).map((_, i) => 1 / 10000 ** ((2 * i) / (2 * s.ropeHalf)));
      const qDim = s.nHeads * s.headDim;
      const kvDim = s.nKvHeads * s.headDim;
      const row = qDim + 2 * kvDim;
      const qkv = rand(s.tokens * row, 1);
      const q = storage(ctx, group, 'q', s.tokens * qDim * 4);
      const vOffset = (context * kvDim + 64) * 4;
      const kv = storage(ctx, group, 'kv', vOffset + context * kvDim * 4);
      const table = ropeTable(invFreq, context);
      const kernel = new Rope(ctx);
      const b = kernel.bind(
        't',
        s,
        { qkv: storage(ctx, group, 'qkv', qkv), q, kv: { buffer: kv, vOffset }, table: storage(ctx, group, 'table', table.length ? table : new Float32Array(4)) },
        stepUniform(ctx, group, s.tokens, s.pos),
        group,
      );
      runPass(ctx, (pass) => kernel.encode(pass, b, s.tokens));
      const [gq, gkv] = await Promise.all([readF32(ctx, q), readF32(ctx, kv)]);
      const gv = gkv.subarray(vOffset / 4);
      for (let t = 0; t < s.tokens; t++) {
        const src = qkv.subarray(t * row, (t + 1) * row);
        for (let h = 0; h < s.nHeads; h++) {
          const o = (t * s.nHeads + h) * s.headDim;
          const want = cpuRotate(src.subarray(h * s.headDim, (h + 1) * s.headDim), invFreq, s.pos + t);
          expect(maxRelErr(gq.subarray(o, o + s.headDim), want).err).toBeLessThan(1e-6);
        }
        for (let h = 0; h < s.nKvHeads; h++) {
          const dst = ((s.pos + t) * s.nKvHeads + h) * s.headDim;
          const kSrc = src.subarray(qDim + h * s.headDim, qDim + (h + 1) * s.headDim);
          const vSrc = src.subarray(qDim + kvDim + h * s.headDim, qDim + kvDim + (h + 1) * s.headDim);
          expect(maxRelErr(gkv.subarray(dst, dst + s.headDim), cpuRotate(kSrc, invFreq, s.pos + t)).err).toBeLessThan(1e-6);
          expect(Array.from(gv.subarray(dst, dst + s.headDim))).toEqual(Array.from(vSrc));
        }
      }
      // nothing written outside rows pos .. pos + tokens of either cache
      const written = (i: number) => i >= s.pos * kvDim && i < (s.pos + s.tokens) * kvDim;
      expect(gkv.subarray(0, vOffset / 4).every((x, i) => written(i) || x === 0)).toBe(true);
      expect(gv.every((x, i) => written(i) || x === 0)).toBe(true);
    } finally {
      group.destroy();
    }
  });
});
