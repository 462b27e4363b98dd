// The engine's public API: the types and constants src/ uses with the worker, which implements EngineApi
// (engine.ts). Besides this file, src/ imports from workers/ only errors.ts (EngineError), comlink-errors.ts (how
// errors cross) and the worker entry (engine.worker.ts). Plain data crosses; callbacks are Comlink proxies. The
// engine's layers import these types too (import type; workers/README.md).
import type { GpuInfo } from './gpu/device.ts';
import type { CategoryBytes, LedgerSample } from './gpu/ledger.ts';

export type { GpuInfo, LedgerSample, CategoryBytes };
/** The ledger's categories, in the order the VRAM chart stacks them (bottom first). */
export { LEDGER_CATEGORIES } from './gpu/ledger.ts';

/**
 * naive: whole files fetched into ArrayBuffers, full-precision (f32) GPU buffers, converted to fp16 after (baseline).
 * fp16: whole-file download, direct half-precision allocation.
 * streamed: per-tensor HTTP range streaming straight into fp16 GPU buffers, bounded host memory.
 * streamed-int8: streamed, with linear layers quantized to int8 (LLM.int8) while loading.
 */
export const LOAD_STRATEGIES = ['naive', 'fp16', 'streamed', 'streamed-int8'] as const;
export type LoadStrategy = (typeof LOAD_STRATEGIES)[number];

export interface LoadRequest {
  /** Base URL of a model folder, a huggingface.co repo URL, an `org/name` id, or a same-origin path. */
  model: string;
  strategy: LoadStrategy;
  /** Context length to reserve the KV cache for (default: min(config max, 2048)). */
  contextLength?: number;
  /** Refuse to load when the plan needs more GPU bytes than this. */
  vramBudgetBytes?: number;
  /** LLM.int8 outlier threshold (default 6.0; 0 turns the decomposition off). */
  int8Threshold?: number;
  /**
   * streamed-int8: quantize lm_head too (LLM.int8, like the decoder linears). Default false: lm_head stays fp16.
   * Ignored, with a note in the plan, when the embeddings are tied (lm_head is then the fp16 embedding table).
   */
  int8LmHead?: boolean;
  /**
   * 'use' (default): the streamed strategies read and keep weight bytes (and, for streamed-int8, the quantized
   * weights) in the browser's storage; 'off': straight from the network, nothing kept. naive and fp16 never use it.
   */
  cache?: 'use' | 'off';
}

/** Which linear weights streamed-int8 quantizes: the decoder layers' projections, and maybe lm_head. */
export type Int8Scope = 'decoder' | 'decoder+lm_head';

export type LoadPhase = 'resolve' | 'plan' | 'download' | 'quantize' | 'compile' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  bytesDone: number;
  bytesTotal: number;
  /** Of bytesDone, those from the network and those read from the cache (absent before the weights begin). */
  bytesFetched?: number;
  bytesFromCache?: number;
  tensorsDone: number;
  tensorsTotal: number;
  /** Current throughput, MB/s (10^6 bytes). */
  mbPerS: number;
  /** Seconds left at the current rate (NaN when unknown). */
  etaS: number;
  currentTensor?: string;
}

export interface PlanReport {
  model: string;
  architecture: string;
  parameters: number;
  /** GPU bytes the plan needs, by ledger category. */
  bytes: CategoryBytes;
  totalBytes: number;
  largestTensor: { name: string; bytes: number };
  contextLength: number;
  fits: boolean;
  /** Why it does not fit (empty when it does). */
  reasons: string[];
  /** streamed-int8: the linears it quantizes (int8LmHead asked and honoured: 'decoder+lm_head'). */
  int8Scope?: Int8Scope;
  /** Options the plan did not follow, and why (e.g. int8LmHead with tied embeddings). */
  notes: string[];
}

export interface LoadTimings {
  totalMs: number;
  networkMs: number;
  convertMs: number;
  uploadMs: number;
  quantizeMs: number;
  compileMs: number;
  /** Reading weight bytes (and cached int8 weights) from the cache. */
  cacheMs: number;
}

