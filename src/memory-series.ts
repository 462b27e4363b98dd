// The VRAM time series: ledger samples polled from the worker, merged, capped, and thinned for drawing.
import { LEDGER_CATEGORIES, type CategoryBytes, type LedgerSample } from '../workers/api.ts';

/** The ledger's categories in drawing order (bottom of the stack first). */
export const MEMORY_CATEGORIES = LEDGER_CATEGORIES;

export const CATEGORY_COLORS: Record<keyof CategoryBytes, string> = {
  weights: '#4b6bfb',
  scales: '#9b59b6',
  outliers: '#e67e22',
  'kv-cache': '#16a085',
  activations: '#f1c40f',
  staging: '#e74c3c',
  uniforms: '#7f8c8d',
};

export const MAX_SAMPLES = 5000;

/** Appends samples newer than the last one kept; keeps at most `max` (dropping the oldest). */
export function mergeSamples(kept: LedgerSample[], incoming: LedgerSample[], max = MAX_SAMPLES): LedgerSample[] {
  const lastT = kept.length ? kept[kept.length - 1].t : -Infinity;
  const fresh = incoming.filter((s) => s.t > lastT);
  if (!fresh.length) return kept;
  const all = kept.concat(fresh);
  return all.length > max ? all.slice(all.length - max) : all;
}

/** The sample with the largest total (first one on ties), or null. */
export function peakSample(samples: LedgerSample[]): LedgerSample | null {
  let best: LedgerSample | null = null;
  for (const s of samples) if (!best || s.total > best.total) best = s;
  return best;
}

/**
 * Thins a series to about `target` points for drawing: keeps the first, the last, and in each bucket the sample with
 * the largest total, so peaks survive the thinning.
 */
export function thinSamples(samples: LedgerSample[], target = 400): LedgerSample[] {
  if (samples.length <= target) return samples;
  const out: LedgerSample[] = [samples[0]];
  const inner = samples.length - 2;
  const buckets = target - 2;
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * inner) / buckets);
    const to = 1 + Math.floor(((b + 1) * inner) / buckets);
    let best = samples[from];
    for (let i = from + 1; i < to; i++) if (samples[i].total > best.total) best = samples[i];
    out.push(best);
  }
  out.push(samples[samples.length - 1]);
  return out;
}
