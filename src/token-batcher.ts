// Streamed tokens are appended in batches: one store update per animation frame, not one render per token.

export type Scheduler = (cb: () => void) => void;

export const frameScheduler: Scheduler =
  typeof requestAnimationFrame === 'function' ? (cb) => void requestAnimationFrame(cb) : (cb) => void setTimeout(cb, 16);

export interface TokenBatcher {
  push(text: string): void;
  /** Delivers whatever is pending now (at the end of a generation). */
  flush(): void;
}

export function createTokenBatcher(deliver: (text: string, count: number) => void, schedule: Scheduler = frameScheduler): TokenBatcher {
  let pending = '';
  let count = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (count === 0) return;
    const text = pending;
    const n = count;
    pending = '';
    count = 0;
    deliver(text, n);
  };
  return {
    push(text) {
      pending += text;
      count += 1;
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    flush,
  };
}
