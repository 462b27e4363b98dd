// The library's engine: what createEngine() returns. It reaches the engine proper (workers/engine.ts) through a
// connection — a Web Worker through Comlink in the browser, or an Engine in this thread (Node, tests) — and adds what
// a web developer expects on top of the worker's small API: OpenAI-shaped chat and text completions with streaming,
// AbortSignals, one generation at a time in the order asked, load options by name, the GPU acquired on first use, and
// a restart that replaces a stuck worker.
import type {
  CachedModelInfo,
  CategoryBytes,
  ChatMessage,
  EngineApi,
  GenerateOptions,
  GenerateStats,
  GpuInfo,
  LedgerSample,
  LoadProgress,
  LoadReport,
  LoadRequest,
  LoadStrategy,
  ModelInfo,
  PlanReport,
  StorageInfo,
  TokenEvent,
} from '../workers/api.ts';
import { EngineError } from '../workers/errors.ts';
import { resolveSampling } from '../workers/model/generation-config.ts';
import { chatCompletion, chatCompletionStream, textCompletion, textCompletionStream, type Generation } from './completions.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatCompletionRequestNonStreaming,
  ChatCompletionRequestStreaming,
  Completion,
  CompletionRequest,
  CompletionRequestNonStreaming,
  CompletionRequestStreaming,
} from './openai-types.ts';

/** The engine as a connection reaches it: every EngineApi method, answering now or with a promise. */
export type EngineBackend = {
  [K in keyof EngineApi]: (...args: Parameters<EngineApi[K]>) => ReturnType<EngineApi[K]> | Promise<Awaited<ReturnType<EngineApi[K]>>>;
};

/** How the client reaches its engine. */
export interface EngineConnection {
  backend: EngineBackend;
  /** Marks a callback for the backend to call (Comlink.proxy across a worker; as it is in this thread). */
  callback<T extends object>(fn: T): T;
  /** Stops the engine (terminates its worker). Calls in flight get no answer: the client fails them. */
  close(): void;
}

export interface LoadOptions {
  /** How weights are loaded (default 'streamed'; see LOAD_STRATEGIES). */
  strategy?: LoadStrategy;
  /** Quantize linear layers to int8 while loading (LLM.int8): the 'streamed-int8' strategy. */
  int8?: boolean;
  /** LLM.int8 outlier threshold (default 6; 0 turns the decomposition off). */
  threshold?: number;
  /** int8: quantize lm_head too (ignored with tied embeddings). */
  int8LmHead?: boolean;
  /** Positions the KV cache holds (default: min(the model's maximum, 2048)). */
  contextLength?: number;
  /** Refuse a model whose plan needs more GPU bytes than this. */
  vramBudgetBytes?: number;
  /** Keep weights in the browser's storage for the next load (default true; streamed strategies only). */
  cache?: boolean;
  /** A Hugging Face access token: sent as `Authorization: Bearer` to https://huggingface.co only. */
  hfToken?: string;
  /** Branch, tag or commit of a hub model (default 'main'). */
  revision?: string;
  onProgress?: (p: LoadProgress) => void;
  /** Cancels the load: it rejects with EngineError('cancelled') and frees what it allocated. */
  signal?: AbortSignal;
}

export interface MemoryReport {
  /** Ledger samples after `sinceT` (ms since the GPU device was acquired). */
  samples: LedgerSample[];
  /** GPU bytes held now, and the most held at once. */
  current: number;
  peak: number;
  bytes: CategoryBytes;
  /** The engine's clock now, in the samples' time base (ms since the GPU device was acquired). */
  now: number;
}

export interface EngineInfo {
  /** The adapter, its features and limits. */
  gpu: GpuInfo;
  /** The loaded model, or null. */
  model: ModelInfo | null;
}

