import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { Rope, ropeTable } from './rope.ts';
import { maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

/**
 * HF's apply_rotary_pos_emb on one head vector (rotate-half layout over the first 2 · invFreq.length dims, the rest
 * passed through; cos and sin times `factor`), in float64.
 */
function cpuRotate(x: Float32Array, invFreq: Float32Array, position: number, factor = 1): Float64Array {
  const half = invFreq.length;
  const out = Float64Array.from(x);
  for (let i = 0; i < half; i++) {
    const a = Math.fround(position * invFreq[i]);
    const c = Math.cos(a) * factor;
    const s = Math.sin(a) * factor;
    out[i] = x[i] * c - x[i + half] * s;
    out[i + half] = x[i + half] * c + x[i] * s;
  }
  return out;
}

describe('rope + KV append', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    { name: 'full rotation', nHeads: 4, nKvHeads: 2, headDim: 8, tokens: 3, pos: 5, rotaryDims: 8, cacheRows: 1000, factor: 1 },
    { name: 'decode at 900, MQA', nHeads: 6, nKvHeads: 1, headDim: 16, tokens: 1, pos: 900, rotaryDims: 16, cacheRows: 1000, factor: 1 },
    { name: 'partial rotary 24/32 (Phi-4-mini), LongRoPE factor', nHeads: 4, nKvHeads: 2, headDim: 32, tokens: 4, pos: 2, rotaryDims: 24, cacheRows: 1000, factor: 1.19 },
    { name: 'NoPE (SmolLM3): no rotation, append only', nHeads: 4, nKvHeads: 2, headDim: 16, tokens: 3, pos: 7, rotaryDims: 0, cacheRows: 1000, factor: 1 },
    { name: 'sliding-window ring of 6 rows, wrapping', nHeads: 2, nKvHeads: 2, headDim: 8, tokens: 4, pos: 10, rotaryDims: 8, cacheRows: 6, factor: 1 },
  ])('$name: q rotated in place, rotated k and v in the cache rows of pos..pos+T', async (s) => {
    const group = ctx.ledger.group('test');
    try {
      const context = 1000;
      const invFreq = new Float32Array(s.rotaryDims / 2).map((_, i) => 1 / 10000 ** ((2 * i) / s.rotaryDims));
      const qDim = s.nHeads * s.headDim;
      const kvDim = s.nKvHeads * s.headDim;
      const q = rand(s.tokens * qDim, 1);
      const k = rand(s.tokens * kvDim, 2);
      const v = rand(s.tokens * kvDim, 3);
      const qb = storage(ctx, group, 'q', q);
      const kCache = storage(ctx, group, 'kc', s.cacheRows * kvDim * 4);
      const vCache = storage(ctx, group, 'vc', s.cacheRows * kvDim * 4);
      const table = s.rotaryDims > 0 ? ropeTable(invFreq, context, s.factor) : new Float32Array(2);
      const bufs = { q: qb, k: storage(ctx, group, 'k', k), v: storage(ctx, group, 'v', v), kCache, vCache, table: storage(ctx, group, 'table', table) };
      const kernel = new Rope(ctx);
      const b = kernel.bind('t', s, bufs, stepUniform(ctx, group, s.tokens, s.pos), group, { rotaryDims: s.rotaryDims, cacheRows: s.cacheRows });
      runPass(ctx, (pass) => kernel.encode(pass, b, s.tokens));
      const [gq, gk, gv] = await Promise.all([readF32(ctx, qb), readF32(ctx, kCache), readF32(ctx, vCache)]);
      const rows = new Set<number>();
      for (let t = 0; t < s.tokens; t++) {
        for (let h = 0; h < s.nHeads; h++) {
          const o = (t * s.nHeads + h) * s.headDim;
          const want = cpuRotate(q.subarray(o, o + s.headDim), invFreq, s.pos + t, s.factor);
          expect(maxRelErr(gq.subarray(o, o + s.headDim), want).err).toBeLessThan(1e-6);
        }
        const row = (s.pos + t) % s.cacheRows;
        rows.add(row);
        for (let h = 0; h < s.nKvHeads; h++) {
          const src = (t * s.nKvHeads + h) * s.headDim;
          const dst = (row * s.nKvHeads + h) * s.headDim;
          const want = cpuRotate(k.subarray(src, src + s.headDim), invFreq, s.pos + t, s.factor);
          expect(maxRelErr(gk.subarray(dst, dst + s.headDim), want).err).toBeLessThan(1e-6);
          expect(Array.from(gv.subarray(dst, dst + s.headDim))).toEqual(Array.from(v.subarray(src, src + s.headDim)));
        }
      }
      // nothing written outside the rows of positions pos .. pos + tokens
      expect(gk.every((x, i) => rows.has(Math.floor(i / kvDim)) || x === 0)).toBe(true);
      expect(gv.every((x, i) => rows.has(Math.floor(i / kvDim)) || x === 0)).toBe(true);
    } finally {
      group.destroy();
    }
  });
});
