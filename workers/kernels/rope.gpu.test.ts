import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { Rope, ropeTable } from './rope.ts';
import { maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

/** HF's apply_rotary_pos_emb on one head vector (rotate-half layout), in float64. */
function cpuRotate(x: Float32Array, invFreq: Float32Array, position: number): Float64Array {
  const half = invFreq.length;
  const out = new Float64Array(2 * half);
  for (let i = 0; i < half; i++) {
    const a = Math.fround(position * invFreq[i]);
    const c = Math.cos(a);
    const s = Math.sin(a);
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
    { nHeads: 4, nKvHeads: 2, headDim: 8, tokens: 3, pos: 5 },
    { nHeads: 6, nKvHeads: 1, headDim: 16, tokens: 1, pos: 900 },
  ])('rotates q in place and writes rotated k and v to cache rows pos..pos+T ($nHeads/$nKvHeads heads, T=$tokens)', async (s) => {
    const group = ctx.ledger.group('test');
    try {
      const context = 1000;
      const invFreq = new Float32Array(s.headDim / 2).map((_, i) => 1 / 10000 ** ((2 * i) / s.headDim));
      const qDim = s.nHeads * s.headDim;
      const kvDim = s.nKvHeads * s.headDim;
      const q = rand(s.tokens * qDim, 1);
      const k = rand(s.tokens * kvDim, 2);
      const v = rand(s.tokens * kvDim, 3);
      const qb = storage(ctx, group, 'q', q);
      const kCache = storage(ctx, group, 'kc', context * kvDim * 4);
      const vCache = storage(ctx, group, 'vc', context * kvDim * 4);
      const bufs = {
        q: qb,
        k: storage(ctx, group, 'k', k),
        v: storage(ctx, group, 'v', v),
        kCache,
        vCache,
        table: storage(ctx, group, 'table', ropeTable(invFreq, context)),
      };
      const kernel = new Rope(ctx);
      const b = kernel.bind('t', s, bufs, stepUniform(ctx, group, s.tokens, s.pos), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, s.tokens));
      const [gq, gk, gv] = await Promise.all([readF32(ctx, qb), readF32(ctx, kCache), readF32(ctx, vCache)]);
      for (let t = 0; t < s.tokens; t++) {
        for (let h = 0; h < s.nHeads; h++) {
          const o = (t * s.nHeads + h) * s.headDim;
          const want = cpuRotate(q.subarray(o, o + s.headDim), invFreq, s.pos + t);
          expect(maxRelErr(gq.subarray(o, o + s.headDim), want).err).toBeLessThan(1e-6);
        }
        for (let h = 0; h < s.nKvHeads; h++) {
          const src = (t * s.nKvHeads + h) * s.headDim;
          const dst = ((s.pos + t) * s.nKvHeads + h) * s.headDim;
          const want = cpuRotate(k.subarray(src, src + s.headDim), invFreq, s.pos + t);
          expect(maxRelErr(gk.subarray(dst, dst + s.headDim), want).err).toBeLessThan(1e-6);
          expect(Array.from(gv.subarray(dst, dst + s.headDim))).toEqual(Array.from(v.subarray(src, src + s.headDim)));
        }
      }
      // nothing written outside rows pos .. pos + tokens
      const written = (i: number) => i >= s.pos * kvDim && i < (s.pos + s.tokens) * kvDim;
      expect(gk.every((x, i) => written(i) || x === 0)).toBe(true);
    } finally {
      group.destroy();
    }
  });
});
