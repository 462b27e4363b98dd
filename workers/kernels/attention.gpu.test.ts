import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { Attention, attentionScratchBytes } from './attention.ts';
import { maxRelErr, rand, readF32, runPass, stepUniform, storage } from './test-support.ts';

interface Shape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  context: number;
}

/** Causal softmax attention in float64: query t (position pos + t) over cache rows 0..pos+t, head h on KV head h/groups. */
function cpuAttention(s: Shape, q: Float32Array, kc: Float32Array, vc: Float32Array, tokens: number, pos: number): Float64Array {
  const { nHeads, nKvHeads, headDim: hd } = s;
  const out = new Float64Array(tokens * nHeads * hd);
  for (let t = 0; t < tokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / (nHeads / nKvHeads));
      const len = pos + t + 1;
      const sc = new Float64Array(len);
      for (let j = 0; j < len; j++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[(t * nHeads + h) * hd + i] * kc[(j * nKvHeads + kvh) * hd + i];
        sc[j] = d / Math.sqrt(hd);
      }
      const m = Math.max(...sc);
      let sum = 0;
      for (let j = 0; j < len; j++) sum += sc[j] = Math.exp(sc[j] - m);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let j = 0; j < len; j++) acc += sc[j] * vc[(j * nKvHeads + kvh) * hd + i];
        out[(t * nHeads + h) * hd + i] = acc / sum;
      }
    }
  return out;
}

describe.each([
  { workgroupSize: undefined, name: 'default workgroup' },
  { workgroupSize: 64, name: '64 threads' },
])('causal attention over the KV cache ($name)', ({ workgroupSize }) => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    { name: 'prefill from 0, GQA', nHeads: 4, nKvHeads: 2, headDim: 16, context: 40, tokens: 7, pos: 0 },
    { name: 'prefill chunk at pos 9, MHA', nHeads: 2, nKvHeads: 2, headDim: 32, context: 40, tokens: 5, pos: 9 },
    { name: 'decode, MQA, head_dim 48', nHeads: 6, nKvHeads: 1, headDim: 48, context: 200, tokens: 1, pos: 150 },
  ])('$name', async ({ tokens, pos, ...shape }) => {
    const group = ctx.ledger.group('test');
    try {
      const kvDim = shape.nKvHeads * shape.headDim;
      const q = rand(tokens * shape.nHeads * shape.headDim, 1, 2);
      const kc = rand(shape.context * kvDim, 2, 2);
      const vc = rand(shape.context * kvDim, 3);
      const out = storage(ctx, group, 'out', q.byteLength);
      const kernel = new Attention(ctx, { workgroupSize });
      const b = kernel.bind(
        't',
        shape,
        {
          q: storage(ctx, group, 'q', q),
          kCache: storage(ctx, group, 'kc', kc),
          vCache: storage(ctx, group, 'vc', vc),
          scores: storage(ctx, group, 'scores', attentionScratchBytes(shape, tokens)),
          out,
        },
        stepUniform(ctx, group, tokens, pos),
        group,
      );
      runPass(ctx, (pass) => kernel.encode(pass, b, tokens));
      const { err, at } = maxRelErr(await readF32(ctx, out), cpuAttention(shape, q, kc, vc, tokens, pos));
      expect(err, `at ${at}`).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });
});
