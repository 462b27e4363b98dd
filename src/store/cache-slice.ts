// The model cache as the person sees it: cached models with their sizes, the origin's storage use, delete one or all.
// Refreshed when the panel mounts and after every load (model-slice.ts).
import type { StateCreator } from 'zustand';
import type { CachedModelInfo, StorageInfo } from '../../workers/api.ts';
import { describeError } from '../error-messages.ts';
import type { AppState } from './app-state.ts';
import type { StoreDeps } from './deps.ts';

export interface CacheSlice {
  cachedModels: CachedModelInfo[];
  cacheStorage: StorageInfo | null;
  /** null until the engine was asked; false: no storage (loads are never cached). */
  cacheAvailable: boolean | null;
  /** A delete or clear is in flight. */
  cacheBusy: boolean;
  refreshCache: () => Promise<void>;
  deleteCached: (model: string) => Promise<void>;
  clearCache: () => Promise<void>;
}

export const createCacheSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], CacheSlice> =>
  (set, get) => {
    /** Runs a change (or just the listing), then lists again; errors go to the banner. */
    const change = async (what: (() => Promise<unknown>) | null) => {
      if (what) set({ cacheBusy: true });
      try {
        if (what) await what();
        const r = await deps.engine().listCache();
        set({ cachedModels: r.models, cacheStorage: r.storage, cacheAvailable: r.available });
      } catch (e) {
        set({ error: describeError(e, 'cache') });
      } finally {
        if (what) set({ cacheBusy: false });
      }
    };
    return {
      cachedModels: [],
      cacheStorage: null,
      cacheAvailable: null,
      cacheBusy: false,
      refreshCache: () => change(null),
      deleteCached: (model) => (get().cacheBusy ? Promise.resolve() : change(() => deps.engine().deleteCache(model))),
      clearCache: () => (get().cacheBusy ? Promise.resolve() : change(() => deps.engine().clearCache())),
    };
  };