export interface ChatCompletions {
  create(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion>;
}

export interface Completions {
  create(request: CompletionRequestStreaming): Promise<AsyncIterable<Completion>>;
  create(request: CompletionRequestNonStreaming): Promise<Completion>;
  create(request: CompletionRequest): Promise<AsyncIterable<Completion> | Completion>;
}

/** The load request of `model` with `o` (EngineError 'bad-input' when int8 and the strategy disagree). */
export function loadRequest(model: string, o: Omit<LoadOptions, 'onProgress' | 'signal'>, baseHref: string | undefined): LoadRequest {
  let strategy: LoadStrategy = o.strategy ?? (o.int8 ? 'streamed-int8' : 'streamed');
  if (o.int8 === true && strategy !== 'streamed-int8') {
    if (o.strategy !== 'streamed') {
      throw new EngineError('bad-input', `int8 needs the streamed strategy, not '${strategy}'`, { setting: 'int8' });
    }
    strategy = 'streamed-int8';
  }
  if (o.int8 === false && strategy === 'streamed-int8') {
    throw new EngineError('bad-input', "int8: false contradicts the 'streamed-int8' strategy", { setting: 'int8' });
  }
  const req: LoadRequest = { model, strategy };
  if (o.contextLength !== undefined) req.contextLength = o.contextLength;
  if (o.vramBudgetBytes !== undefined) req.vramBudgetBytes = o.vramBudgetBytes;
  if (o.threshold !== undefined) req.int8Threshold = o.threshold;
  if (o.int8LmHead) req.int8LmHead = true;
  if (o.cache === false) req.cache = 'off';
  if (o.hfToken) req.hfToken = o.hfToken;
  if (o.revision) req.revision = o.revision;
  if (baseHref) req.baseHref = baseHref;
  return req;
}

function stoppedError(): EngineError {
  return new EngineError('cancelled', "the engine's worker was stopped (terminate or restart)");
}

export class LlmEngine {
  /** OpenAI's chat completions: `await engine.chat.completions.create({ messages, stream: true })`. */
  readonly chat: { completions: ChatCompletions };
  /** OpenAI's (legacy) text completions: raw text in, its continuation out, no chat template. */
  readonly completions: Completions;

  private conn: { c: Promise<EngineConnection>; ready: EngineConnection | null; stopped: Promise<never>; stop: () => void } | null = null;
  private gpu: Promise<GpuInfo> | null = null;
  private modelId: string | null = null;
  /** Counts load() calls: only the latest one says which model answers (an earlier one ends as it is cancelled). */
  private loads = 0;
  /** Resolves when the generation asked for last has ended: the next one waits for it. */
  private lastGeneration: Promise<void> = Promise.resolve();

  /**
   * connect: starts the engine (called on first use, and again after restart()). baseHref: what same-origin model
   * paths resolve against (the page's URL in a browser).
   */
  constructor(
    private readonly connect: () => EngineConnection | Promise<EngineConnection>,
    private readonly baseHref?: string,
  ) {
    const generation: Generation = { run: (...a) => this.generate(...a), model: () => this.modelId ?? '' };
    const chatCreate = (r: ChatCompletionRequest) =>
      r.stream ? Promise.resolve(chatCompletionStream(generation, r)) : chatCompletion(generation, r);
    const textCreate = (r: CompletionRequest) =>
      r.stream ? Promise.resolve(textCompletionStream(generation, r)) : textCompletion(generation, r);
    this.chat = { completions: { create: chatCreate as ChatCompletions['create'] } };
    this.completions = { create: textCreate as Completions['create'] };
  }

