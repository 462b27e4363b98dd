// What the model's KV cache holds, kept by generation between calls: the ids whose keys and values sit at positions
// 0 .. length-1, as a list (to find the prefix a new prompt shares with it, which is not prefilled again) and as a
// set (the ids the repetition penalty applies to: Hugging Face penalises every id of the sequence so far, which is
// exactly what the cache holds when the next token is sampled). Nothing here touches the GPU.
import { TokenSet } from '../kernels/repetition-penalty.ts';

export class CachedSequence {
  private readonly ids: number[] = [];
  /** The ids of the sequence, for the repetition penalty. */
  readonly seen: TokenSet;

  /** vocab: the model's vocabulary size (the set's initial size). */
  constructor(vocab = 0) {
    this.seen = new TokenSet(vocab);
  }

  get length(): number {
    return this.ids.length;
  }

  /** A copy of the ids in the cache. */
  tokens(): number[] {
    return [...this.ids];
  }

  /** How many leading ids of `next` the cache already holds at the same positions. */
  commonPrefix(next: readonly number[]): number {
    const n = Math.min(next.length, this.ids.length);
    let i = 0;
    while (i < n && this.ids[i] === next[i]) i++;
    return i;
  }

  /** Keeps only the first n ids (positions past n will be written again before they are read). */
  truncate(n: number): void {
    if (n >= this.ids.length) return;
    this.ids.length = n;
    this.seen.clear();
    this.seen.addAll(this.ids);
  }

  /** Records ids written at the next positions. */
  push(ids: Iterable<number>): void {
    for (const id of ids) {
      this.ids.push(id);
      this.seen.add(id);
    }
  }

  /** Forgets everything (after a failed forward the cache's contents are unknown). */
  clear(): void {
    this.truncate(0);
  }
}
