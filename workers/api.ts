// The engine's public API: the types and constants of the worker, which implements EngineApi (engine.ts). The
// library (lib/) wraps it for callers (createEngine: the OpenAI-style chat API) and re-exports these types; src/
// reaches the engine through the library and imports from workers/ only this file and errors.ts. Plain data
// crosses; callbacks are Comlink proxies. The engine's layers import these types too (import type; workers/README.md).
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
  /**
   * A Hugging Face access token (gated or private models). Sent as `Authorization: Bearer` to https://huggingface.co
   * only, never to another host (the hub's redirects to its CDN go without it), and never stored by the engine.
   */
  hfToken?: string;
  /** The revision (branch, tag or commit) of a hub id or hub URL that names none (default 'main'). */
  revision?: string;
  /**
   * What same-origin model paths (`models/kjv-llama/`) resolve against: the page's URL. Default: the engine's own
   * base href (the worker's location, or the Node host's).
   */
  baseHref?: string;
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
  /** GPU bytes the memory ledger holds at this event (the whole device's, this load's included). */
  ledgerBytes?: number;
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
  /**
   * What the load did not take as given, in words (its plan's notes): options not followed, checkpoint tensors not
   * loaded or taken apart, generation_config.json values ignored.
   */
  notes: string[];
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
  /**
   * Whether the model has a chat template. Without one, chat messages become the prompt as their contents joined
   * as they are (no roles, no separators): a base model continues the text.
   */
  hasChatTemplate: boolean;
  precision: 'fp16' | 'int8';
  /** What a generation uses for each setting the caller leaves out (from generation_config.json). */
  generationDefaults: GenerationDefaults;
}

/**
 * The model's own sampling defaults, read from generation_config.json as Hugging Face's GenerationConfig reads it:
 * greedy unless do_sample is true (then temperature, default 1), top_k 50, top_p 1 and repetition_penalty 1 where the
 * file says nothing; EOS ids from eos_token_id (a number or a list) and the tokenizer's eos_token.
 */
export interface GenerationDefaults {
  /** 0 = greedy (do_sample false or absent). */
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  /** generation_config's max_new_tokens; null: until EOS or the context is full. */
  maxTokens: number | null;
  eosIds: number[];
}

/** One chat turn. A model's chat template usually knows the roles system, user and assistant. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/** Every field is optional: what is left out comes from the model's GenerationDefaults (seed: a random one). */
export interface GenerateOptions {
  /** Most tokens to generate (default: generation_config's max_new_tokens, else until the context is full). */
  maxTokens?: number;
  /** 0 = greedy (argmax). */
  temperature?: number;
  /** 0 = off. */
  topK?: number;
  /** (0, 1]; 1 = off. */
  topP?: number;
  /** Hugging Face's repetition penalty (> 0; 1 = off): every id already in the sequence has its logit penalised. */
  repetitionPenalty?: number;
  /** Seeds the draws of sampled tokens (a whole number); default: a random seed, reported in the stats. */
  seed?: number;
  stop?: string[];
  /** A string prompt: wrap it as one user message with the model's chat template (when it has one). */
  chat?: boolean;
}

/** The settings a generation used, defaults filled in. */
export interface SamplingUsed {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
}

export interface GenerateStats {
  /** Tokens of the prompt (BOS and chat template included), reused ones included. */
  promptTokens: number;
  /**
   * Of promptTokens, those whose keys and values were already in the KV cache from the previous generation (the
   * common prefix of the two token sequences): they were not prefilled again.
   */
  reusedTokens: number;
  generatedTokens: number;
  ttftMs: number;
  /** New (not reused) prompt tokens per second of prefill. */
  prefillTokPerS: number;
  decodeTokPerS: number;
  stopReason: 'eos' | 'stop-string' | 'max-tokens' | 'cancelled' | 'context-full';
  sampling: SamplingUsed;
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
  /**
   * Generates from a prompt (raw text; with opts.chat, one user message) or from chat messages (rendered with the
   * model's chat template, or joined as plain text without one). The KV cache of the longest common prefix with the
   * previous generation's tokens is kept: only the rest is prefilled. A prompt longer than the context throws
   * EngineError('context-full') whose details say how many of the oldest turns to drop (trimTurns).
   */
  generate(input: string | readonly ChatMessage[], opts: GenerateOptions, onToken: (e: TokenEvent) => void): Promise<GenerateStats>;
  /** Ends the running generation at its next token (stopReason 'cancelled'). */
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
