// Hugging Face's repetition penalty (transformers' RepetitionPenaltyLogitsProcessor, from the CTRL paper): every id
// that occurs anywhere in the sequence so far (prompt and generated ids alike) has its logit l replaced by
//   l < 0 ? l * penalty : l / penalty
// once, however often it occurs, before temperature, top-k and top-p. This file holds the set of ids in the sequence
// (a bitset over the vocabulary, kept on the CPU by generation and copied to the GPU as it changes); the CPU reference
// is workers/testing/repetition-penalty-reference.ts.

/**
 * The set of ids in a sequence, as bits: word w bit b is id 32w + b (words beyond `words` are all zero: an id past
 * the initial vocabulary grows it). Tracks which words changed since the last takeChanged(), so that the GPU copy is
 * updated by what changed alone.
 */
export class TokenSet {
  words: Uint32Array;
  private changedFrom = Infinity;
  private changedTo = -1;

  constructor(vocab = 0) {
    this.words = new Uint32Array(Math.ceil(vocab / 32));
    if (this.words.length > 0) this.changed(0, this.words.length - 1);
  }

  has(id: number): boolean {
    return (this.words[id >>> 5] & (1 << (id & 31))) !== 0;
  }

  add(id: number): void {
    const w = id >>> 5;
    if (w >= this.words.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const bit = 1 << (id & 31);
    if ((this.words[w] & bit) !== 0) return;
    this.words[w] |= bit;
    this.changed(w, w);
  }

  addAll(ids: Iterable<number>): void {
    for (const id of ids) this.add(id);
  }

  clear(): void {
    this.words.fill(0);
    if (this.words.length > 0) this.changed(0, this.words.length - 1);
  }

  /** The range of words [from, to) changed since the last call (null when none), and forgets it. */
  takeChanged(): { from: number; to: number } | null {
    if (this.changedTo < 0) return null;
    const r = { from: this.changedFrom, to: this.changedTo + 1 };
    this.changedFrom = Infinity;
    this.changedTo = -1;
    return r;
  }

  private changed(from: number, to: number): void {
    this.changedFrom = Math.min(this.changedFrom, from);
    this.changedTo = Math.max(this.changedTo, to);
  }
}
