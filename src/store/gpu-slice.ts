// The GPU connection: the adapter the worker got, or why there is none; device loss becomes a state the UI shows.
import type { StateCreator } from 'zustand';
import type { GpuInfo } from '../../workers/api.ts';
import { EngineError } from '../../workers/errors.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';
import { EMPTY_MEMORY } from './memory-slice.ts';

export type GpuStatus = 'idle' | 'acquiring' | 'ready' | 'unavailable' | 'lost';

export interface GpuSlice {
  gpuStatus: GpuStatus;
  gpuInfo: GpuInfo | null;
  gpuError: string | null;
  connectGpu: () => Promise<void>;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const createGpuSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], GpuSlice> =>
  (set, get) => {
    // init() again replaces the device and destroys the old one: only the newest connection's loss counts
    let connection = 0;
    return {
      gpuStatus: 'idle',
      gpuInfo: null,
      gpuError: null,

      connectGpu: async () => {
        const engine = deps.engine();
        const mine = ++connection;
        set({ gpuStatus: 'acquiring', gpuError: null });
        try {
          const info = await engine.init();
          // A new device holds nothing: any model the old one held is gone.
          if (mine !== connection) return;
          const held = get().loadedRequest;
          set({
            gpuStatus: 'ready',
            gpuInfo: info,
            modelStatus: 'empty',
            modelInfo: null,
            loadedRequest: null,
            reloadable: held ?? get().reloadable,
            ...EMPTY_MEMORY,
          });
          void Promise.resolve(engine.deviceLost()).then((reason) => {
            if (mine !== connection) return;
            // the model it held is gone with it: offered to load again once reconnected
            const lost = get().loadedRequest;
            set({
              gpuStatus: 'lost',
              gpuError: `The GPU device was lost (${reason}). Reconnect to continue${lost ? `, and load ${lost.model} again` : ''}.`,
              modelStatus: 'empty',
              modelInfo: null,
              loadedRequest: null,
              reloadable: lost ?? get().reloadable,
              generating: false,
            });
          }, () => {
            // the engine was stopped (a restart, engine-slice.ts): its device went with it, and the restart says so
          });
        } catch (e) {
          const unavailable = e instanceof EngineError ? e.code === 'no-webgpu' : /WebGPU/.test(message(e));
          if (mine === connection) set({ gpuStatus: unavailable ? 'unavailable' : 'lost', gpuError: message(e) });
        }
      },
    };
  };
