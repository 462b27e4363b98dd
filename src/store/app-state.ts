// The whole store's type: one zustand store made of slices.
import type { CacheSlice } from './cache-slice.ts';
import type { EngineSlice } from './engine-slice.ts';
import type { GenerationSlice } from './generation-slice.ts';
import type { GpuSlice } from './gpu-slice.ts';
import type { HubSlice } from './hub-slice.ts';
import type { MemorySlice } from './memory-slice.ts';
import type { ModelSlice } from './model-slice.ts';
import type { RunsSlice } from './runs-slice.ts';
import type { SettingsSlice } from './settings-slice.ts';

export type AppState = GpuSlice &
  SettingsSlice &
  ModelSlice &
  GenerationSlice &
  RunsSlice &
  MemorySlice &
  CacheSlice &
  EngineSlice &
  HubSlice;
