import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { RmsNorm } from './rmsnorm.ts';
import { asF16, f16Tensor, maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

function cpuRmsNorm(x: Float32Array, w: Float32Array, dim: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let t = 0; t < x.length / dim; t++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[t * dim + i] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[t * dim + i] = w[i] * x[t * dim + i] * inv;
  }
  return out;
}

describe.each([
  { workgroupSize: undefined, name: 'default workgroup' },
  { workgroupSize: 64, name: '64 threads' },
])('rmsnorm ($name)', ({ workgroupSize }) => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    [1, 8],
    [3, 100],
    [5, 257],
  ])('matches the CPU reference for %i × %i', async (tokens, dim) => {
    const group = ctx.ledger.group('test');
    try {
      const x = rand(tokens * dim, dim, 4);
      const w = rand(dim, 3).map((v) => 1 + v * 0.2);
      const weight = f16Tensor(ctx, group, 'norm', w, [dim]);
      const xb = storage(ctx, group, 'x', x);
      const out = storage(ctx, group, 'out', x.length * 4);
      const kernel = new RmsNorm(ctx, { workgroupSize });
      const b = kernel.bind(weight, 1e-5, xb, out, stepUniform(ctx, group, tokens), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const { err, at } = maxRelErr(await readF32(ctx, out), cpuRmsNorm(x, asF16(w), dim, 1e-5));
      expect(err, `at ${at}`).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });
});
