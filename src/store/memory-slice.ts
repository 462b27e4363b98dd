// GPU memory over time: ledger samples polled from the worker (engine.memory(sinceT)) for the VRAM chart.
import type { StateCreator } from 'zustand';
import type { CategoryBytes, LedgerSample } from '../../workers/api.ts';
import { mergeSamples } from '../memory-series.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';

export interface MemorySlice {
  samples: LedgerSample[];
  /** t of the newest sample kept (-1 before the first poll). */
  lastSampleT: number;
  memCurrent: number;
  memPeak: number;
  memBytes: CategoryBytes | null;
  pollMemory: () => Promise<void>;
  clearMemorySeries: () => void;
}

export const createMemorySlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], MemorySlice> =>
  (set, get) => {
    let inFlight = false;
    return {
      samples: [],
      lastSampleT: -1,
      memCurrent: 0,
      memPeak: 0,
      memBytes: null,

      pollMemory: async () => {
        if (inFlight || get().gpuStatus !== 'ready') return;
        inFlight = true;
        try {
          const m = await deps.engine().memory(get().lastSampleT);
          const samples = mergeSamples(get().samples, m.samples);
          set({
            samples,
            lastSampleT: samples.length ? samples[samples.length - 1].t : get().lastSampleT,
            memCurrent: m.current,
            memPeak: m.peak,
            memBytes: m.bytes,
          });
        } catch {
          // no device (lost, or not yet acquired): the GPU panel says so
        } finally {
          inFlight = false;
        }
      },

      clearMemorySeries: () => set({ samples: [] }),
    };
  };
