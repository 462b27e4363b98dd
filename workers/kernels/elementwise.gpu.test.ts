// The element-wise kernels (add.ts, bias-add.ts, glu.ts, final-logits.ts), each against its CPU reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { ResidualAdd } from './add.ts';
import { BiasAdd } from './bias-add.ts';
import { FinalLogits } from './final-logits.ts';
import { Glu } from './glu.ts';
import { asF16, f16Tensor, maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

describe('element-wise kernels', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());
  const tokens = 3;
  const width = 131;
  const maxTokens = 5;

  it('add: x += y for the first tokens rows', async () => {
    const group = ctx.ledger.group('test');
    try {
      const x = rand(maxTokens * width, 1);
      const y = rand(maxTokens * width, 2);
      const xb = storage(ctx, group, 'x', x);
      const kernel = new ResidualAdd(ctx);
      const b = kernel.bind('t', xb, storage(ctx, group, 'y', y), width, stepUniform(ctx, group, tokens), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const want = x.map((v, i) => (i < tokens * width ? Math.fround(v + y[i]) : v));
      expect(Array.from(await readF32(ctx, xb))).toEqual(Array.from(want));
    } finally {
      group.destroy();
    }
  });

  it('add with a residual scale (Granite): x += 0.22 · y', async () => {
    const group = ctx.ledger.group('test');
    try {
      const x = rand(maxTokens * width, 1);
      const y = rand(maxTokens * width, 2);
      const xb = storage(ctx, group, 'x', x);
      const kernel = new ResidualAdd(ctx);
      const b = kernel.bind('t', xb, storage(ctx, group, 'y', y), width, stepUniform(ctx, group, tokens), group, 0.22);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const want = Array.from(x, (v, i) => (i < tokens * width ? v + 0.22 * y[i] : v));
      const { err, at } = maxRelErr(await readF32(ctx, xb), want);
      expect(err, `at ${at}`).toBeLessThan(1e-6);
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
    { activation: 'silu' as const, block: 8, act: (v: number) => v / (1 + Math.exp(-v)) },
    // GeGLU (Gemma): finite far past where tanh saturates
    { activation: 'gelu_tanh' as const, block: 2, act: (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))) },
  ])('glu ($activation): out = act(gate) · up over gate/up rows in blocks of $block', async ({ activation, block, act }) => {
    const group = ctx.ledger.group('test');
    try {
      const hidden = 24;
      const gu = rand(maxTokens * 2 * hidden, 5, 12);
      gu[0] = 80;
      gu[1] = -80;
      const out = storage(ctx, group, 'out', new Float32Array(maxTokens * hidden).fill(7));
      const kernel = new Glu(ctx);
      const b = kernel.bind('t', out, storage(ctx, group, 'gu', gu), hidden, block, activation, stepUniform(ctx, group, tokens), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const want = Array.from({ length: maxTokens * hidden }, (_, i) => {
        const [t, j] = [Math.floor(i / hidden), i % hidden];
        if (t >= tokens) return 7;
        const g = t * 2 * hidden + Math.floor(j / block) * 2 * block + (j % block);
        return act(gu[g]) * gu[g + block];
      });
      const { err, at } = maxRelErr(await readF32(ctx, out), want);
      expect(err, `at ${at}`).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });

  it.each([
    { name: 'soft cap 30 (Gemma 2)', scale: 1, cap: 30 },
    { name: 'scale 1/8 (Granite)', scale: 1 / 8, cap: null },
  ])('final logits: $name', async ({ scale, cap }) => {
    const group = ctx.ledger.group('test');
    try {
      const l = rand(maxTokens * width, 9, 200);
      const lb = storage(ctx, group, 'logits', l);
      const kernel = new FinalLogits(ctx);
      const b = kernel.bind('t', lb, width, scale, cap, stepUniform(ctx, group, tokens), group);
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const want = Array.from(l, (v, i) => (i >= tokens * width ? v : cap === null ? v * scale : cap * Math.tanh((v * scale) / cap)));
      const { err, at } = maxRelErr(await readF32(ctx, lb), want);
      // WGSL's tanh is not correctly rounded: SwiftShader's is within about 12 ulp of 1 (1.4e-6 measured)
      expect(err, `at ${at}`).toBeLessThan(cap === null ? 1e-6 : 3e-6);
    } finally {
      group.destroy();
    }
  });
});
