// Every load run (kept across reloads: persisted.ts), for the comparison chart, the table and the JSON export.
import type { StateCreator } from 'zustand';
import type { LoadReport, LoadRequest } from '../../workers/api.ts';
import type { RunRecord } from '../runs-export.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';

export interface RunsSlice {
  runs: RunRecord[];
  addRun: (request: LoadRequest, report: LoadReport) => void;
  clearRuns: () => void;
}

export const createRunsSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], RunsSlice> =>
  (set) => ({
    runs: [],
    addRun: (request, report) =>
      set((s) => ({
        runs: [...s.runs, { id: (s.runs.at(-1)?.id ?? 0) + 1, finishedAt: deps.wallClock(), request, report }],
      })),
    clearRuns: () => set({ runs: [] }),
  });