export interface LoadReport {
  model: string;
  strategy: LoadStrategy;
  timings: LoadTimings;
  /** Weight bytes fetched over the network (with the cache: whole cache blocks, as received). */
  bytesFetched: number;
  /** Weight bytes read from the cache (file blocks and cached int8 weights). */
  bytesFromCache: number;
  /** cold: nothing was cached; warm: every weight byte came from the cache; partial: some; off: cache not used. */
  cache: 'cold' | 'warm' | 'partial' | 'off';
  /**
   * Present only when the network could not be reached: the model was loaded from the cache alone (small files,
   * headers and weights as an earlier online load kept them), not revalidated against the server. `reason`: the
   * request that failed, in words.
   */
  offline?: { reason: string };
  /** (network + cache bytes) / total time, MB/s. */
  mbPerS: number;
  tensors: number;
  peakGpuBytes: number;
  finalGpuBytes: number;
  weightBytes: number;
  /**
   * Peak host (CPU) memory of the load, as `hostMemorySource` measures it; 0 with 'none' means "not measured".
   */
  peakHostBytes: number;
  /**
   * 'rss' (Node): the process's resident-set growth during the load (on CPU WebGPU adapters this includes the GPU
   * buffers, which live in the process there). 'loader-accounted' (a browser worker, where neither
   * performance.memory nor measureUserAgentSpecificMemory exists): the most bytes of JS buffers the loader held at
   * once for weights (= peakHostBuffersBytes). 'none': no measure.
   */
  hostMemorySource: PeakHostSource;
  /**
   * The most bytes of JS buffers the loader held at once for weights (whole files, chunks, conversion and read-back
   * buffers; workers/gpu/host-ledger.ts), whatever the source above: beside rss in Node, the two can be compared.
   */
  peakHostBuffersBytes: number;
}

export type PeakHostSource = 'rss' | 'loader-accounted' | 'none';

/** One model in the cache (its files' blocks and its cached int8 weights). */
export interface CachedModelInfo {
  /** The model's base URL: what deleteCache() takes. */
  model: string;
  /** Bytes stored: file blocks + cached int8 weights + the small files kept for offline loads. */
  bytes: number;
  /** Of `bytes`, the cached int8 weights. */
  int8Bytes: number;
  /** Of `bytes`, the small files (config, tokenizer, index) kept for an offline load. */
  smallFilesBytes: number;
  /**
   * Every weight file is complete and the small files are kept: a load can take it from the cache alone when the
   * network cannot be reached (unless the server's files changed since and a later load left them partial).
   */
  offline: boolean;
  /** Bytes of the model's files (what a complete copy holds). */
  fileSize: number;
  /** Every file entry is complete. */
  complete: boolean;
  files: number;
  /** ms since the epoch. */
  updatedAt: number;
}

export interface StorageInfo {
  usage: number;
  quota: number;
  /** Whether the browser promised to keep the data under storage pressure (null: not asked yet). */
  persisted: boolean | null;
  /** Where the cache lives, in words. */
  where: string;
}

export interface ModelInfo {
  model: string;
  architecture: string;
  vocabSize: number;
  contextLength: number;
  hasChatTemplate: boolean;
  precision: 'fp16' | 'int8';
}

export interface GenerateOptions {
  maxTokens: number;
  /** 0 = greedy (argmax). */
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stop: string[];
  /** Wrap the prompt with the model's chat template (when it has one). */
  chat: boolean;
}

export interface GenerateStats {
  promptTokens: number;
  generatedTokens: number;
  ttftMs: number;
  prefillTokPerS: number;
  decodeTokPerS: number;
  stopReason: 'eos' | 'stop-string' | 'max-tokens' | 'cancelled' | 'context-full';
}

export interface TokenEvent {
  /** Newly decoded text (may be empty while a multi-byte character is incomplete). */
  text: string;
  ids: number[];
}

export interface EngineApi {
  /** Acquires the GPU (again, after a device loss). */
  init(): Promise<GpuInfo>;
  plan(req: LoadRequest): Promise<PlanReport>;
  load(req: LoadRequest, onProgress: (p: LoadProgress) => void): Promise<LoadReport>;
  cancelLoad(): void;
  unload(): Promise<void>;
  modelInfo(): Promise<ModelInfo | null>;
  generate(prompt: string, opts: GenerateOptions, onToken: (e: TokenEvent) => void): Promise<GenerateStats>;
  stopGeneration(): void;
  /**
   * Ledger samples after time t (ms since the engine's GPU context was created), the current totals, the peak since
   * the last load began, and `now` in the samples' time base (so a chart can hold the last value up to now).
   */
  memory(sinceT: number): Promise<{ samples: LedgerSample[]; current: number; peak: number; bytes: CategoryBytes; now: number }>;
  /** Resolves when the device is lost (the UI shows it and may call init() again). */
  deviceLost(): Promise<string>;
  /** The cached models, the origin's storage use (null when unknown); available: false when there is no storage. */
  listCache(): Promise<{ models: CachedModelInfo[]; storage: StorageInfo | null; available: boolean }>;
  /** Deletes a model's cached bytes (waits for a load of it to finish); returns the bytes freed. */
  deleteCache(model: string): Promise<number>;
  clearCache(): Promise<void>;
}
