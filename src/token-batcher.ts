// Streamed tokens are appended in batches: one store update per animation frame, not one render per token.

export type Scheduler = (cb: () => void) => void;

export const frameScheduler: Scheduler =
  typeof requestAnimationFrame === 'function' ? (cb) => void requestAnimationFrame(cb) : (cb) => void setTimeout(cb, 16);

export interface TokenBatcher {
  /** A token's text, and when it arrived (ms; kept for the tokens/s chart). */
  push(text: string, at?: number): void;
  /** Delivers whatever is pending now (at the end of a generation). */
  flush(): void;
}

export function createTokenBatcher(
  deliver: (text: string, count: number, times: number[]) => void,
  schedule: Scheduler = frameScheduler,
): TokenBatcher {
  let pending = '';
  let count = 0;
  let times: number[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (count === 0) return;
    const text = pending;
    const n = count;
    const t = times;
    pending = '';
    count = 0;
    times = [];
    deliver(text, n, t);
  };
  return {
    push(text, at) {
      pending += text;
      count += 1;
      if (at !== undefined) times.push(at);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    flush,
  };
}
