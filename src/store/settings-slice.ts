// What the person chose: the model source and how to load it, the message being typed and how to sample.
import type { StateCreator } from 'zustand';
import type { LoadRequest, LoadStrategy } from '../../workers/api.ts';
import { checkModelSource, DEFAULT_MODEL } from '../model-source.ts';
import type { AppState } from './app-state.ts';

/** What the person set; null: the model's own default (its generation_config.json; the seed: a random one). */
export interface Sampling {
  /** 0 = greedy. */
  temperature: number | null;
  topK: number | null;
  topP: number | null;
  repetitionPenalty: number | null;
  seed: number | null;
  maxTokens: number;
}

export interface SettingsSlice {
  modelUrl: string;
  strategy: LoadStrategy;
  int8Threshold: number;
  /** streamed-int8: quantize lm_head too (LoadRequest.int8LmHead; the engine ignores it for tied embeddings). */
  int8LmHead: boolean;
  /** null: the engine's default (min(config max, 2048)). */
  contextLength: number | null;
  /** null: no budget. */
  vramBudgetMiB: number | null;
  /** Streamed strategies read and keep weights in the browser's storage (LoadRequest.cache). */
  useCache: boolean;
  prompt: string;
  sampling: Sampling;
  setModelUrl: (v: string) => void;
  setStrategy: (v: LoadStrategy) => void;
  setInt8Threshold: (v: number) => void;
  setInt8LmHead: (v: boolean) => void;
  setContextLength: (v: number | null) => void;
  setVramBudgetMiB: (v: number | null) => void;
  setUseCache: (v: boolean) => void;
  setPrompt: (v: string) => void;
  setSampling: (patch: Partial<Sampling>) => void;
}

export const DEFAULT_SAMPLING: Sampling = { temperature: null, topK: null, topP: null, repetitionPenalty: null, seed: null, maxTokens: 128 };

export const createSettingsSlice: StateCreator<AppState, [], [], SettingsSlice> = (set) => ({
  modelUrl: DEFAULT_MODEL,
  strategy: 'streamed',
  int8Threshold: 6,
  int8LmHead: false,
  contextLength: null,
  vramBudgetMiB: null,
  useCache: true,
  prompt: 'In the beginning',
  sampling: DEFAULT_SAMPLING,
  setModelUrl: (modelUrl) => set({ modelUrl }),
  setStrategy: (strategy) => set({ strategy }),
  setInt8Threshold: (int8Threshold) => set({ int8Threshold }),
  setInt8LmHead: (int8LmHead) => set({ int8LmHead }),
  setContextLength: (contextLength) => set({ contextLength }),
  setVramBudgetMiB: (vramBudgetMiB) => set({ vramBudgetMiB }),
  setUseCache: (useCache) => set({ useCache }),
  setPrompt: (prompt) => set({ prompt }),
  setSampling: (patch) => set((s) => ({ sampling: { ...s.sampling, ...patch } })),
});

/** The load request the settings describe, or why there is none. */
export function buildLoadRequest(s: SettingsSlice): { ok: true; req: LoadRequest } | { ok: false; reason: string } {
  const src = checkModelSource(s.modelUrl);
  if (!src.ok) return src;
  const req: LoadRequest = { model: src.value, strategy: s.strategy };
  if (s.contextLength != null) req.contextLength = s.contextLength;
  if (s.vramBudgetMiB != null) req.vramBudgetBytes = Math.round(s.vramBudgetMiB * 2 ** 20);
  if (s.strategy === 'streamed-int8') {
    req.int8Threshold = s.int8Threshold;
    if (s.int8LmHead) req.int8LmHead = true;
  }
  if (!s.useCache) req.cache = 'off';
  return { ok: true, req };
}
