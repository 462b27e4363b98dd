// Builds the store from its slices around given dependencies (the app's worker, or a fake engine in unit tests).
import { persist, type StateStorage } from 'zustand/middleware';
import { createStore, type StateCreator } from 'zustand/vanilla';
import type { AppState } from './app-state.ts';
import { createCacheSlice } from './cache-slice.ts';
import { createEngineSlice } from './engine-slice.ts';
import type { StoreDeps } from './deps.ts';
import { createGenerationSlice } from './generation-slice.ts';
import { createGpuSlice } from './gpu-slice.ts';
import { createHubSlice } from './hub-slice.ts';
import { createMemorySlice } from './memory-slice.ts';
import { createModelSlice } from './model-slice.ts';
import { persistOptions } from './persisted.ts';
import { createRunsSlice } from './runs-slice.ts';
import { createSettingsSlice } from './settings-slice.ts';

export function createAppStore(deps: StoreDeps) {
  const slices: StateCreator<AppState, [['zustand/persist', unknown]]> = (...a) => ({
    ...createGpuSlice(deps)(...a),
    ...createSettingsSlice(...a),
    ...createModelSlice(deps)(...a),
    ...createGenerationSlice(deps)(...a),
    ...createRunsSlice(deps)(...a),
    ...createMemorySlice(deps)(...a),
    ...createCacheSlice(deps)(...a),
    ...createEngineSlice(deps)(...a),
    ...createHubSlice(deps)(...a),
  });
  // Settings and runs survive a reload where the app has storage (persisted.ts); unit tests pass their own.
  return createStore<AppState>()(persist(slices, persistOptions(deps.storage ?? NO_STORAGE)));
}

/** Keeps nothing (a store without persistence, still the same type). */
const NO_STORAGE: StateStorage = { getItem: () => null, setItem: () => {}, removeItem: () => {} };

export type AppStore = ReturnType<typeof createAppStore>;
