// One zustand store made of slices. Actions live in the store; components select single values or use useShallow.
import { create } from 'zustand';
import type { GpuInfo } from '../workers/api.ts';
import { EngineError } from '../workers/errors.ts';
import { startEngine, type Engine } from './engine-client.ts';

export type GpuStatus = 'idle' | 'acquiring' | 'ready' | 'unavailable' | 'lost';

export interface GpuSlice {
  gpuStatus: GpuStatus;
  gpuInfo: GpuInfo | null;
  gpuError: string | null;
  connectGpu: () => Promise<void>;
}

export interface StoreState extends GpuSlice {
  engine: Engine | null;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const useStore = create<StoreState>()((set, get) => ({
  engine: null,
  gpuStatus: 'idle',
  gpuInfo: null,
  gpuError: null,

  connectGpu: async () => {
    let engine = get().engine;
    if (!engine) {
      engine = startEngine().engine;
      set({ engine });
    }
    set({ gpuStatus: 'acquiring', gpuError: null });
    try {
      const info = await engine.init();
      set({ gpuStatus: 'ready', gpuInfo: info });
      void engine.deviceLost().then((reason) => {
        set({ gpuStatus: 'lost', gpuError: `The GPU device was lost (${reason}). Reconnect to continue.` });
      });
    } catch (e) {
      const unavailable = e instanceof EngineError ? e.code === 'no-webgpu' : /WebGPU/.test(message(e));
      set({ gpuStatus: unavailable ? 'unavailable' : 'lost', gpuError: message(e) });
    }
  },
}));
