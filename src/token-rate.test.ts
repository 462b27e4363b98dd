import { describe, expect, it } from 'vitest';
import { thinRates, tokenRates } from './token-rate.ts';

describe('tokenRates', () => {
  it('rates over a short window, from the second token (the first is the prefill)', () => {
    // first token at 500 ms (time to first token), then one every 10 ms, then every 20 ms
    const times = [500, 510, 520, 530, 540, 560, 580, 600, 620];
    const r = tokenRates(times, 2);
    expect(r.map((p) => p.token)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.map((p) => Math.round(p.tokPerS))).toEqual([100, 100, 100, 100, 67, 50, 50, 50]);
    expect(tokenRates([500])).toEqual([]);
    expect(tokenRates([])).toEqual([]);
    // two tokens in one message (same ms): no infinite rate, the next point covers them
    expect(tokenRates([0, 10, 10, 20], 1).map((p) => p.token)).toEqual([1, 3]);
  });
  it('thins by averaging buckets', () => {
    const points = Array.from({ length: 1000 }, (_, i) => ({ token: i + 1, tokPerS: i % 2 ? 100 : 50 }));
    const thin = thinRates(points, 100);
    expect(thin).toHaveLength(100);
    expect(thin.every((p) => p.tokPerS === 75)).toBe(true);
    expect(thin.at(-1)!.token).toBe(1000);
    expect(thinRates(points.slice(0, 10), 100)).toHaveLength(10);
  });
});
