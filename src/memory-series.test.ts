import { describe, expect, it } from 'vitest';
import type { LedgerSample } from '../workers/api.ts';
import { VRAM_STEPPED, vramDatasets } from './charts/vram-data.ts';
import { mergeSamples, peakSample, stepSeries, thinSamples, updatePeak } from './memory-series.ts';

function s(t: number, total: number, staging = 0): LedgerSample {
  return { t, total, bytes: { weights: total - staging, scales: 0, outliers: 0, 'kv-cache': 0, activations: 0, staging, uniforms: 0 } };
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
  it('finds the peak, and keeps the running peak over every sample received (also those dropped later)', () => {
    expect(peakSample([])).toBeNull();
    expect(peakSample([s(1, 10), s(2, 30), s(3, 30), s(4, 0)])?.t).toBe(2);
    let peak = updatePeak(null, [s(0, 0), s(5, 28_000_000), s(9, 13_000_000)]);
    expect(peak).toEqual({ t: 5, total: 28_000_000 });
    peak = updatePeak(peak, [s(20, 18_000_000)]); // a later, smaller load: the peak stays
    expect(peak).toEqual({ t: 5, total: 28_000_000 });
    expect(updatePeak(peak, [])).toBe(peak);
    expect(updatePeak(peak, [s(30, 30_000_000)])).toEqual({ t: 30, total: 30_000_000 });
  });
  it('thins to about the target and keeps the peak, the first, the last and each bucket’s final level', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => s(i, i === 7777 ? 1e9 : i % 100));
    const thin = thinSamples(many, 200);
    expect(thin.length).toBeLessThanOrEqual(200);
    expect(thin.length).toBeGreaterThan(150);
    expect(thin[0].t).toBe(0);
    expect(thin.at(-1)!.t).toBe(9999);
    expect(thin.some((x) => x.total === 1e9)).toBe(true);
    for (let i = 1; i < thin.length; i++) expect(thin[i].t).toBeGreaterThan(thin[i - 1].t);
    // a level held after a burst is what the step series shows next: the bucket's last sample is kept
    const burst = [s(0, 0), ...Array.from({ length: 999 }, (_, i) => s(1 + i, i < 998 ? 500 + i : 7)), s(2000, 7)];
    const t = thinSamples(burst, 10);
    expect(t.at(-2)!.total).toBe(7);
    const few = [s(1, 1)];
    expect(thinSamples(few)).toBe(few);
  });
  it('the step series ends at now, holding the last value (flat since the last event)', () => {
    const events = [s(0, 0), s(4000, 20_000_000, 4_000_000), s(4200, 16_000_000)];
    const series = stepSeries(events, 30_000);
    expect(series.map((x) => [x.t, x.total])).toEqual([
      [0, 0],
      [4000, 20_000_000],
      [4200, 16_000_000],
      [30_000, 16_000_000],
    ]);
    expect(series.at(-1)!.bytes).toEqual(events.at(-1)!.bytes);
    expect(stepSeries(events, 4200)).toEqual(events); // no newer time: nothing added
  });
});

describe('VRAM chart datasets', () => {
  it('are stepped, stacked per category in use, flat between events, with the peak marker at the running peak', () => {
    const series = stepSeries([s(0, 0), s(4000, 20 * 2 ** 20, 4 * 2 ** 20), s(4200, 16 * 2 ** 20)], 30_000);
    const sets = vramDatasets(series, { t: 4000, total: 20 * 2 ** 20 });
    expect(sets.map((d) => d.label)).toEqual(['weights', 'staging', 'peak']);
    for (const d of sets.slice(0, 2)) {
      expect(d).toMatchObject({ stepped: VRAM_STEPPED, fill: true, stack: 'ledger' });
      // one point per event and one at now: nothing in between to interpolate
      expect(d.data.map((p) => p.x)).toEqual([0, 4, 4.2, 30]);
    }
    expect(VRAM_STEPPED).toBe('before');
    expect(sets[0].data.map((p) => p.y)).toEqual([0, 16, 16, 16]);
    expect(sets[1].data.map((p) => p.y)).toEqual([0, 4, 0, 0]);
    expect(sets[2]).toMatchObject({ label: 'peak', showLine: false, data: [{ x: 4, y: 20 }] });
    expect(vramDatasets(series, null).map((d) => d.label)).toEqual(['weights', 'staging']);
  });
});
