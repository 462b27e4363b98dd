import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { Mulberry32 } from '../model/mulberry32.ts';
import { sample } from '../testing/sampler-reference.ts';
import { Sampler, type SamplingParams } from './sample.ts';
import { rand, runPass, storage } from '../testing/kernel-harness.ts';

// The CPU reference is workers/testing/sampler-reference.ts's sample(): same rules, same uniform draw u.

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

  /** Draws with each u in turn; returns the GPU's ids. */
  async function draw(logits: Float32Array, o: Omit<SamplingParams, 'u'>, us: number[], rowOffset = 0): Promise<number[]> {
    const sampler = new Sampler(ctx);
    const padded = new Float32Array(rowOffset + logits.length).fill(1e9);
    padded.set(logits, rowOffset);
    const out = storage(ctx, group, 'out', 4);
    const b = sampler.bind('t', storage(ctx, group, 'logits', padded), rowOffset, logits.length, out, group);
    const ids: number[] = [];
    for (const u of us) {
      sampler.setOptions(b, { ...o, u });
      runPass(ctx, (pass) => sampler.encode(pass, b));
      ids.push(new Uint32Array(await readBuffer(ctx, out))[0]);
    }
    return ids;
  }

  it('greedy is argmax, lowest id among ties, at a row offset, over a vocab larger than the workgroup', async () => {
    const logits = rand(5000, 11, 4);
    logits[4321] = 9;
    logits[777] = 9;
    expect(await draw(logits, { temperature: 0, topK: 0, topP: 1 }, [0.5], 3)).toEqual([777]);
    expect(await draw(logits, { temperature: 0.8, topK: 1, topP: 1 }, [0.5])).toEqual([777]);
  });

  it.each([
    { temperature: 1, topK: 3, topP: 1 },
    { temperature: 0.7, topK: 0, topP: 0.5 },
    { temperature: 1.5, topK: 20, topP: 0.9 },
    { temperature: 1, topK: 0, topP: 1 },
  ])('picks what the CPU reference picks for the same u (%o)', async (o) => {
    const logits = rand(1000, 3, 3);
    logits[10] = logits[20] = logits[30] = 2.9999; // ties in the order: the lower id comes first
    const rng = new Mulberry32(7);
    const us = Array.from({ length: 24 }, () => rng.nextUniform());
    us.push(0, 1 - 2 ** -24);
    const got = await draw(logits, o, us);
    const want = us.map((u) => sample(logits, { ...o, u }));
    expect(got).toEqual(want);
  });

  it('keeps exactly top_k ids when the k-th value is tied', async () => {
    const logits = new Float32Array([1, 5, 3, 5, 5, 0]);
    const us = [0, 0.3, 0.6, 0.99];
    const o = { temperature: 1, topK: 2, topP: 1 };
    expect(await draw(logits, o, us)).toEqual(us.map((u) => sample(logits, { ...o, u })));
    expect(new Set(await draw(logits, o, us))).toEqual(new Set([1, 3]));
  });
});
