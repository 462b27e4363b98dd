import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { uniformData } from './dispatch.ts';
import { Sampler, type SamplingOptions } from './sample.ts';
import { rand, runPass, stepUniform, storage } from './test-support.ts';

/** The set of ids the CPU reference allows: temperature → top-k (ties kept) → top-p (smallest top set reaching p). */
function cpuAllowed(logits: Float32Array, o: SamplingOptions): Set<number> {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  let kept = order;
  if (o.topK > 0 && o.topK < logits.length) kept = order.filter((i) => logits[i] >= logits[order[o.topK - 1]]);
  const w = kept.map((i) => Math.exp((logits[i] - logits[order[0]]) / o.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let mass = 0;
  const out = new Set<number>();
  for (let j = 0; j < kept.length; j++) {
    out.add(kept[j]);
    mass += w[j];
    if (mass >= o.topP * total * (1 - 1e-6) && (j + 1 === kept.length || logits[kept[j + 1]] < logits[kept[j]])) break;
  }
  return out;
}

describe('GPU sampling', () => {
  let ctx: GpuContext;
  let group: BufferGroup;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
    group = ctx.ledger.group('test');
  });
  afterAll(() => {
    group?.destroy();
    ctx?.device.destroy();
  });

  async function draw(sampler: Sampler, logits: Float32Array, o: SamplingOptions, draws: number, rowOffset = 0): Promise<number[]> {
    const padded = new Float32Array(rowOffset + logits.length).fill(1e9);
    padded.set(logits, rowOffset);
    const out = storage(ctx, group, 'out', 4);
    const step = stepUniform(ctx, group, 1, 0);
    const b = sampler.bind('t', storage(ctx, group, 'logits', padded), rowOffset, logits.length, out, step, group);
    sampler.setOptions(b, o);
    const ids: number[] = [];
    for (let i = 0; i < draws; i++) {
      ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', 1], ['u32', i], ['u32', i + 1], ['u32', 0]]));
      runPass(ctx, (pass) => sampler.encode(pass, b));
      ids.push(new Uint32Array(await readBuffer(ctx, out))[0]);
    }
    return ids;
  }

  it('greedy is argmax, lowest id among ties, at a row offset, over a vocab larger than the workgroup', async () => {
    const sampler = new Sampler(ctx);
    const logits = rand(5000, 11, 4);
    logits[4321] = 9;
    logits[777] = 9;
    expect(await draw(sampler, logits, { temperature: 0, topK: 0, topP: 1, seed: 1 }, 1, 3)).toEqual([777]);
    expect(await draw(sampler, logits, { temperature: 0.8, topK: 1, topP: 1, seed: 1 }, 1)).toEqual([777]);
  });

  it.each([
    { temperature: 1, topK: 3, topP: 1, seed: 5 },
    { temperature: 0.7, topK: 0, topP: 0.5, seed: 9 },
    { temperature: 1.5, topK: 20, topP: 0.9, seed: 1234 },
  ])('draws only what top-k/top-p allow (%o)', async (o) => {
    const sampler = new Sampler(ctx);
    const logits = rand(1000, 3, 3);
    const allowed = cpuAllowed(logits, o);
    const ids = await draw(sampler, logits, o, 40);
    for (const id of ids) expect(allowed.has(id), `id ${id}`).toBe(true);
    if (allowed.size > 1) expect(new Set(ids).size).toBeGreaterThan(1);
    // the same seed replays the same ids
    expect(await draw(sampler, logits, o, 40)).toEqual(ids);
  });

  it('follows the softmax distribution', async () => {
    const sampler = new Sampler(ctx);
    const p = [0.5, 0.3, 0.15, 0.05];
    const ids = await draw(sampler, new Float32Array(p.map(Math.log)), { temperature: 1, topK: 0, topP: 1, seed: 42 }, 400);
    for (let i = 0; i < p.length; i++) {
      const f = ids.filter((x) => x === i).length / ids.length;
      expect(Math.abs(f - p[i]), `id ${i}: ${f}`).toBeLessThan(0.08);
    }
  });
});
