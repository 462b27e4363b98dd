// Stop strings over streamed text. A stop string may span several tokens, so text that could still turn out to be the
// start of one is held back until the next delta decides it: nothing shown is ever taken back.

export class StopStringFilter {
  /** Text received but not yet released: always a proper prefix of some stop string (or ''). */
  private held = '';
  private readonly stops: readonly string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /**
   * Adds a text delta. Returns the text that is safe to show and whether a stop string completed; when it did, the
   * text is everything before the stop string, the stop string and whatever follows it are dropped, and the filter
   * must not be fed again.
   */
  push(delta: string): { text: string; stopped: boolean } {
    const text = this.held + delta;
    const hit = findStopString(text, this.stops);
    if (hit !== null) {
      this.held = '';
      return { text: text.slice(0, hit.index), stopped: true };
    }
    const keep = heldBackLength(text, this.stops);
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }

  /** The held text, released when generation ends for another reason (it did not become a stop string). */
  flush(): string {
    const text = this.held;
    this.held = '';
    return text;
  }
}

/** The earliest occurrence of any stop string in text (at equal positions, the longest stop), or null. */
export function findStopString(text: string, stops: readonly string[]): { index: number; stop: string } | null {
  let best: { index: number; stop: string } | null = null;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const index = text.indexOf(stop);
    if (index < 0) continue;
    if (best === null || index < best.index || (index === best.index && stop.length > best.stop.length)) {
      best = { index, stop };
    }
  }
  return best;
}

/**
 * The length of the longest suffix of text that is a proper prefix of some stop string: that much text must wait,
 * because the next tokens may complete the stop string.
 */
export function heldBackLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}
