// The three element-wise kernels (add.ts, bias-add.ts, glu.ts), each against its CPU reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { ResidualAdd } from './add.ts';
import { BiasAdd } from './bias-add.ts';
import { Glu } from './glu.ts';
import { asF16, f16Tensor, maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';
import { geluTanhRef, siluRef } from '../testing/matvec-reference.ts';

describe('element-wise kernels', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());
  const tokens = 3;
  const width = 131;
  const maxTokens = 5;

  it.each([1, 0.25])('add: x += %f · y for the first tokens rows', async (scale) => {
    const group = ctx.ledger.group('test');
    try {
      const x = rand(maxTokens * width, 1);
      const y = rand(maxTokens * width, 2);
      const xb = storage(ctx, group, 'x', x);
      const kernel = new ResidualAdd(ctx);
      const b = kernel.bind('t', xb, storage(ctx, group, 'y', y), width, stepUniform(ctx, group, tokens), group, scale);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const want = x.map((v, i) => (i < tokens * width ? Math.fround(v + Math.fround(scale * y[i])) : v));
      expect(Array.from(await readF32(ctx, xb))).toEqual(Array.from(want));
    } finally {
      group.destroy();
    }
  });

  it('bias_add: y[t] += fp16 bias', async () => {
    const group = ctx.ledger.group('test');
    try {
      const y = rand(maxTokens * width, 3);
      const bias = rand(width, 4);
      const yb = storage(ctx, group, 'y', y);
      const kernel = new BiasAdd(ctx);
      const b = kernel.bind(f16Tensor(ctx, group, 'b', bias, [width]), yb, stepUniform(ctx, group, tokens), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const b16 = asF16(bias);
      const want = y.map((v, i) => (i < tokens * width ? Math.fround(v + b16[i % width]) : v));
      expect(Array.from(await readF32(ctx, yb))).toEqual(Array.from(want));
    } finally {
      group.destroy();
    }
  });

  it.each([
    { activation: 'silu' as const, block: 8, act: siluRef },
    { activation: 'gelu_tanh' as const, block: 2, act: geluTanhRef },
  ])('glu ($activation): out = act(gate) · up over gate/up rows in blocks of $block', async ({ activation, block, act }) => {
    const group = ctx.ledger.group('test');
    try {
      const hidden = 24;
      const gu = rand(maxTokens * 2 * hidden, 5, 6);
      const out = storage(ctx, group, 'out', new Float32Array(maxTokens * hidden).fill(7));
      const kernel = new Glu(ctx);
      const b = kernel.bind('t', out, storage(ctx, group, 'gu', gu), hidden, block, activation, stepUniform(ctx, group, tokens), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const got = await readF32(ctx, out);
      const want = Array.from({ length: maxTokens * hidden }, (_, i) => {
        const [t, j] = [Math.floor(i / hidden), i % hidden];
        if (t >= tokens) return 7;
        const g = t * 2 * hidden + Math.floor(j / block) * 2 * block + (j % block);
        return act(gu[g]) * gu[g + block];
      });
      const { err, at } = maxRelErr(got, want);
      expect(err, `at ${at}`).toBeLessThan(1e-6);
    } finally {
      group.destroy();
    }
  });
});
