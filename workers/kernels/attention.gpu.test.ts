import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { Attention, attentionPartialBytes, attentionScratchBytes, decodeChunkLength, type AttentionLayerOptions, type AttentionOptions } from './attention.ts';
import { maxRelErr, rand, readF32, runPass, stepUniform, storage } from '../testing/kernel-harness.ts';

interface Shape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  context: number;
}

/**
 * Causal softmax attention in float64: query t (position pos + t) over positions first..pos+t (all, or the last
 * `window`), position j in cache row j mod cacheRows, scores scale · q·k soft-capped; head h on KV head h/groups.
 */
function cpuAttention(s: Shape, q: Float32Array, kc: Float32Array, vc: Float32Array, tokens: number, pos: number, o: AttentionLayerOptions = {}): Float64Array {
  const { nHeads, nKvHeads, headDim: hd } = s;
  const scale = o.scale ?? 1 / Math.sqrt(hd);
  const rows = o.cacheRows ?? s.context;
  const out = new Float64Array(tokens * nHeads * hd);
  for (let t = 0; t < tokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / (nHeads / nKvHeads));
      const last = pos + t;
      const first = o.window ? Math.max(0, last - o.window + 1) : 0;
      const len = last - first + 1;
      const row = (j: number) => ((first + j) % rows) * nKvHeads + kvh;
      const sc = new Float64Array(len);
      for (let j = 0; j < len; j++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[(t * nHeads + h) * hd + i] * kc[row(j) * hd + i];
        sc[j] = o.softcap ? o.softcap * Math.tanh((d * scale) / o.softcap) : d * scale;
      }
      const m = Math.max(...sc);
      let sum = 0;
      for (let j = 0; j < len; j++) sum += sc[j] = Math.exp(sc[j] - m);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let j = 0; j < len; j++) acc += sc[j] * vc[row(j) * hd + i];
        out[(t * nHeads + h) * hd + i] = acc / sum;
      }
    }
  return out;
}

interface Data {
  q: Float32Array;
  kc: Float32Array;
  vc: Float32Array;
}

function testData(shape: Shape, tokens: number, cacheRows = shape.context): Data {
  const kvDim = shape.nKvHeads * shape.headDim;
  return {
    q: rand(tokens * shape.nHeads * shape.headDim, 1, 2),
    kc: rand(cacheRows * kvDim, 2, 2),
    vc: rand(cacheRows * kvDim, 3),
  };
}

/** Runs `kernel` on the data and returns the output rows of the `tokens` queries (the output starts as garbage). */
async function runAttention(
  ctx: GpuContext,
  group: BufferGroup,
  kernel: Attention,
  shape: Shape,
  d: Data,
  tokens: number,
  pos: number,
  kvLen?: number,
  layer: AttentionLayerOptions = {},
) {
  const out = storage(ctx, group, 'out', rand(d.q.length, 9, 1e6));
  const b = kernel.bind(
    't',
    shape,
    {
      q: storage(ctx, group, 'q', d.q),
      kCache: storage(ctx, group, 'kc', d.kc),
      vCache: storage(ctx, group, 'vc', d.vc),
      scores: storage(ctx, group, 'scores', attentionScratchBytes(shape, tokens)),
      out,
    },
    stepUniform(ctx, group, tokens, pos),
    group,
    layer,
  );
  runPass(ctx, (pass) => kernel.encode(pass, b, tokens, kvLen));
  return { out: await readF32(ctx, out), binding: b };
}

describe.each([
  { workgroupSize: undefined, name: 'default workgroup' },
  { workgroupSize: 64, name: '64 threads' },
])('causal attention over the KV cache, single pass ($name)', ({ workgroupSize }) => {
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
      const d = testData(shape, tokens);
      const kernel = new Attention(ctx, { workgroupSize, splitDecode: 'never' });
      const { out, binding } = await runAttention(ctx, group, kernel, shape, d, tokens, pos);
      expect(binding.split).toBeNull();
      const { err, at } = maxRelErr(out, cpuAttention(shape, d.q, d.kc, d.vc, tokens, pos));
      expect(err, `at ${at}`).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });
});

