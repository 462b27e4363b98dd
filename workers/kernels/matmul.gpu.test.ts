import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { MatMulF16 } from './matmul.ts';
import { asF16, f16Tensor, maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

function cpuMatMul(x: Float32Array, w: Float32Array, t: number, k: number, n: number): Float64Array {
  const y = new Float64Array(t * n);
  for (let i = 0; i < t; i++)
    for (let r = 0; r < n; r++) {
      let acc = 0;
      for (let j = 0; j < k; j++) acc += x[i * k + j] * w[r * k + j];
      y[i * n + r] = acc;
    }
  return y;
}

describe('matmul_f16 (prefill)', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    { t: 1, k: 2, n: 1, split: 0 },
    { t: 5, k: 7, n: 9, split: 0 },
    { t: 33, k: 64, n: 70, split: 0 },
    { t: 64, k: 256, n: 100, split: 0 },
    { t: 37, k: 96, n: 300, split: 4096 }, // 192 bytes per row → 21 rows per part, 15 parts
  ])('matches the CPU reference for T=$t K=$k N=$n (split $split)', async ({ t, k, n, split }) => {
    const group = ctx.ledger.group('test');
    try {
      const w = rand(n * k, n * 7 + k);
      const x = rand(t * k, t + 1, 2);
      const weight = f16Tensor(ctx, group, 'w', w, [n, k], split || undefined);
      if (split) expect(weight.parts.length).toBe(15);
      const maxTokens = t + 3;
      const xb = storage(ctx, group, 'x', new Float32Array(maxTokens * k).fill(9).map((v, i) => (i < x.length ? x[i] : v)));
      const y = storage(ctx, group, 'y', new Float32Array(maxTokens * n).fill(-5));
      const kernel = new MatMulF16(ctx);
      const b = kernel.bind(weight, xb, y, stepUniform(ctx, group, t), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, t));
      const got = await readF32(ctx, y);
      const { err, at } = maxRelErr(got, cpuMatMul(x, asF16(w), t, k, n));
      expect(err, `at ${at}`).toBeLessThan(1e-5);
      expect(got[t * n]).toBe(-5); // rows past `tokens` untouched
    } finally {
      group.destroy();
    }
  });
});