  /**
   * Runs f on the backend (at once when the engine is started, so calls reach it in the order they are made); fails
   * with 'cancelled' if the engine is stopped before it answers.
   */
  private call<T>(f: (b: EngineBackend, conn: EngineConnection) => T | Promise<T>): Promise<Awaited<T>> {
    if (!this.conn) {
      let stop!: () => void;
      const stopped = new Promise<never>((_, reject) => (stop = () => reject(stoppedError())));
      stopped.catch(() => {});
      const conn: NonNullable<LlmEngine['conn']> = { c: Promise.resolve().then(this.connect), ready: null, stopped, stop };
      conn.c.then((c) => (conn.ready = c), () => {});
      this.conn = conn;
    }
    const { c, ready, stopped } = this.conn;
    const run = (conn: EngineConnection) => Promise.race([Promise.resolve(f(conn.backend, conn)) as Promise<Awaited<T>>, stopped]);
    if (ready) {
      try {
        return run(ready);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return Promise.race([c, stopped]).then(run);
  }

  /** Acquires the GPU (again, after a device loss: the old device and anything on it are dropped). */
  init(): Promise<GpuInfo> {
    const p = this.call((b) => b.init());
    this.gpu = p;
    this.modelId = null;
    p.catch(() => {
      if (this.gpu === p) this.gpu = null;
    });
    return p;
  }

  /** The GPU, acquired on first use. */
  private ready(): Promise<GpuInfo> {
    return this.gpu ?? this.init();
  }

  /** Resolves with the reason when the GPU device acquired last is lost (the next load acquires a new one). */
  async deviceLost(): Promise<string> {
    const gpu = this.gpu;
    const reason = await this.call((b) => b.deviceLost());
    if (this.gpu === gpu) {
      this.gpu = null;
      this.modelId = null;
    }
    return reason;
  }

  /** The pre-flight plan of a load: GPU bytes by category and whether it fits, from config and headers alone. */
  async plan(model: string, options: Omit<LoadOptions, 'onProgress' | 'signal'> = {}): Promise<PlanReport> {
    const req = loadRequest(model, options, this.baseHref);
    await this.ready();
    return this.call((b) => b.plan(req));
  }

  /**
   * Loads a model (a hub id such as 'HuggingFaceTB/SmolLM2-135M-Instruct', a model folder's URL, or a same-origin
   * path), replacing the one loaded. Rejects with a typed EngineError; a failed or cancelled load frees its memory.
   */
  async load(model: string, options: LoadOptions = {}): Promise<LoadReport> {
    const { onProgress, signal, ...rest } = options;
    const req = loadRequest(model, rest, this.baseHref);
    if (signal?.aborted) throw new EngineError('cancelled', 'the load was cancelled');
    await this.ready();
    const seq = ++this.loads;
    const onAbort = () => void this.call((b) => b.cancelLoad()).catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    const attempt = () => this.call((b, conn) => b.load(req, conn.callback((p: LoadProgress) => onProgress?.(p))));
    try {
      let report: LoadReport;
      try {
        report = await attempt();
      } catch (e) {
        // The device was lost since it was acquired: acquire a new one and load on it.
        if (!(e instanceof EngineError && e.code === 'device-lost') || signal?.aborted) throw e;
        await this.init();
        report = await attempt();
      }
      if (seq === this.loads) this.modelId = model;
      return report;
    } catch (e) {
      // A failed or cancelled load keeps the model that worked before it, if the engine still holds one (not after a
      // device loss): answers go on naming it.
      if (seq === this.loads) {
        const previous = this.modelId;
        const info = await this.modelInfo().catch(() => null);
        if (seq === this.loads) this.modelId = info ? previous : null;
      }
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Frees the model (a generation in progress ends first). The GPU stays acquired. */
  async unload(): Promise<void> {
    this.modelId = null;
    await this.call((b) => b.unload());
  }

  async modelInfo(): Promise<ModelInfo | null> {
    return this.call((b) => b.modelInfo());
  }

  /** The adapter (vendor, architecture, features, limits) and the loaded model. */
  async info(): Promise<EngineInfo> {
    const gpu = await this.ready();
    return { gpu, model: await this.modelInfo() };
  }

  /** The GPU memory ledger: samples after sinceT, and the bytes held now by category. */
  async memory(sinceT = -1): Promise<MemoryReport> {
    return this.call((b) => b.memory(sinceT));
  }

  /** Models in the browser's cache, and the origin's storage use (available: false without storage). */
  listCache(): Promise<{ models: CachedModelInfo[]; storage: StorageInfo | null; available: boolean }> {
    return this.call((b) => b.listCache());
  }

  /** Deletes a model's cached bytes; returns how many were freed. */
  deleteCache(model: string): Promise<number> {
    return this.call((b) => b.deleteCache(model));
  }

  clearCache(): Promise<void> {
    return this.call((b) => b.clearCache());
  }

  /**
   * Stops the engine's worker at once, even in the middle of a call (a chat template that never ends, a stuck
   * kernel): calls in flight reject with EngineError('cancelled'), the model and GPU device are gone. The next call
   * starts a new worker.
   */
  terminate(): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = null;
    this.gpu = null;
    this.modelId = null;
    this.lastGeneration = Promise.resolve();
    conn.stop();
    void conn.c.then((c) => c.close(), () => {});
  }

  /** terminate(), then start a new worker and acquire the GPU again. */
  async restart(): Promise<GpuInfo> {
    this.terminate();
    return this.init();
  }

  /**
   * One generation, after the one asked for before it has ended. The signal stops it (stats.stopReason
   * 'cancelled'), also while it waits: then it never starts.
   */
  private async generate(
    input: string | readonly ChatMessage[],
    opts: GenerateOptions,
    onText: (text: string) => void,
    signal: AbortSignal | undefined,
  ): Promise<GenerateStats> {
    const before = this.lastGeneration;
    let done!: () => void;
    this.lastGeneration = new Promise<void>((r) => (done = r));
    try {
      await waitUnlessAborted(before, signal);
      if (signal?.aborted) return this.notStarted(opts);
      const onAbort = () => void this.call((b) => b.stopGeneration()).catch(() => {});
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await this.call((b, conn) => b.generate(input, opts, conn.callback((e: TokenEvent) => onText(e.text))));
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    } finally {
      done();
    }
  }

  /** The stats of a generation cancelled before it began (the settings it would have used). */
  private async notStarted(opts: GenerateOptions): Promise<GenerateStats> {
    const info = await this.modelInfo();
    if (!info) throw new EngineError('bad-input', 'No model is loaded: load one first.', { setting: 'model' });
    return {
      promptTokens: 0,
      reusedTokens: 0,
      generatedTokens: 0,
      ttftMs: 0,
      prefillTokPerS: 0,
      decodeTokPerS: 0,
      stopReason: 'cancelled',
      sampling: resolveSampling(opts, info.generationDefaults, info.contextLength),
    };
  }
}

/** Waits for p, or until the signal fires. */
function waitUnlessAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
