import { describe, expect, it } from 'vitest';
import type { LedgerSample } from '../workers/api.ts';
import { mergeSamples, peakSample, thinSamples } from './memory-series.ts';

function s(t: number, total: number): LedgerSample {
  return { t, total, bytes: { weights: total, scales: 0, outliers: 0, 'kv-cache': 0, activations: 0, staging: 0, uniforms: 0 } };
}

describe('memory series', () => {
  it('merges only newer samples and caps the length', () => {
    const a = mergeSamples([], [s(1, 10), s(2, 20)]);
    expect(a.map((x) => x.t)).toEqual([1, 2]);
    const b = mergeSamples(a, [s(2, 20), s(3, 5)]);
    expect(b.map((x) => x.t)).toEqual([1, 2, 3]);
    expect(mergeSamples(b, [])).toBe(b);
    expect(mergeSamples(b, [s(4, 1), s(5, 1)], 3).map((x) => x.t)).toEqual([3, 4, 5]);
  });
  it('finds the peak', () => {
    expect(peakSample([])).toBeNull();
    expect(peakSample([s(1, 10), s(2, 30), s(3, 30), s(4, 0)])?.t).toBe(2);
  });
  it('thins to the target and keeps the peak, the first and the last', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => s(i, i === 7777 ? 1e9 : i % 100));
    const thin = thinSamples(many, 200);
    expect(thin.length).toBe(200);
    expect(thin[0].t).toBe(0);
    expect(thin.at(-1)!.t).toBe(9999);
    expect(thin.some((x) => x.total === 1e9)).toBe(true);
    for (let i = 1; i < thin.length; i++) expect(thin[i].t).toBeGreaterThan(thin[i - 1].t);
    const few = [s(1, 1)];
    expect(thinSamples(few)).toBe(few);
  });
});
