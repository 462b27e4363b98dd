// LLM.int8 run-time steps 1 and 2: outlier columns (Int8Outliers) and per-token quantization (Int8QuantizeX).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { int8TestActivations as activations, outlierColumnsRef, quantizeTokensRef, unexplainedInt8Diffs, unpackI8Rows } from '../testing/int8-reference.ts';
import { uniformData } from './dispatch.ts';
import { createOutlierBuffers, Int8Outliers } from './int8-outliers.ts';
import { createQuantizedActivations, Int8QuantizeX } from './int8-quantize-x.ts';

describe.each([
  { variant: 'one thread, no barriers', outliersWg: 1 as const, quantizeWg: 1 as const },
  { variant: 'workgroups with reductions', outliersWg: 256 as const, quantizeWg: 64 as const },
])('int8 activations ($variant): outlier columns and per-token quantization', ({ outliersWg, quantizeWg }) => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => {
    ctx?.device.destroy();
  });

  it.each([
    // tokens, maxTokens, k, threshold
    [1, 1, 37, 6],
    [1, 4, 300, 6],
    [1, 2, 300, 0],
    [5, 8, 37, 6],
    [6, 6, 300, 6],
    [5, 8, 300, 0],
    [3, 4, 40, 100],
  ])('tokens %i of %i, k %i, threshold %f', async (tokens, maxTokens, k, threshold) => {
    const group = ctx.ledger.group('test');
    try {
      const outliers = new Int8Outliers(ctx, { workgroupSize: outliersWg });
      const quantizeX = new Int8QuantizeX(ctx, { workgroupSize: quantizeWg });
      expect([outliers.workgroupSize, quantizeX.workgroupSize]).toEqual([outliersWg, quantizeWg]);
      const x = activations(maxTokens, k, tokens * 13 + k);
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      const xb = group.createBuffer({ label: 'x', size: x.byteLength, usage, category: 'activations' });
      ctx.device.queue.writeBuffer(xb, 0, x);
      const step = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
      ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', tokens], ['u32', 0], ['u32', tokens], ['u32', 0]]));
      const ob = createOutlierBuffers(group, k, 't');
      const act = createQuantizedActivations(group, k, maxTokens, 't');
      const b1 = outliers.bind(xb, k, threshold, step, ob, group, 't');
      const b2 = quantizeX.bind(xb, k, threshold, ob, act, step, group, 't');
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      // one token: quantizeX's `single` entry point writes the mask and list itself (must match Int8Outliers)
      if (tokens > 1) outliers.encode(pass, b1);
      quantizeX.encode(pass, b2, tokens);
      pass.end();
      ctx.device.queue.submit([enc.finish()]);

      const cols = outlierColumnsRef(x, tokens, k, threshold);
      if (threshold === 6) expect(cols).toEqual(tokens > 1 ? [3, 17, k - 1] : [3, 17]);
      if (threshold !== 6) expect(cols).toEqual([]);
      const mask = new Uint32Array(await readBuffer(ctx, ob.mask));
      expect(Array.from(mask)).toEqual(Array.from({ length: k }, (_, c) => (cols.includes(c) ? 1 : 0)));
      const list = new Uint32Array(await readBuffer(ctx, ob.list));
      expect(Array.from(list.subarray(0, 1 + cols.length))).toEqual([cols.length, ...cols]);

      const inliers = x.slice(0, tokens * k).map((v, i) => (cols.includes(i % k) ? 0 : v));
      const want = quantizeTokensRef(x, tokens, k, cols);
      const words = new Uint32Array(await readBuffer(ctx, act.xq, 0, tokens * Math.ceil(k / 4) * 4));
      const got = unpackI8Rows(words, tokens, k, Math.ceil(k / 4));
      const gotScales = new Float32Array(await readBuffer(ctx, act.sx, 0, tokens * 4));
      expect(unexplainedInt8Diffs(got, want, inliers, k, gotScales)).toEqual([]);
      for (const c of cols) for (let t = 0; t < tokens; t++) expect(got[t * k + c]).toBe(0);
    } finally {
      group.destroy();
    }
    expect(ctx.ledger.current).toBe(0);
  });
});