// Split-K decode, forced on every adapter (CPU adapters use the single pass by default) with short chunks so that
// small caches already span several of them.
describe.each([
  { workgroupSize: undefined, name: 'default workgroup' },
  { workgroupSize: 64, name: '64 threads' },
])('split-K decode attention ($name)', ({ workgroupSize }) => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  const mqa = { nHeads: 6, nKvHeads: 1, headDim: 48, context: 200 };
  const gqa = { nHeads: 8, nKvHeads: 2, headDim: 32, context: 100 };
  const wide = { nHeads: 2, nKvHeads: 2, headDim: 256, context: 64 };
  // chunks = min(ceil(context / minChunk), floor(splitWorkgroups / nHeads)); active = ceil(T / chunk length).
  it.each([
    { name: 'MQA, T=1 (one chunk: the split pass writes the output)', shape: mqa, minChunk: 4, splitWorkgroups: 48, T: 1, active: 1 },
    { name: 'MQA, T=5 (last chunk of 1)', shape: mqa, minChunk: 4, splitWorkgroups: 48, T: 5, active: 2 },
    { name: 'MQA, T=37 (chunk 5, last of 2)', shape: mqa, minChunk: 4, splitWorkgroups: 48, T: 37, active: 8 },
    { name: 'MQA, T=151 (chunk 19, last of 18)', shape: mqa, minChunk: 4, splitWorkgroups: 48, T: 151, active: 8 },
    { name: 'MQA, T=200 = context (chunk 25, exact)', shape: mqa, minChunk: 4, splitWorkgroups: 48, T: 200, active: 8 },
    { name: 'GQA, T=9 (chunk 8, last of 1)', shape: gqa, minChunk: 8, splitWorkgroups: 1024, T: 9, active: 2 },
    { name: 'GQA, T=100 = context (13 chunks, last of 4)', shape: gqa, minChunk: 8, splitWorkgroups: 1024, T: 100, active: 13 },
    { name: 'GQA, T=57, 3 chunks at most', shape: gqa, minChunk: 2, splitWorkgroups: 24, T: 57, active: 3 },
    { name: 'MHA, head_dim 256, T=64', shape: wide, minChunk: 16, splitWorkgroups: 1024, T: 64, active: 4 },
    { name: 'MHA, head_dim 256, T=50', shape: wide, minChunk: 16, splitWorkgroups: 1024, T: 50, active: 4 },
  ])('$name', async ({ shape, minChunk, splitWorkgroups, T, active }) => {
    const opts: AttentionOptions = { workgroupSize, minChunk, splitWorkgroups };
    const group = ctx.ledger.group('test');
    try {
      const d = testData(shape, 1);
      const split = new Attention(ctx, { ...opts, splitDecode: 'always' });
      const { out, binding } = await runAttention(ctx, group, split, shape, d, 1, T - 1);
      // the split path ran, over the chunks the case names
      expect(binding.split).not.toBeNull();
      const chunks = binding.split!.chunks;
      expect(Math.ceil(T / decodeChunkLength(T, chunks, minChunk))).toBe(active);
      expect(ctx.ledger.live().filter((b) => b.label.startsWith('attention.partials.')).map((b) => b.size)).toEqual([
        attentionPartialBytes(shape, chunks),
      ]);
      const want = cpuAttention(shape, d.q, d.kc, d.vc, 1, T - 1);
      const { err, at } = maxRelErr(out, want);
      expect(err, `against the reference, at ${at}`).toBeLessThan(2e-6);

      const single = new Attention(ctx, { ...opts, splitDecode: 'never' });
      const { out: one } = await runAttention(ctx, group, single, shape, d, 1, T - 1);
      const vs = maxRelErr(out, one);
      expect(vs.err, `against the single pass, at ${vs.at}`).toBeLessThan(2e-6);

      // told the cache length, a cache of one chunk takes the single pass (same values), a longer one the split
      const { out: told } = await runAttention(ctx, group, split, shape, d, 1, T - 1, T);
      const vsTold = maxRelErr(told, active === 1 ? one : out);
      expect(vsTold.err, `with kvLen, at ${vsTold.at}`).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });

  it('prefill (several queries) takes the single pass; layers of one group share one partials buffer', async () => {
    const shape = gqa;
    const tokens = 6;
    const pos = 40;
    const group = ctx.ledger.group('test');
    try {
      const d = testData(shape, tokens);
      const kernel = new Attention(ctx, { workgroupSize, splitDecode: 'always', minChunk: 4 });
      const { out, binding } = await runAttention(ctx, group, kernel, shape, d, tokens, pos);
      expect(binding.split).not.toBeNull();
      const { err, at } = maxRelErr(out, cpuAttention(shape, d.q, d.kc, d.vc, tokens, pos));
      expect(err, `at ${at}`).toBeLessThan(2e-6);
      await runAttention(ctx, group, kernel, shape, d, 1, pos);
      expect(ctx.ledger.live().filter((b) => b.label.startsWith('attention.partials.')).length).toBe(1);
    } finally {
      group.destroy();
    }
    expect(ctx.ledger.live().filter((b) => b.label.startsWith('attention.partials.'))).toEqual([]);
  });
});

