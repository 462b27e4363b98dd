// The library's entry point (package 'webgpu-llm'): createEngine() and the types of what it takes and returns.
// The demo app in src/ imports this module too, by the same name.
import type { EngineApi } from '../workers/api.ts';
import { LlmEngine, type EngineBackend } from './engine-client.ts';
import { workerConnection } from './worker-connection.ts';

export interface CreateEngineOptions {
  /**
   * Starts the worker to run the engine in: a worker whose script imports 'webgpu-llm/worker'
   * (`() => new Worker(new URL('./llm.worker.js', import.meta.url), { type: 'module' })`). Default: the library's
   * own worker, bundled in it (started from a blob: URL).
   */
  worker?: () => Worker;
  /** Same-origin model paths ('models/tiny/') resolve against this URL. Default: the page's (document.baseURI). */
  baseHref?: string;
  /** Runs this engine object in this thread instead of a worker (Node: see 'webgpu-llm/node'; tests: a fake). */
  backend?: EngineBackend | EngineApi;
}

/**
 * An engine running in its own Web Worker (started on first use). Load a model, then ask for completions:
 *
 *   const engine = createEngine();
 *   await engine.load('HuggingFaceTB/SmolLM2-135M-Instruct', { onProgress: (p) => console.log(p.phase) });
 *   const chunks = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi!' }], stream: true });
 *   for await (const c of chunks) console.log(c.choices[0]?.delta.content ?? '');
 */
export function createEngine(options: CreateEngineOptions = {}): LlmEngine {
  const baseHref = options.baseHref ?? (globalThis as { document?: { baseURI?: string } }).document?.baseURI;
  const backend = options.backend;
  if (backend) return new LlmEngine(() => ({ backend, callback: (fn) => fn, close: () => {} }), baseHref);
  return new LlmEngine(() => workerConnection(options.worker), baseHref);
}

export { LlmEngine };
export type { EngineBackend, EngineConnection, EngineInfo, LoadOptions, MemoryReport, ChatCompletions, Completions } from './engine-client.ts';
export type * from './openai-types.ts';
export { EngineError, isCancel } from '../workers/errors.ts';
export type { EngineErrorCode, EngineErrorDetails } from '../workers/errors.ts';
export { LOAD_STRATEGIES, LEDGER_CATEGORIES } from '../workers/api.ts';
export type {
  CachedModelInfo,
  CategoryBytes,
  GenerateStats,
  GenerationDefaults,
  GpuInfo,
  LedgerSample,
  LoadPhase,
  LoadProgress,
  LoadReport,
  LoadStrategy,
  ModelInfo,
  PlanReport,
  SamplingUsed,
  StorageInfo,
} from '../workers/api.ts';
export { trimOldestTurns } from '../workers/model/chat-prompt.ts';
