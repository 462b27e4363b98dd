// The app's store, bound to the engine worker, and the hook components select from (single values or useShallow).
import * as Comlink from 'comlink';
import { useStore as useZustand } from 'zustand';
import { startEngine, type Engine } from '../engine-client.ts';
import { frameScheduler } from '../token-batcher.ts';
import type { AppState } from './app-state.ts';
import { createAppStore } from './create-store.ts';

let engine: Engine | null = null;

export const appStore = createAppStore({
  engine: () => (engine ??= startEngine().engine),
  proxy: (fn) => Comlink.proxy(fn),
  schedule: frameScheduler,
  now: () => performance.now(),
});

export function useStore<T>(selector: (s: AppState) => T): T {
  return useZustand(appStore, selector);
}