// The recipe options: a score scale, Gemma 2's soft cap, a sliding window over a ring cache (prefill and decode past
// the window, the ring wrapped), on the single pass and on split-K decode.
describe('attention options: scale, soft cap, sliding window over a ring', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  const shape = { nHeads: 4, nKvHeads: 2, headDim: 16, context: 64 };
  it.each([
    { name: 'prefill chunk of 7 at pos 20, window 5, ring of 11 rows', tokens: 7, pos: 20, layer: { window: 5, cacheRows: 11 } },
    { name: 'prefill from 0 past the window (6 of 9 positions)', tokens: 9, pos: 0, layer: { window: 6, cacheRows: 14 } },
    { name: 'soft cap 1.5 and scale 0.9 on global attention', tokens: 5, pos: 3, layer: { softcap: 1.5, scale: 0.9 } },
    { name: 'all of them, decode at pos 50 with window 4', tokens: 1, pos: 50, layer: { window: 4, cacheRows: 4, softcap: 2, scale: 0.3 } },
  ])('single pass: $name', async ({ tokens, pos, layer }) => {
    const group = ctx.ledger.group('test');
    try {
      const d = testData(shape, tokens, layer.cacheRows);
      const kernel = new Attention(ctx, { splitDecode: 'never' });
      const { out } = await runAttention(ctx, group, kernel, shape, d, tokens, pos, undefined, layer);
      const { err, at } = maxRelErr(out, cpuAttention(shape, d.q, d.kc, d.vc, tokens, pos, layer));
      expect(err, `at ${at}`).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });

  it.each([
    { name: 'window 40 of a 64-position cache, ring of 40, pos 100', pos: 100, layer: { window: 40, cacheRows: 40, softcap: 3 } },
    { name: 'window 24, pos 10 (inside the window)', pos: 10, layer: { window: 24, cacheRows: 24 } },
  ])('split-K decode: $name', async ({ pos, layer }) => {
    const group = ctx.ledger.group('test');
    try {
      const d = testData(shape, 1, layer.cacheRows);
      const split = new Attention(ctx, { splitDecode: 'always', minChunk: 4 });
      const { out, binding } = await runAttention(ctx, group, split, shape, d, 1, pos, undefined, layer);
      expect(binding.split).not.toBeNull();
      const { err, at } = maxRelErr(out, cpuAttention(shape, d.q, d.kc, d.vc, 1, pos, layer));
      expect(err, `at ${at}`).toBeLessThan(2e-6);
      // told the cache length, a window shorter than one chunk would take the single pass; these span several
      const { out: told } = await runAttention(ctx, group, split, shape, d, 1, pos, pos + 1, layer);
      expect(maxRelErr(told, out).err).toBeLessThan(2e-6);
    } finally {
      group.destroy();
    }
  });
});
