// A conversation's second turn on kjv-llama, through generate() and the GPU transformer: it prefills only the tokens
// the KV cache lacks (the common prefix with the first turn's sequence is kept), and the logits it samples from
// equal those of a fresh prefill of the whole conversation — with and without the repetition penalty, whose ids
// (the whole sequence) must be the same either way.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, GenerateOptions } from '../api.ts';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import type { SamplingParams } from '../kernels/sample.ts';
import { kjv, reference } from '../testing/kjv.ts';
import { loadModelWeights, type LoadedModelWeights } from '../testing/model-weights.ts';
import { applyRepetitionPenalty } from '../testing/repetition-penalty-reference.ts';
import { CachedSequence } from './cached-sequence.ts';
import { parseConfig } from './config.ts';
import { generate, type TokenModel } from './generate.ts';
import { Transformer } from './transformer.ts';
import { buildWeights, fp16LinearFactory } from './weights.ts';

const DIR = '../shared/models/kjv-llama';

/** The transformer, with each prefill recorded. */
class Recorded implements TokenModel {
  prefills: { ids: number[]; pos: number }[] = [];
  constructor(readonly t: Transformer) {}
  get contextLength() {
    return this.t.contextLength;
  }
  reset() {
    this.t.reset();
  }
  prefill(ids: readonly number[], pos: number, s: SamplingParams) {
    this.prefills.push({ ids: [...ids], pos });
    return this.t.prefill(ids, pos, s);
  }
  step(id: number, pos: number, s: SamplingParams) {
    return this.t.step(id, pos, s);
  }
}

describe('a second turn reuses the KV cache of the common prefix (kjv-llama, fp16)', () => {
  let ctx: GpuContext;
  let w: LoadedModelWeights;
  let model: Recorded;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
    w = await loadModelWeights(ctx, DIR);
    const config = parseConfig(JSON.parse(readFileSync(`${DIR}/config.json`, 'utf8')));
    model = new Recorded(new Transformer(ctx, config, buildWeights(config, w.tensors, fp16LinearFactory(ctx)), { contextLength: 256 }));
  });
  afterAll(async () => {
    model?.t.destroy();
    await w?.close();
    ctx?.device.destroy();
  });

  /** Turn 1 on `sequence`; returns turn 2's messages (turn 1 with its reply and a new user message). */
  async function firstTurn(sequence: CachedSequence): Promise<ChatMessage[]> {
    const turn1: ChatMessage[] = [{ role: 'user', content: reference.prompts[0].text }];
    let reply = '';
    const s1 = await generate(model, kjv, turn1, { maxTokens: 12, temperature: 0 }, (e) => (reply += e.text), { sequence });
    expect(s1).toMatchObject({ reusedTokens: 0, generatedTokens: 12 });
    expect(reply).toBe(kjv.decode(reference.prompts[0].greedy_ids.slice(0, 12)));
    return [...turn1, { role: 'assistant', content: reply }, { role: 'user', content: '\nAnd the LORD said unto Moses,' }];
  }

  async function secondTurnLogits(opts: GenerateOptions) {
    const sequence = new CachedSequence(4096);
    const turn2 = await firstTurn(sequence);
    const before = sequence.tokens();
    model.prefills.length = 0;
    const s2 = await generate(model, kjv, turn2, { ...opts, maxTokens: 1 }, () => {}, { sequence });
    const reused = await model.t.lastLogits();
    const full = kjv.encode(turn2.map((m) => m.content).join(''));
    const kept = s2.reusedTokens;

    // a fresh sequence: the whole conversation prefilled from position 0
    model.prefills.length = 0;
    const fresh = await generate(model, kjv, turn2, { ...opts, maxTokens: 1 }, () => {}, { sequence: new CachedSequence(4096) });
    expect(fresh.reusedTokens).toBe(0);
    expect(model.prefills).toEqual([{ ids: full, pos: 0 }]);
    return { s2, full, kept, before, reused, whole: await model.t.lastLogits() };
  }

  function maxAbsDiff(a: Float32Array, b: Float32Array): number {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }

  const argmax = (l: Float32Array) => l.indexOf(Math.max(...l));

  it('prefills only the new tokens, at the position after the kept ones, and samples from the same logits', async () => {
    const { s2, full, kept, before, reused, whole } = await secondTurnLogits({ temperature: 0 });
    // turn 1 left its prompt and 11 fed-back ids in the cache; the reply re-tokenised inside turn 2 matches them
    expect(before.length).toBe(reference.prompts[0].ids.length + 11);
    let common = 0;
    while (common < before.length && before[common] === full[common]) common++;
    expect(kept).toBe(common);
    expect(kept).toBeGreaterThanOrEqual(12);
    expect(s2).toMatchObject({ promptTokens: full.length, reusedTokens: kept });
    // the recorded turn-2 prefill (the first after firstTurn's) held only the ids after the kept prefix
    expect(full.length - kept).toBeLessThan(full.length / 2);
    // On these adapters the two are bit-identical; on a GPU the decode steps that filled the cache run other kernels
    // than a prefill (split-K attention, matrix-vector products), which may round differently.
    expect(maxAbsDiff(reused, whole)).toBeLessThanOrEqual(2e-3);
    expect(argmax(reused)).toBe(argmax(whole));
  });

  it('the prefill of turn 2 is what the cache lacked', async () => {
    const sequence = new CachedSequence(4096);
    const turn2 = await firstTurn(sequence);
    model.prefills.length = 0;
    const s2 = await generate(model, kjv, turn2, { temperature: 0, maxTokens: 1 }, () => {}, { sequence });
    const full = kjv.encode(turn2.map((m) => m.content).join(''));
    expect(model.prefills).toEqual([{ ids: full.slice(s2.reusedTokens), pos: s2.reusedTokens }]);
    expect(sequence.tokens()).toEqual(full);
  });

  it('with the repetition penalty: the same penalised logits either way, equal to the reference penalty on the fresh logits', async () => {
    const plain = await secondTurnLogits({ temperature: 0 });
    const { reused, whole, full } = await secondTurnLogits({ temperature: 0, repetitionPenalty: 1.3 });
    expect(maxAbsDiff(reused, whole)).toBeLessThanOrEqual(2e-3);
    const want = plain.whole.slice();
    applyRepetitionPenalty(want, full, Math.fround(1.3));
    expect(maxAbsDiff(whole, want)).toBeLessThanOrEqual(1e-5);
    // the penalty changed something that matters
    expect(maxAbsDiff(whole, plain.whole)).toBeGreaterThan(0.1);
  });
});
