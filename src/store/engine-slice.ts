// The engine itself: a stop, cancel or unload that has not taken effect after STUCK_AFTER_MS means the worker may be
// stuck in work it cannot leave; the UI then offers to restart it (the worker is terminated and a new one started,
// the GPU connected again), and to load again the model it held. A model lost with the GPU device is offered the same.
import type { StateCreator } from 'zustand';
import type { LoadRequest } from '../../workers/api.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';

/** How long a stop, cancel or unload may take before the engine counts as stuck. */
export const STUCK_AFTER_MS = 8000;

export interface EngineSlice {
  /** A stop, cancel or unload has not taken effect within STUCK_AFTER_MS (and the engine can be restarted). */
  engineStuck: boolean;
  /** Bumped by each restart: an action started before it drops what its old engine answers. */
  engineEpoch: number;
  /** A model that was loaded and was lost (with the GPU device, or with a restarted engine): offered to load again. */
  reloadable: LoadRequest | null;
  /** Watches an asked stop/cancel/unload: when `stillBusy()` is true after STUCK_AFTER_MS, the engine is stuck. */
  watchStop: (stillBusy: () => boolean) => void;
  /** Terminates the worker, starts a new one and connects the GPU; the model it held becomes `reloadable`. */
  restartEngine: () => Promise<void>;
  /** Loads the `reloadable` model again (connecting the GPU first when needed). */
  reloadLost: () => Promise<void>;
}

export const createEngineSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], EngineSlice> =>
  (set, get) => ({
    engineStuck: false,
    engineEpoch: 0,
    reloadable: null,

    watchStop: (stillBusy) => {
      if (!deps.restart) return;
      const epoch = get().engineEpoch;
      const later = deps.later ?? ((ms, fn) => void setTimeout(fn, ms));
      later(STUCK_AFTER_MS, () => {
        if (get().engineEpoch === epoch && stillBusy()) set({ engineStuck: true });
      });
    },

    restartEngine: async () => {
      if (!deps.restart) return;
      deps.restart();
      const s = get();
      set({
        engineEpoch: s.engineEpoch + 1,
        engineStuck: false,
        reloadable: s.loadedRequest ?? s.reloadable,
        loadedRequest: null,
        gpuStatus: 'idle',
        gpuInfo: null,
        modelStatus: 'empty',
        modelInfo: null,
        planning: false,
        progress: null,
        loadStartedAt: null,
        generating: false,
        genStartedAt: null,
        error: null,
        notice: 'The engine was restarted: what it was doing was stopped and its GPU memory freed.',
      });
      await get().connectGpu();
    },

    reloadLost: async () => {
      const req = get().reloadable;
      if (!req) return;
      if (get().gpuStatus !== 'ready') await get().connectGpu();
      if (get().gpuStatus === 'ready') await get().loadRequest(req);
    },
  });
