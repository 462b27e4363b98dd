// Sliding-window attention past the window: prompts several windows long, prefilled in chunks through the ring KV
// cache (window − 1 + chunk rows, wrapped several times), then decoded step by step past it, against the float64 CPU
// reference forward (testing/reference-forward.ts), which recomputes the whole sequence with the window as a mask and
// shares no kernel with the GPU path.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { GREEDY } from '../kernels/sample.ts';
import { kvCacheRows, parseConfig } from './config.ts';
import { loadModelWeights } from '../testing/model-weights.ts';
import { ReferenceModel } from '../testing/reference-forward.ts';
import { kvCacheLayout } from './run-state.ts';
import { Transformer } from './transformer.ts';
import { buildWeights, fp16LinearFactory } from './weights.ts';

const FAMILIES = '../shared/models/families';
const PROMPT = 40;
const STEPS = 8;
const CHUNK = 8;
const CONTEXT = 64;

/** Deterministic prompt ids in [0, vocab). */
function promptIds(vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: PROMPT }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

function maxAbs(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < want.length; j++) m = Math.max(m, Math.abs(got[j] - want[j]));
  return m;
}

const argmax = (row: ArrayLike<number>) => {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
};

describe('sliding-window attention past the window, against the float64 reference', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => ctx?.device.destroy());

  it.each([
    { name: 'gemma2-a-bf16 (window 4 on layers 0, 2; soft caps)', dir: 'gemma2-a-bf16', patch: {} },
    { name: 'gemma3-a-bf16 (window 4 on 5 of 6 layers, local RoPE)', dir: 'gemma3-a-bf16', patch: {} },
    {
      name: 'qwen3-a-bf16 with use_sliding_window (window 5 from layer 1: Qwen-style)',
      dir: 'qwen3-a-bf16',
      patch: { use_sliding_window: true, sliding_window: 5, max_window_layers: 1 },
    },
  ])('$name: a 40-token prompt in chunks of 8, then 8 decode steps', async ({ dir, patch }) => {
    const path = `${FAMILIES}/${dir}`;
    const config = parseConfig({ ...JSON.parse(readFileSync(`${path}/config.json`, 'utf8')), ...patch });
    const windows = config.layers.map((l) => l.window);
    expect(windows.some((w) => w !== null && w < PROMPT)).toBe(true);
    const reference = ReferenceModel.fromDir(path, CONTEXT, patch);
    const ids = promptIds(config.vocabSize, config.vocabSize + PROMPT);
    const want = reference.logits(ids);
    const steps = reference.greedySteps(ids, STEPS);

    const loaded = await loadModelWeights(ctx, path);
    const t = new Transformer(ctx, config, buildWeights(config, loaded.tensors, fp16LinearFactory(ctx)), {
      contextLength: CONTEXT,
      maxTokens: CHUNK,
      allLogits: true,
    });
    try {
      // each sliding layer keeps a ring of window − 1 + chunk rows, wrapped several times by 48 positions (keys and
      // values in one buffer per layer)
      const bytes = (l: number) => ctx.ledger.live().find((b) => b.label === `run.kv.${l}`)!.size;
      const layout = (rows: number) => kvCacheLayout(rows, config.kvDim, ctx.limits.minStorageBufferOffsetAlignment).bytes;
      windows.forEach((w, l) => expect(bytes(l)).toBe(layout(w === null ? CONTEXT : kvCacheRows(w, CONTEXT, CHUNK))));

      // prefill: every position's logits
      const V = config.vocabSize;
      const got = await t.logits(ids, 0);
      want.forEach((row, p) => {
        const g = got.subarray(p * V, (p + 1) * V);
        expect(maxAbs(g, row), `position ${p}`).toBeLessThanOrEqual(0.03);
        expect(argmax(g), `position ${p}`).toBe(argmax(row));
      });
      // decode, one token at a time past the window, each step's logits
      let pos = ids.length - 1;
      let token = ids[pos];
      await t.logits(ids.slice(0, -1), 0);
      for (const step of steps) {
        const row = await t.logits([token], pos);
        expect(maxAbs(row, step.logits), `decode at ${pos}`).toBeLessThanOrEqual(0.03);
        expect(argmax(row), `decode at ${pos}`).toBe(step.id);
        token = step.id;
        pos++;
      }
      // and greedy generation as the engine runs it: prefill, then sampled steps
      const greedy = [await t.prefill(ids, 0, GREEDY)];
      for (let i = 1; i < STEPS; i++) greedy.push(await t.step(greedy[i - 1], ids.length + i - 1, GREEDY));
      expect(greedy).toEqual(steps.map((s) => s.id));
    } finally {
      t.destroy();
      await loaded.close();
    }
  });
});
