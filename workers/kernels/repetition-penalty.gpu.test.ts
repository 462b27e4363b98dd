import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { rand, runPass, storage } from '../testing/kernel-harness.ts';
import { applyRepetitionPenalty } from '../testing/repetition-penalty-reference.ts';
import { RepetitionPenalty, TokenSet, tokenSetBytes } from './repetition-penalty.ts';

// Against the CPU reference of transformers' RepetitionPenaltyLogitsProcessor (workers/testing/
// repetition-penalty-reference.ts). Multiplication is exact in both; WGSL allows division 2.5 ULP of error, so a
// divided logit may differ from the correctly rounded quotient by that much.

describe('GPU repetition penalty', () => {
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

  function expectUlps(got: Float32Array, want: Float32Array, ulps: number): void {
    for (let i = 0; i < want.length; i++) {
      const tol = Math.abs(want[i]) * 2 ** -23 * ulps;
      if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`logit ${i}: ${got[i]} vs the reference ${want[i]}`);
    }
  }

  it('penalises exactly the ids in the set, once each, at a row offset, over a vocab past one workgroup; updates follow the set', async () => {
    const vocab = 5003;
    const offset = 7;
    const logits = rand(vocab, 5, 8);
    logits[0] = 0; // zero stays zero
    const padded = new Float32Array(offset + vocab + 3).fill(123);
    padded.set(logits, offset);
    const penalty = Math.fround(1.3);
    const kernel = new RepetitionPenalty(ctx);
    const buf = storage(ctx, group, 'logits', padded);
    const seen = storage(ctx, group, 'seen', tokenSetBytes(vocab));
    const b = kernel.bind('t', buf, offset, vocab, seen, group);
    kernel.setPenalty(b, penalty);

    const set = new TokenSet(vocab);
    const ids = [0, 1, 31, 32, 33, 1000, 4095, 4096, 5002, 1000, 1000];
    set.addAll(ids);
    kernel.upload(b, set);
    runPass(ctx, (pass) => kernel.encode(pass, b));
    const got = new Float32Array(await readBuffer(ctx, buf));
    const want = logits.slice();
    applyRepetitionPenalty(want, ids, penalty);
    expectUlps(got.subarray(offset, offset + vocab), want, 3);
    expect([...got.subarray(0, offset), ...got.subarray(offset + vocab)]).toEqual(Array(offset + 3).fill(123));
    // negative logits are multiplied, positive divided
    expect(want[1000]).not.toBe(logits[1000]);

    // a second pass after more ids: only what changed is uploaded, and the already-penalised ids are penalised again
    set.add(2500);
    expect(set.takeChanged()).toEqual({ from: 78, to: 79 });
    set.add(2500 + 32);
    kernel.upload(b, set);
    runPass(ctx, (pass) => kernel.encode(pass, b));
    const again = new Float32Array(await readBuffer(ctx, buf)).subarray(offset, offset + vocab);
    // 2500's word was taken above and not uploaded: the GPU copy lacks it, and only 2532 is new
    applyRepetitionPenalty(want, [...new Set(ids), 2532], penalty);
    expectUlps(again, want, 6);
  });

  it('a penalty below 1 raises the seen logits (the processor allows any positive penalty)', async () => {
    const logits = new Float32Array([2, -2, 3, -3]);
    const kernel = new RepetitionPenalty(ctx);
    const buf = storage(ctx, group, 'logits', logits);
    const b = kernel.bind('t', buf, 0, 4, storage(ctx, group, 'seen', tokenSetBytes(4)), group);
    kernel.setPenalty(b, 0.5);
    const set = new TokenSet(4);
    set.addAll([0, 1]);
    kernel.upload(b, set);
    runPass(ctx, (pass) => kernel.encode(pass, b));
    expect([...new Float32Array(await readBuffer(ctx, buf))]).toEqual([4, -1, 3, -3]);
  });
});
