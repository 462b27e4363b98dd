// What survives a reload (zustand's persist middleware, localStorage in the app): the person's settings and their
// load runs (measurements). Never transient state: loading, progress, errors, output, the GPU or the cache listing.
// Stored values are checked field by field when read back, so a value from another version never breaks the page.
import type { PersistOptions, PersistStorage, StateStorage, StorageValue } from 'zustand/middleware';
import { LOAD_STRATEGIES, type LoadStrategy } from '../../workers/api.ts';
import type { RunRecord } from '../runs-export.ts';
import type { AppState } from './app-state.ts';
import type { Sampling, SettingsSlice } from './settings-slice.ts';

export const PERSIST_KEY = 'webgpu-llm';
export const PERSIST_VERSION = 1;

type PersistedSettings = Pick<
  SettingsSlice,
  'modelUrl' | 'strategy' | 'int8Threshold' | 'int8LmHead' | 'contextLength' | 'vramBudgetMiB' | 'useCache' | 'sampling'
>;
export type PersistedState = PersistedSettings & { runs: RunRecord[] };

export function persistedState(s: AppState): PersistedState {
  return {
    modelUrl: s.modelUrl,
    strategy: s.strategy,
    int8Threshold: s.int8Threshold,
    int8LmHead: s.int8LmHead,
    contextLength: s.contextLength,
    vramBudgetMiB: s.vramBudgetMiB,
    useCache: s.useCache,
    sampling: s.sampling,
    runs: s.runs,
  };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isRun(v: unknown): v is RunRecord {
  return isObj(v) && isNum(v.id) && isNum(v.finishedAt) && isObj(v.request) && isObj(v.report) && typeof v.report.model === 'string' &&
    typeof v.report.strategy === 'string' && isObj(v.report.timings);
}

/** The stored fields that are still valid, over the current state (anything else keeps its default). */
export function mergePersisted(stored: unknown, current: AppState): AppState {
  if (!isObj(stored)) return current;
  const out: Partial<AppState> = {};
  if (typeof stored.modelUrl === 'string') out.modelUrl = stored.modelUrl;
  if (LOAD_STRATEGIES.includes(stored.strategy as LoadStrategy)) out.strategy = stored.strategy as LoadStrategy;
  if (isNum(stored.int8Threshold) && stored.int8Threshold >= 0) out.int8Threshold = stored.int8Threshold;
  if (typeof stored.int8LmHead === 'boolean') out.int8LmHead = stored.int8LmHead;
  if (stored.contextLength === null || (isNum(stored.contextLength) && stored.contextLength >= 1)) out.contextLength = stored.contextLength;
  if (stored.vramBudgetMiB === null || (isNum(stored.vramBudgetMiB) && stored.vramBudgetMiB > 0)) out.vramBudgetMiB = stored.vramBudgetMiB;
  if (typeof stored.useCache === 'boolean') out.useCache = stored.useCache;
  if (isObj(stored.sampling)) {
    const sampling = { ...current.sampling };
    for (const k of Object.keys(sampling) as (keyof Sampling)[]) if (isNum(stored.sampling[k])) sampling[k] = stored.sampling[k];
    out.sampling = sampling;
  }
  if (Array.isArray(stored.runs)) out.runs = stored.runs.filter(isRun);
  return { ...current, ...out };
}

/**
 * The persist storage: JSON in `storage`, written only when a kept field changed (zustand's persist writes after every
 * state change, and progress, tokens and memory polls change state every frame), never throwing into the page: a
 * full or blocked localStorage only means nothing is kept, an unreadable value means defaults.
 */
export function persistStorage(storage: StateStorage): PersistStorage<PersistedState> {
  let last: PersistedState | null = null;
  return {
    getItem: (name) => {
      try {
        const text = storage.getItem(name);
        return typeof text === 'string' ? (JSON.parse(text) as StorageValue<PersistedState>) : null;
      } catch {
        return null;
      }
    },
    setItem: (name, value) => {
      const state = value.state;
      if (last && (Object.keys(state) as (keyof PersistedState)[]).every((k) => state[k] === last![k])) return;
      last = state;
      try {
        storage.setItem(name, JSON.stringify(value));
      } catch (e) {
        console.warn(`settings and runs could not be kept: ${(e as Error).message}`);
      }
    },
    removeItem: (name) => {
      last = null;
      try {
        storage.removeItem(name);
      } catch {
        // nothing to do
      }
    },
  };
}

export function persistOptions(storage: StateStorage): PersistOptions<AppState, PersistedState> {
  return {
    name: PERSIST_KEY,
    version: PERSIST_VERSION,
    storage: persistStorage(storage),
    partialize: persistedState,
    merge: mergePersisted,
  };
}
