import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { RmsNorm } from './rmsnorm.ts';
import { asF16, f16Tensor, maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

/** RMSNorm of each row of `dim` values, x̂ · (w + offset), in float64. */
function cpuRmsNorm(x: Float32Array, w: Float32Array, dim: number, eps: number, offset = 0): Float64Array {
  const out = new Float64Array(x.length);
  for (let t = 0; t < x.length / dim; t++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[t * dim + i] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[t * dim + i] = (w[i] + offset) * x[t * dim + i] * inv;
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

  it('Gemma (1 + w), per head over head_dim (3 tokens × 4 heads × 32), only the rows of this forward', async () => {
    const [tokens, heads, dim] = [3, 4, 32];
    const group = ctx.ledger.group('test');
    try {
      // 5 tokens' worth of rows in the buffers: rows past 3 × 4 must stay as they were
      const x = rand(5 * heads * dim, 11, 3);
      const w = rand(dim, 12, 0.5);
      const out = storage(ctx, group, 'out', new Float32Array(x.length).fill(7));
      const kernel = new RmsNorm(ctx, { workgroupSize });
      const b = kernel.bind(f16Tensor(ctx, group, 'q_norm', w, [dim]), 1e-6, storage(ctx, group, 'x', x), out, stepUniform(ctx, group, tokens), group, {
        weightOffset: 1,
        rowsPerToken: heads,
      });
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const got = await readF32(ctx, out);
      const n = tokens * heads * dim;
      const { err, at } = maxRelErr(got.subarray(0, n), cpuRmsNorm(x.subarray(0, n), asF16(w), dim, 1e-6, 1));
      expect(err, `at ${at}`).toBeLessThan(2e-6);
      expect(got.subarray(n).every((v) => v === 7)).toBe(true);
    } finally {
      group.destroy();
    }
  });

  it('accumulates: out += scale · norm(x) (a post-norm and its residual add)', async () => {
    const [tokens, dim] = [4, 96];
    const group = ctx.ledger.group('test');
    try {
      const x = rand(tokens * dim, 21, 50);
      const residual = rand(tokens * dim, 22, 2);
      const w = rand(dim, 23).map((v) => 1 + v * 0.3);
      const out = storage(ctx, group, 'out', residual);
      const kernel = new RmsNorm(ctx, { workgroupSize });
      const b = kernel.bind(f16Tensor(ctx, group, 'post', w, [dim]), 1e-6, storage(ctx, group, 'x', x), out, stepUniform(ctx, group, tokens), group, {
        accumulate: { scale: 0.5 },
      });
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const normed = cpuRmsNorm(x, asF16(w), dim, 1e-6);
      const want = normed.map((v, i) => residual[i] + 0.5 * v);
      const { err, at } = maxRelErr(await readF32(ctx, out), want);
      expect(err, `at ${at}`).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });
});
