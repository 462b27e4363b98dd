import { describe, expect, it } from 'vitest';
import { TokenSet } from '../kernels/repetition-penalty.ts';
import { applyRepetitionPenalty } from './repetition-penalty-reference.ts';

describe('repetition penalty (CPU reference)', () => {
  it("matches transformers' own test of RepetitionPenaltyLogitsProcessor", () => {
    // tests/generation/test_logits_process.py, test_repetition_penalty_dist_process: uniform logits 1/10 over a
    // vocabulary of 10, penalty 2.0; row 0 saw ids [0, 1] with scores[0, 0] = -1/10, row 1 saw [5, 0] with
    // scores[1, 5] = 4/10.
    const v = 10;
    const row0 = new Float32Array(v).fill(1 / v);
    row0[0] = -(1 / v);
    const row1 = new Float32Array(v).fill(1 / v);
    row1[5] = 4 / v;
    applyRepetitionPenalty(row0, [0, 1], 2);
    applyRepetitionPenalty(row1, [5, 0], 2);
    expect(row0[0]).toBeCloseTo(-(1 / v) * 2, 7);
    expect(row0[1]).toBeCloseTo(1 / v / 2, 7);
    expect(row1[0]).toBeCloseTo(1 / v / 2, 7);
    expect(row1[5]).toBeCloseTo(4 / v / 2, 7);
    // ids not in the sequence keep their logits
    expect(row0[2]).toBeCloseTo(1 / v, 7);
  });

  it('penalises an id once however often it occurs; a penalty below 1 rewards instead', () => {
    const l = new Float32Array([2, -2, 3]);
    applyRepetitionPenalty(l, [0, 0, 0, 1], 2);
    expect([...l]).toEqual([1, -4, 3]);
    applyRepetitionPenalty(l, [2], 0.5);
    expect(l[2]).toBe(6);
  });
});

describe('TokenSet', () => {
  it('holds ids as bits, grows past its vocabulary, and reports the words changed since it was last asked', () => {
    const s = new TokenSet(64);
    expect(s.takeChanged()).toEqual({ from: 0, to: 2 }); // a new set: everything is to be written once
    expect(s.takeChanged()).toBeNull();
    s.add(33);
    s.add(35);
    expect(s.has(33) && s.has(35) && !s.has(34)).toBe(true);
    expect(s.takeChanged()).toEqual({ from: 1, to: 2 });
    s.add(33); // already there: nothing changes
    expect(s.takeChanged()).toBeNull();
    s.add(200);
    expect(s.words.length).toBeGreaterThanOrEqual(7);
    expect(s.has(200)).toBe(true);
    expect(s.takeChanged()).toEqual({ from: 6, to: 7 });
    s.clear();
    expect(s.has(33)).toBe(false);
    expect(s.takeChanged()).toEqual({ from: 0, to: s.words.length });
  });
});
