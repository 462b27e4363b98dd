// Builds the store from its slices around given dependencies (the app's worker, or a fake engine in unit tests).
import { createStore } from 'zustand/vanilla';
import type { AppState } from './app-state.ts';
import { createCacheSlice } from './cache-slice.ts';
import type { StoreDeps } from './deps.ts';
import { createGenerationSlice } from './generation-slice.ts';
import { createGpuSlice } from './gpu-slice.ts';
import { createMemorySlice } from './memory-slice.ts';
import { createModelSlice } from './model-slice.ts';
import { createRunsSlice } from './runs-slice.ts';
import { createSettingsSlice } from './settings-slice.ts';

export function createAppStore(deps: StoreDeps) {
  return createStore<AppState>()((...a) => ({
    ...createGpuSlice(deps)(...a),
    ...createSettingsSlice(...a),
    ...createModelSlice(deps)(...a),
    ...createGenerationSlice(deps)(...a),
    ...createRunsSlice(deps)(...a),
    ...createMemorySlice(deps)(...a),
    ...createCacheSlice(deps)(...a),
  }));
}

export type AppStore = ReturnType<typeof createAppStore>;
