// GPU memory over time: ledger samples polled from the worker (engine.memory(sinceT)) for the VRAM chart, and the
// one peak the page states (the highest total since the GPU connected, over every sample received).
import type { StateCreator } from 'zustand';
import type { CategoryBytes, LedgerSample } from '../../workers/api.ts';
import { mergeSamples, updatePeak, type MemoryPeak } from '../memory-series.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';

export interface MemorySlice {
  samples: LedgerSample[];
  /** t of the newest sample kept (-1 before the first poll). */
  lastSampleT: number;
  memCurrent: number;
  /** The highest ledger total since the GPU connected (null before the first poll). */
  memPeak: MemoryPeak | null;
  memBytes: CategoryBytes | null;
  /** The engine's clock at the last poll, in the samples' time base (ms since the GPU connected). */
  memNow: number;
  pollMemory: () => Promise<void>;
}

/** What a new GPU connection resets (gpu-slice.ts). */
export const EMPTY_MEMORY = { samples: [], lastSampleT: -1, memCurrent: 0, memPeak: null, memBytes: null, memNow: 0 } satisfies Partial<MemorySlice>;

export const createMemorySlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], MemorySlice> =>
  (set, get) => {
    /**
     * The poll in flight and the engine epoch it asks: a second poll meanwhile waits for it instead of asking again,
     * unless the engine was restarted since (a restarted engine's first poll does not wait for a stuck one's answer).
     */
    let inFlight: { epoch: number; done: Promise<void> } | null = null;
    const poll = async (mine: { epoch: number }) => {
      try {
        const m = await deps.engine().memory(get().lastSampleT);
        if (get().engineEpoch !== mine.epoch) return;
        const samples = mergeSamples(get().samples, m.samples);
        set({
          samples,
          lastSampleT: samples.length ? samples[samples.length - 1].t : get().lastSampleT,
          memCurrent: m.current,
          memPeak: updatePeak(get().memPeak, m.samples),
          memBytes: m.bytes,
          memNow: m.now,
        });
      } catch {
        // no device (lost, or not yet acquired): the GPU panel says so
      } finally {
        if (inFlight === mine) inFlight = null;
      }
    };
    return {
      ...EMPTY_MEMORY,

      pollMemory: () => {
        if (get().gpuStatus !== 'ready') return Promise.resolve();
        const epoch = get().engineEpoch;
        if (inFlight?.epoch === epoch) return inFlight.done;
        const mine: { epoch: number; done: Promise<void> } = { epoch, done: Promise.resolve() };
        inFlight = mine;
        mine.done = poll(mine);
        return mine.done;
      },
    };
  };
