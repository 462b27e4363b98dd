// Decode speed over the answer, from the time each token reached the page: tokens/s at token i over the last few
// tokens (a short window, so the line shows speed settling and falling as the context grows without per-token
// jitter). Token 0 is the prefill's (time to first token), so rates start at token 1.

export const RATE_WINDOW = 8;

export interface RatePoint {
  /** Token index in the answer (1 = the second token). */
  token: number;
  tokPerS: number;
}

/** Tokens/s at each token from `times` (ms, one per token, in order), over up to `window` previous tokens. */
export function tokenRates(times: readonly number[], window = RATE_WINDOW): RatePoint[] {
  const out: RatePoint[] = [];
  for (let i = 1; i < times.length; i++) {
    const back = Math.min(i, window);
    const dt = times[i] - times[i - back];
    if (dt > 0) out.push({ token: i, tokPerS: (back * 1000) / dt });
  }
  return out;
}

/** At most `max` points, each bucket averaged (the chart redraws once per frame while tokens stream). */
export function thinRates(points: RatePoint[], max = 300): RatePoint[] {
  if (points.length <= max) return points;
  const out: RatePoint[] = [];
  for (let b = 0; b < max; b++) {
    const from = Math.floor((b * points.length) / max);
    const to = Math.floor(((b + 1) * points.length) / max);
    let sum = 0;
    for (let i = from; i < to; i++) sum += points[i].tokPerS;
    out.push({ token: points[to - 1].token, tokPerS: sum / (to - from) });
  }
  return out;
}
