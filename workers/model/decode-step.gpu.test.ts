// What one decode step records: on kjv-llama (6 layers) at most 42 dispatches in fp16 and 54 in int8 (the int8 products
// quantize x themselves, so both take the same count), in one compute pass; and steps fed on the GPU by the id the
// previous forward sampled (queueStep, submitted before that id is read back) give the same greedy ids as steps fed
// from the CPU and as the reference.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { GREEDY } from '../kernels/sample.ts';
import { loadModelWeights } from '../testing/model-weights.ts';
import { readReference } from '../testing/reference-check.ts';
import { parseConfig } from './config.ts';
import { int8LinearFactory } from './int8-linear.ts';
import { Transformer } from './transformer.ts';
import { buildWeights, fp16LinearFactory } from './weights.ts';

const MODELS = '../shared/models';

async function model(ctx: GpuContext, name: string, precision: 'fp16' | 'int8') {
  const dir = `${MODELS}/${name}`;
  const config = parseConfig(JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')));
  const loaded = await loadModelWeights(ctx, dir, { precision });
  const fp16 = fp16LinearFactory(ctx);
  const weights = buildWeights(config, loaded.tensors, precision === 'int8' ? int8LinearFactory(ctx, fp16) : fp16);
  const t = new Transformer(ctx, config, weights, { contextLength: 64, maxTokens: 16 });
  return { t, config, dir, close: async () => (t.destroy(), await loaded.close()) };
}

describe('a decode step', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    ['fp16', 42],
    ['int8', 54],
  ] as const)('kjv-llama %s: at most %i dispatches, one pass, fed from the CPU or the GPU alike', async (precision, most) => {
    const m = await model(ctx, 'kjv-llama', precision);
    try {
      const ids = readReference(m.dir).cases[0].ids;
      const first = await m.t.prefill(ids, 0, GREEDY);
      const counts: { dispatches: number; passes: number }[] = [];
      await m.t.step(first, ids.length, GREEDY);
      counts.push({ ...m.t.lastForward });
      await m.t.queueStep(ids.length + 1, GREEDY);
      counts.push({ ...m.t.lastForward });
      // embedding, per layer q/k/v, attention (split decode: 2), o, gate/up, down, then lm_head and sampling
      const attention = ctx.software ? 1 : 2;
      for (const c of counts) {
        expect(c.dispatches).toBeLessThanOrEqual(most);
        expect(c.dispatches).toBeLessThanOrEqual(1 + m.config.nLayers * (4 + attention) + 2);
        expect(c.passes).toBe(1);
      }
      expect(counts[0].dispatches).toBe(counts[1].dispatches);
    } finally {
      await m.close();
    }
  });

  it.each(['fp16', 'int8'] as const)('random/llama-gqa-bf16 %s: GPU-fed steps queued ahead give the CPU-fed greedy ids', async (precision) => {
    const m = await model(ctx, 'random/llama-gqa-bf16', precision);
    try {
      const ref = readReference(m.dir).cases[0];
      const n = ref.greedy_ids.length;
      const fed = [await m.t.prefill(ref.ids, 0, GREEDY)];
      for (let i = 1; i < n; i++) fed.push(await m.t.step(fed[i - 1], ref.ids.length + i - 1, GREEDY));
      // the same, every step submitted before the previous one's id was read back
      const queued = [await m.t.prefill(ref.ids, 0, GREEDY)];
      const pending = Array.from({ length: n - 1 }, (_, i) => m.t.queueStep(ref.ids.length + i, GREEDY));
      queued.push(...(await Promise.all(pending)));
      expect(queued).toEqual(fed);
      if (precision === 'fp16') expect(fed).toEqual(ref.greedy_ids);
    } finally {
      await m.close();
    }
  });
});
