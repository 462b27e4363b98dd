// The CPU reference of Hugging Face's repetition penalty (transformers' RepetitionPenaltyLogitsProcessor): what the
// GPU kernel (workers/kernels/repetition-penalty.ts) is tested against.

/** The CPU reference: applies the penalty in place to `logits` for every id in `ids` (each once). */
export function applyRepetitionPenalty(logits: Float32Array, ids: Iterable<number>, penalty: number): void {
  for (const id of new Set(ids)) {
    const l = logits[id];
    logits[id] = l < 0 ? l * penalty : l / penalty;
  }
}
