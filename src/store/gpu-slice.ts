// The GPU connection: the adapter the worker got, or why there is none; device loss becomes a state the UI shows.
import type { StateCreator } from 'zustand';
import type { LlmEngine } from 'webgpu-llm';
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
  /**
   * After a load: when the library acquired a new device for it (the one connected was lost), shows that device as
   * the connection and watches it for loss, as connectGpu does.
   */
  adoptGpu: () => Promise<void>;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const createGpuSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], GpuSlice> =>
  (set, get) => {
    // init() again replaces the device and destroys the old one: only the newest connection's loss counts
    let connection = 0;

    /** Shows the loss of connection `mine`'s device, unless a newer connection replaced it. */
    const watchLoss = (engine: LlmEngine, mine: number) => {
      void Promise.resolve(engine.deviceLost()).then(
        (reason) => {
          if (mine !== connection) return;
          // The model it held is gone with it: offered to load again once reconnected. A load in flight is left to
          // finish: the library acquires a new device for it (see adoptGpu).
          const s = get();
          const lost = s.loadedRequest;
          const loading = s.modelStatus === 'loading' || s.modelStatus === 'cancelling';
          set({
            gpuStatus: 'lost',
            gpuError: `The GPU device was lost (${reason}). Reconnect to continue${lost ? `, and load ${lost.model} again` : ''}.`,
            ...(loading ? {} : { modelStatus: 'empty' as const, modelInfo: null }),
            loadedRequest: null,
            reloadable: lost ?? s.reloadable,
            generating: false,
          });
        },
        () => {
          // the engine was stopped (a restart, engine-slice.ts): its device went with it, and the restart says so
        },
      );
    };

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
          watchLoss(engine, mine);
        } catch (e) {
          const unavailable = e instanceof EngineError ? e.code === 'no-webgpu' : /WebGPU/.test(message(e));
          if (mine === connection) set({ gpuStatus: unavailable ? 'unavailable' : 'lost', gpuError: message(e) });
        }
      },

      adoptGpu: async () => {
        const engine = deps.engine();
        const before = connection;
        // The library hands out the same GpuInfo object for as long as it keeps a device: another object is another one.
        const { gpu } = await engine.info();
        if (before !== connection || gpu === get().gpuInfo) return;
        const mine = ++connection;
        set({ gpuStatus: 'ready', gpuInfo: gpu, gpuError: null });
        watchLoss(engine, mine);
      },
    };
  };
