import { describe, expect, it } from 'vitest';
import { Mulberry32 } from '../model/mulberry32.ts';
import { argmax, sample } from './sampler-reference.ts';

// Probabilities 0.5, 0.3, 0.2 (weights 1, 0.6, 0.4 relative to the largest) with a decoy of -inf.
const LOGITS = Float32Array.from([Math.log(0.3), Math.log(0.5), -Infinity, Math.log(0.2)]);
const at = (u: number, temperature = 1, topK = 0, topP = 1) => sample(LOGITS, { temperature, topK, topP, u });

describe('CPU sampler', () => {
  it('argmax takes the lowest index on ties', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax(Float32Array.from([-5, -1, -1e9]))).toBe(1);
  });

  it('is greedy at temperature 0 or top-k 1, whatever u is', () => {
    for (const u of [0, 0.5, 0.999]) {
      expect(at(u, 0)).toBe(1);
      expect(at(u, 1, 1)).toBe(1);
    }
  });

  it('walks the cumulative distribution in descending order', () => {
    // Order 1 (0.5), 0 (0.3), 3 (0.2): boundaries at u = 0.5 and 0.8.
    expect(at(0)).toBe(1);
    expect(at(0.49)).toBe(1);
    expect(at(0.51)).toBe(0);
    expect(at(0.79)).toBe(0);
    expect(at(0.81)).toBe(3);
    expect(at(0.9999)).toBe(3);
  });

  it('applies temperature to the logits before the softmax', () => {
    // T = 2: weights 1, sqrt(0.6), sqrt(0.4) = 1, 0.7746, 0.6325; sum 2.4071; boundaries at 0.4154 and 0.7372.
    expect(at(0.41, 2)).toBe(1);
    expect(at(0.42, 2)).toBe(0);
    expect(at(0.73, 2)).toBe(0);
    expect(at(0.74, 2)).toBe(3);
  });

  it('keeps the top k and renormalises', () => {
    // k = 2: tokens 1, 0 with mass 0.5/0.8 = 0.625 and 0.375.
    expect(at(0.62, 1, 2)).toBe(1);
    expect(at(0.63, 1, 2)).toBe(0);
    expect(at(0.9999, 1, 2)).toBe(0);
    expect(at(0.9999, 1, 99)).toBe(3); // k beyond the vocabulary keeps all
  });

  it('keeps the shortest prefix whose mass reaches top-p', () => {
    expect(at(0.9999, 1, 0, 0.5)).toBe(1); // 0.5 already reaches 0.5
    expect(at(0.9999, 1, 0, 0.6)).toBe(0); // needs 1 and 0 (0.8)
    expect(at(0.62, 1, 0, 0.6)).toBe(1); // renormalised: 0.625 / 0.375
    expect(at(0.63, 1, 0, 0.6)).toBe(0);
    expect(at(0.9999, 1, 0, 0.81)).toBe(3);
    // top-p over top-k renormalised: k = 2 leaves 0.625 / 0.375, so p = 0.6 keeps token 1 alone.
    expect(at(0.9999, 1, 2, 0.6)).toBe(1);
  });

  it('reproduces the distribution with seeded draws', () => {
    const r = new Mulberry32(1234);
    const counts = [0, 0, 0, 0];
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sample(LOGITS, { temperature: 1, topK: 0, topP: 1, u: r.nextUniform() })]++;
    expect(counts[2]).toBe(0);
    expect(counts[1] / n).toBeCloseTo(0.5, 1);
    expect(counts[0] / n).toBeCloseTo(0.3, 1);
    expect(counts[3] / n).toBeCloseTo(0.2, 1);
    // The same seed gives the same tokens.
    const again = (seed: number) => {
      const g = new Mulberry32(seed);
      const params = () => ({ temperature: 0.8, topK: 0, topP: 0.9, u: g.nextUniform() });
      return Array.from({ length: 16 }, () => sample(LOGITS, params()));
    };
    expect(again(99)).toEqual(again(99));
    expect(again(99)).not.toEqual(again(100));
  });
});
