// The CPU reference sampler: the semantics the GPU sampling kernels are checked against, and the fallback when the
// logits are on the CPU. Randomness is not the sampler's: the caller draws one uniform `u` per sampled token from
// Mulberry32(seed) and passes it in SamplingParams, so a GPU sampler needs no PRNG state and, given the same u, picks
// the same token.
//
// sample(logits, {temperature, topK, topP, u}), over V logits l[0..V-1]:
//   1. Greedy when temperature <= 0 or topK == 1: the index of the largest logit, the lowest index on ties.
//   2. Weights w[i] = exp((l[i] - max(l)) / temperature) (softmax numerators; no division by their sum is needed).
//   3. Order the indices by w descending, the lower index first on ties, and keep the first K:
//      K = topK when 0 < topK < V, else V (topK <= 0 turns it off).
//   4. Top-p over those K, renormalised: with S_K = sum of their w, keep the shortest prefix of n >= 1 indices whose
//      sum of w is >= topP * S_K (n = K when topP >= 1): Hugging Face's TopPLogitsWarper after TopKLogitsWarper.
//   5. With S_n = sum of the kept w and r = u * S_n, return the first kept index j (in that order) whose running sum
//      w[0] + ... + w[j] is > r; when rounding leaves none (u * S_n rounded up to S_n, possible in f32), the last
//      kept index whose w is > 0.
// Here everything after step 1 is in float64; a GPU kernel works in f32 and may sum in another order, so the two can
// differ only when r lies within rounding of a boundary between two tokens' cumulative weights.

export interface SamplingParams {
  /** 0 (or less) = greedy. */
  temperature: number;
  /** Keep the K most likely tokens; 0 = all. */
  topK: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  topP: number;
  /** This token's uniform draw in [0, 1): Mulberry32.nextUniform(), a multiple of 2^-24 (exact in f32). */
  u: number;
}

/**
 * Mulberry32 (Tommy Ettinger), exactly as in u32 arithmetic (all operations mod 2^32, >>> logical shifts):
 *   state = seed mod 2^32
 *   next():  state = state + 0x6D2B79F5
 *            t = imul(state ^ (state >>> 15), state | 1)
 *            t = (t + imul(t ^ (t >>> 7), t | 61)) ^ t
 *            return t ^ (t >>> 14)
 *   nextUniform() = (next() >>> 8) / 2^24   (24 bits, so it is exact in f32 and < 1)
 * Generation seeds one Mulberry32 with GenerateOptions.seed and calls nextUniform() once per sampled token, greedy
 * tokens included, so the n-th token always sees the n-th draw.
 */
export class Mulberry32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    const a = this.state;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  nextUniform(): number {
    return (this.next() >>> 8) / 16777216;
  }
}

/** Index of the largest logit; the lowest index on ties; NaN never wins. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > bestValue) {
      bestValue = logits[i];
      best = i;
    }
  }
  return best;
}

/** Samples one token id from a row of logits, by the rules at the top of this file. */
export function sample(logits: ArrayLike<number>, p: SamplingParams): number {
  const vocab = logits.length;
  if (p.temperature <= 0 || p.topK === 1) return argmax(logits);

  const max = logits[argmax(logits)];
  const w = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) w[i] = Math.exp((logits[i] - max) / p.temperature);

  const order = Array.from({ length: vocab }, (_, i) => i);
  order.sort((a, b) => w[b] - w[a] || a - b);
  const k = p.topK > 0 && p.topK < vocab ? p.topK : vocab;

  let n = k;
  if (p.topP < 1) {
    let sumK = 0;
    for (let j = 0; j < k; j++) sumK += w[order[j]];
    const target = p.topP * sumK;
    let cum = 0;
    for (let j = 0; j < k; j++) {
      cum += w[order[j]];
      if (cum >= target) {
        n = j + 1;
        break;
      }
    }
  }

  let sumN = 0;
  for (let j = 0; j < n; j++) sumN += w[order[j]];
  const r = p.u * sumN;
  let cum = 0;
  let lastPositive = order[0];
  for (let j = 0; j < n; j++) {
    const wj = w[order[j]];
    cum += wj;
    if (r < cum) return order[j];
    if (wj > 0) lastPositive = order[j];
  }
  return lastPositive;
}
