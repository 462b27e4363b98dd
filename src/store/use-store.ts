// The app's store, bound to the engine worker, and the hook components select from (single values or useShallow).
import * as Comlink from 'comlink';
import { useStore as useZustand } from 'zustand';
import { startEngine, type Engine } from '../engine-client.ts';
import { frameScheduler } from '../token-batcher.ts';
import type { AppState } from './app-state.ts';
import { createAppStore } from './create-store.ts';

let running: { engine: Engine; terminate: () => void } | null = null;

export const appStore = createAppStore({
  engine: () => (running ??= startEngine()).engine,
  proxy: (fn) => Comlink.proxy(fn),
  schedule: frameScheduler,
  now: () => performance.now(),
  wallClock: () => Date.now(),
  storage: localStorageIfAny(),
  // a stuck worker (engine-slice.ts) is terminated; the next call starts a new one
  restart: () => {
    running?.terminate();
    running = null;
  },
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
