import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { fusedQkvSource, Rope, ropeTable } from './rope.ts';
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

describe('rope + KV append (several tokens, from the q/k/v rows)', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    { name: 'full rotation', nHeads: 4, nKvHeads: 2, headDim: 8, tokens: 3, pos: 5, rotaryDims: 8, cacheRows: 1000, factor: 1, split: false },
    { name: 'decode at 900, MQA', nHeads: 6, nKvHeads: 1, headDim: 16, tokens: 1, pos: 900, rotaryDims: 16, cacheRows: 1000, factor: 1, split: false },
    { name: 'partial rotary 24/32 (Phi-4-mini), LongRoPE factor', nHeads: 4, nKvHeads: 2, headDim: 32, tokens: 4, pos: 2, rotaryDims: 24, cacheRows: 1000, factor: 1.19, split: false },
    { name: 'NoPE (SmolLM3): no rotation, append only', nHeads: 4, nKvHeads: 2, headDim: 16, tokens: 3, pos: 7, rotaryDims: 0, cacheRows: 1000, factor: 1, split: false },
    { name: 'sliding-window ring of 6 rows, wrapping', nHeads: 2, nKvHeads: 2, headDim: 8, tokens: 4, pos: 10, rotaryDims: 8, cacheRows: 6, factor: 1, split: false },
    { name: 'q and k from their own buffers (after q/k norms), v from the rows', nHeads: 4, nKvHeads: 2, headDim: 8, tokens: 3, pos: 1, rotaryDims: 8, cacheRows: 1000, factor: 1, split: true },
  ])('$name: q rotated, rotated k and v in the cache rows of pos..pos+T', async (s) => {
    const group = ctx.ledger.group('test');
    try {
      const context = 1000;
      const invFreq = new Float32Array(s.rotaryDims / 2).map((_, i) => 1 / 10000 ** ((2 * i) / s.rotaryDims));
      const qDim = s.nHeads * s.headDim;
      const kvDim = s.nKvHeads * s.headDim;
      const row = qDim + 2 * kvDim;
      const qkv = rand(s.tokens * row, 1);
      const qkvBuf = storage(ctx, group, 'qkv', qkv);
      const shape = { ...s, ropeHalf: s.rotaryDims / 2 };
      // the split layout: q and k in [tokens, dim] buffers of their own (their values: the rows' q and k columns)
      const cols = (off: number, n: number) => Float32Array.from({ length: s.tokens * n }, (_, i) => qkv[Math.floor(i / n) * row + off + (i % n)]);
      const src = s.split
        ? {
            q: { buffer: storage(ctx, group, 'qn', cols(0, qDim)), stride: qDim, col: 0 },
            k: { buffer: storage(ctx, group, 'kn', cols(qDim, kvDim)), stride: kvDim, col: 0 },
            v: fusedQkvSource(qkvBuf, shape).v,
          }
        : fusedQkvSource(qkvBuf, shape);
      const q = storage(ctx, group, 'q', s.tokens * qDim * 4);
      const vOffset = (s.cacheRows * kvDim + 64) * 4; // a gap between the two caches, as alignment may leave
      const kv = storage(ctx, group, 'kv', vOffset + s.cacheRows * kvDim * 4);
      const table = s.rotaryDims > 0 ? ropeTable(invFreq, context, s.factor) : new Float32Array(2);
      const kernel = new Rope(ctx);
      const b = kernel.bind('t', shape, { src, q, kv: { buffer: kv, vOffset }, table: storage(ctx, group, 'table', table) }, stepUniform(ctx, group, s.tokens, s.pos), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, s.tokens));
      const [gq, gkv] = await Promise.all([readF32(ctx, q), readF32(ctx, kv)]);
      const gk = gkv.subarray(0, s.cacheRows * kvDim);
      const gv = gkv.subarray(vOffset / 4);
      const rows = new Set<number>();
      for (let t = 0; t < s.tokens; t++) {
        const r = qkv.subarray(t * row, (t + 1) * row);
        for (let h = 0; h < s.nHeads; h++) {
          const o = (t * s.nHeads + h) * s.headDim;
          const want = cpuRotate(r.subarray(h * s.headDim, (h + 1) * s.headDim), invFreq, s.pos + t, s.factor);
          expect(maxRelErr(gq.subarray(o, o + s.headDim), want).err).toBeLessThan(1e-6);
        }
        const cacheRow = (s.pos + t) % s.cacheRows;
        rows.add(cacheRow);
        for (let h = 0; h < s.nKvHeads; h++) {
          const dst = (cacheRow * s.nKvHeads + h) * s.headDim;
          const kSrc = r.subarray(qDim + h * s.headDim, qDim + (h + 1) * s.headDim);
          const vSrc = r.subarray(qDim + kvDim + h * s.headDim, qDim + kvDim + (h + 1) * s.headDim);
          expect(maxRelErr(gk.subarray(dst, dst + s.headDim), cpuRotate(kSrc, invFreq, s.pos + t, s.factor)).err).toBeLessThan(1e-6);
          expect(Array.from(gv.subarray(dst, dst + s.headDim))).toEqual(Array.from(vSrc));
        }
      }
      // nothing written outside the rows of positions pos .. pos + tokens, in either cache
      expect(gk.every((x, i) => rows.has(Math.floor(i / kvDim)) || x === 0)).toBe(true);
      expect(gv.every((x, i) => rows.has(Math.floor(i / kvDim)) || x === 0)).toBe(true);
    } finally {
      group.destroy();
    }
  });
});
