import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { Embedding } from './embedding.ts';
import { asF16, f16Tensor, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

function cpuGather(table: Float32Array, dim: number, ids: number[], scale = 1): Float32Array {
  const out = new Float32Array(ids.length * dim);
  ids.forEach((id, t) => out.set(table.subarray(id * dim, (id + 1) * dim).map((v) => Math.fround(v * scale)), t * dim));
  return out;
}

describe('embedding gather', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    { vocab: 37, dim: 10, split: 64, ids: [0, 36, 5, 5, 17, 3] }, // 3 rows per part → 13 parts
    { vocab: 50, dim: 7, split: 1 << 20, ids: [49, 1, 0] }, // odd dim, one part
    { vocab: 50, dim: 64, split: 1 << 20, ids: [3, 4, 49], scale: 8 }, // Gemma: × sqrt(hidden)
    { vocab: 37, dim: 10, split: 64, ids: [36, 0], scale: 12 }, // Granite: × embedding_multiplier, split table
  ])('matches the CPU gather (vocab $vocab, dim $dim, scale $scale)', async ({ vocab, dim, split, ids, scale }) => {
    const group = ctx.ledger.group('test');
    try {
      const values = rand(vocab * dim, vocab + dim, 3);
      const table = f16Tensor(ctx, group, 'embed', values, [vocab, dim], split);
      if (split === 64) expect(table.parts.length).toBe(13);
      const idsBuf = storage(ctx, group, 'ids', new Uint32Array([...ids, 0, 0]));
      const x = storage(ctx, group, 'x', new Float32Array((ids.length + 2) * dim).fill(-7));
      const kernel = new Embedding(ctx);
      const b = kernel.bind(table, idsBuf, x, stepUniform(ctx, group, ids.length), group, scale);
      runPass(ctx, (pass) => kernel.encode(pass, b, ids.length));
      const got = await readF32(ctx, x);
      expect(Array.from(got.subarray(0, ids.length * dim))).toEqual(Array.from(cpuGather(asF16(values), dim, ids, scale)));
      expect(got[ids.length * dim]).toBe(-7); // rows past `tokens` untouched
    } finally {
      group.destroy();
    }
  });
});
