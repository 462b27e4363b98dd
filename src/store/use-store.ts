// The app's store, bound to the library's engine (its own Web Worker), and the hook components select from (single
// values or useShallow).
import { createEngine, type LlmEngine } from 'webgpu-llm';
import { useStore as useZustand } from 'zustand';
import { frameScheduler } from '../token-batcher.ts';
import type { AppState } from './app-state.ts';
import { createAppStore } from './create-store.ts';

let engine: LlmEngine | null = null;

export const appStore = createAppStore({
  engine: () => (engine ??= createEngine()),
  schedule: frameScheduler,
  now: () => performance.now(),
  wallClock: () => Date.now(),
  storage: localStorageIfAny(),
  // a stuck worker (engine-slice.ts) is terminated through the library; the engine's next call starts a new one
  restart: () => engine?.terminate(),
  later: (ms, fn) => void setTimeout(fn, ms),
});

/** localStorage, or undefined where the browser denies it (storage blocked for the site): nothing is kept then. */
function localStorageIfAny(): Storage | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined;
  }
}

export function useStore<T>(selector: (s: AppState) => T): T {
  return useZustand(appStore, selector);
}
