// The CPU reference sampler (tests only): the semantics the GPU sampling kernel (kernels/sample.ts) is checked
// against. Randomness is not the sampler's: the caller draws one uniform `u` per sampled token from Mulberry32(seed)
// (model/mulberry32.ts) and passes it in SamplingParams, so a GPU sampler needs no PRNG state and, given the same u,
// picks the same token.
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
import type { SamplingParams } from '../kernels/sample.ts';

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
