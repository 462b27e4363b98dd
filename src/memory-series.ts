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
export function peakSample(samples: readonly LedgerSample[]): LedgerSample | null {
  let best: LedgerSample | null = null;
  for (const s of samples) if (!best || s.total > best.total) best = s;
  return best;
}

/** The peak as the VRAM chart and its caption state it: the highest ledger total since the GPU connected, and when. */
export interface MemoryPeak {
  t: number;
  total: number;
}

/** The running peak after `incoming` (every sample received counts, also those the series later drops). */
export function updatePeak(peak: MemoryPeak | null, incoming: readonly LedgerSample[]): MemoryPeak | null {
  const top = peakSample(incoming);
  return top && (!peak || top.total > peak.total) ? { t: top.t, total: top.total } : peak;
}

/**
 * Thins a series to about `target` points for drawing as steps: keeps the first and the last sample, and in each
 * bucket the sample with the largest total and the bucket's last sample (the level the memory stays at), so peaks and
 * every level held for a while survive.
 */
export function thinSamples(samples: LedgerSample[], target = 400): LedgerSample[] {
  if (samples.length <= target) return samples;
  const out: LedgerSample[] = [samples[0]];
  const inner = samples.length - 2;
  const buckets = Math.max(1, Math.floor((target - 2) / 2));
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * inner) / buckets);
    const to = 1 + Math.floor(((b + 1) * inner) / buckets);
    if (from >= to) continue;
    let best = from;
    for (let i = from + 1; i < to; i++) if (samples[i].total > samples[best].total) best = i;
    out.push(samples[best]);
    if (best !== to - 1) out.push(samples[to - 1]);
  }
  out.push(samples[samples.length - 1]);
  return out;
}

/**
 * The points the VRAM chart draws, as a step function: the (thinned) ledger events, each holding its value until the
 * next, and one more point at `now` holding the last value (memory stayed there since). Times in ms, as the ledger's.
 */
export function stepSeries(samples: LedgerSample[], now: number, target = 400): LedgerSample[] {
  const thin = thinSamples(samples, target);
  const last = thin[thin.length - 1];
  if (!last || !(now > last.t)) return thin;
  return [...thin, { t: now, total: last.total, bytes: last.bytes }];
}
