// The engine behind the worker API. Runs in the browser worker and in Node (tests, CLIs) unchanged: it is given a
// function returning the GPU object (navigator.gpu, or Dawn's) and the base href that same-origin model paths resolve
// against, and optionally the storage for the byte cache (OPFS in the browser, a directory in Node: the host picks it,
// so nothing here imports node: modules).
import type {
  CachedModelInfo,
  ChatMessage,
  EngineApi,
  GenerateOptions,
  GenerateStats,
  GenerationDefaults,
  LoadProgress,
  LoadReport,
  LoadRequest,
  ModelInfo,
  PlanReport,
  StorageInfo,
  TokenEvent,
} from './api.ts';
import type { StorageBackend } from './cache/backend.ts';
import { ByteCache, type ByteCacheOptions, type CachedModel } from './cache/store.ts';
import { EngineError } from './errors.ts';
import { acquireGpu, gpuInfo, type GpuContext, type GpuInfo } from './gpu/device.ts';
import type { CategoryBytes, LedgerSample } from './gpu/ledger.ts';
import { CachedSequence } from './model/cached-sequence.ts';
import { generate } from './model/generate.ts';
import { disposeModel, loadModel, prepareModel, type LoadedModel } from './load/load-model.ts';
import { validateGenerateOptions, validateInput, validateLoadRequest } from './validate-request.ts';

export interface EngineHost {
  gpu: () => GPU | undefined | null;
  baseHref: string;
  /** Where the byte cache keeps its files; null or absent: every load comes from the network. */
  cacheBackend?: StorageBackend | null;
  cacheOptions?: ByteCacheOptions;
}

function cachedModelInfo(m: CachedModel): CachedModelInfo {
  const files = m.files.filter((f) => f.kind === 'file');
  const int8Bytes = m.files.filter((f) => f.kind === 'int8').reduce((a, f) => a + f.bytes, 0);
  const small = m.files.filter((f) => f.kind === 'source');
  return {
    model: m.model,
    bytes: m.bytes,
    int8Bytes,
    smallFilesBytes: small.reduce((a, f) => a + f.bytes, 0),
    offline: m.complete && files.length > 0 && small.some((f) => f.complete),
    fileSize: files.reduce((a, f) => a + f.size, 0),
    complete: m.complete,
    files: files.length,
    updatedAt: m.updatedAt,
  };
}

/** A load or a generation in flight: its abort, and a promise that settles (never rejects) once it is over. */
interface Running {
  abort: AbortController;
  over: Promise<void>;
}

/** The loaded model, what its KV cache holds between generations, and its generation defaults. */
interface Active {
  model: LoadedModel;
  sequence: CachedSequence;
  defaults: GenerationDefaults;
}

function deviceLostError(reason: string, what: string): EngineError {
  return new EngineError('device-lost', `the GPU device was lost (${reason}) ${what}`, { reason });
}

export class Engine implements EngineApi {
  private ctx: GpuContext | null = null;
  private lostReason: Promise<string> | null = null;
  /** Why the device was lost (null while there is a live one, or none was acquired). */
  private lost: string | null = null;
  /** The model that was loaded when the device was lost: generate() says device-lost until it is loaded again. */
  private lostModel: string | null = null;
  private active: Active | null = null;
  private loading: Running | null = null;
  private generating: Running | null = null;
  private cacheOpened: Promise<ByteCache | null> | null = null;

  constructor(private readonly host: EngineHost) {}

  /** The byte cache, opened once; null when the host gives no storage or it cannot be opened (loads go uncached). */
  private cache(): Promise<ByteCache | null> {
    const backend = this.host.cacheBackend;
    this.cacheOpened ??= backend
      ? ByteCache.open(backend, this.host.cacheOptions).catch((e: unknown) => {
          console.warn(`cache: ${backend.where} cannot be opened; loading without a cache`, e);
          return null;
        })
      : Promise.resolve(null);
    return this.cacheOpened;
  }

  async init(): Promise<GpuInfo> {
    await this.settle(this.loading);
    await this.settle(this.generating);
    if (this.ctx) {
      this.dropModel();
      this.ctx.ledger.destroyAll();
      this.ctx.device.destroy();
      this.ctx = null;
    }
    this.lostModel = null;
    const ctx = await acquireGpu(this.host.gpu());
    this.ctx = ctx;
    this.lost = null;
    this.lostReason = ctx.lost.then((info) => {
      const reason = `${info.reason}: ${info.message}`;
      if (this.ctx === ctx) {
        // Everything on a lost device is gone: forget the model (and its KV cache) so that nothing uses dead buffers,
        // and end what runs on it (a load fails with 'device-lost', a generation stops).
        this.lost = reason;
        if (this.active) this.lostModel = this.active.model.source.input;
        this.active = null;
        this.ctx = null;
        this.loading?.abort.abort();
        this.generating?.abort.abort();
      }
      return reason;
    });
    return gpuInfo(ctx);
  }

  private gpu(): GpuContext {
    if (!this.ctx) {
      throw this.lost
        ? deviceLostError(this.lost, ': call init() to get a new device, then load the model again')
        : new EngineError('device-lost', 'No GPU device: call init() first (or again after a device loss).');
    }
    return this.ctx;
  }

  /** Aborts `r` (when given) and waits until it is over: its buffers are freed, its promise settled. */
  private async settle(r: Running | null): Promise<void> {
    if (!r) return;
    r.abort.abort();
    await r.over;
  }

  async plan(req: LoadRequest): Promise<PlanReport> {
    const request = validateLoadRequest(req);
    const prepared = await prepareModel(this.gpu(), request, this.loadOptions(request));
    return prepared.plan;
  }

  /**
   * Loads a model. One load at a time: a second load() cancels the first and starts once the first is over (its
   * buffers freed), so each report agrees with the ledger. The model loaded before stays until the new load's plan
   * fits and it is about to allocate: a load that fails before (a missing file, a bad config, a plan that does not
   * fit) keeps it. A device lost during the load fails it with 'device-lost'.
   */
  async load(req: LoadRequest, onProgress: (p: LoadProgress) => void): Promise<LoadReport> {
    const request = validateLoadRequest(req);
    this.gpu();
    const previous = this.loading;
    const abort = new AbortController();
    const run = this.runLoad(request, onProgress, abort, previous);
    const mine: Running = { abort, over: run.then(() => {}, () => {}) };
    this.loading = mine;
    try {
      return await run;
    } finally {
      if (this.loading === mine) this.loading = null;
    }
  }

  private async runLoad(
    req: LoadRequest,
    onProgress: (p: LoadProgress) => void,
    abort: AbortController,
    previous: Running | null,
  ): Promise<LoadReport> {
    await this.settle(previous);
    if (abort.signal.aborted) throw new EngineError('cancelled', 'the load was cancelled');
    const ctx = this.gpu();
    let model: LoadedModel | null = null;
    try {
      const cache = req.cache === 'off' ? null : await this.cache();
      const withLedger = (p: LoadProgress) => onProgress({ ...p, ledgerBytes: ctx.ledger.current });
      model = await loadModel(ctx, req, {
        ...this.loadOptions(req),
        signal: abort.signal,
        onProgress: withLedger,
        cache,
        beforeAllocate: async () => {
          await this.settle(this.generating);
          this.dropModel();
        },
      });
      if (this.ctx !== ctx) throw deviceLostError(this.lost ?? 'unknown reason', 'while the model loaded: nothing of it was kept');
      this.active = {
        model,
        sequence: new CachedSequence(model.config.vocabSize),
        defaults: model.generationDefaults,
      };
      this.lostModel = null;
      return model.report;
    } catch (e) {
      if (model && this.active?.model !== model) disposeModel(model);
      if (this.ctx !== ctx) {
        throw e instanceof EngineError && e.code === 'device-lost'
          ? e
          : deviceLostError(this.lost ?? 'unknown reason', 'while the model loaded: nothing of it was kept');
      }
      if (abort.signal.aborted) throw new EngineError('cancelled', 'the load was cancelled');
      throw e;
    }
  }

  /** Where same-origin paths resolve, and the hub token for the load's requests to the hub. */
  private loadOptions(req: LoadRequest): { baseHref: string; http: { hubToken?: string } } {
    return { baseHref: req.baseHref ?? this.host.baseHref, http: req.hfToken ? { hubToken: req.hfToken } : {} };
  }

  cancelLoad(): void {
    this.loading?.abort.abort();
  }

  /** Cancels a load, stops a generation (it ends with stopReason 'cancelled') and waits for both, then frees the model. */
  async unload(): Promise<void> {
    await this.settle(this.loading);
    await this.settle(this.generating);
    this.dropModel();
    this.lostModel = null;
  }

  private dropModel(): void {
    if (this.active) disposeModel(this.active.model);
    this.active = null;
  }

  async modelInfo(): Promise<ModelInfo | null> {
    if (!this.active || !this.ctx) return null;
    const { model: m, defaults } = this.active;
    return {
      model: m.source.input,
      architecture: m.config.architecture,
      vocabSize: m.config.vocabSize,
      contextLength: m.transformer.contextLength,
      hasChatTemplate: m.tokenizer.hasChatTemplate,
      precision: m.precision,
      generationDefaults: defaults,
    };
  }

  async generate(input: string | readonly ChatMessage[], opts: GenerateOptions, onToken: (e: TokenEvent) => void): Promise<GenerateStats> {
    const checked = validateInput(input);
    const options = validateGenerateOptions(opts);
    const a = this.active;
    const ctx = this.ctx;
    if (!a || !ctx) {
      if (this.lostModel !== null && this.lost) {
        throw deviceLostError(this.lost, `and ${this.lostModel} with it: reconnect the GPU and load the model again`);
      }
      throw new EngineError('bad-input', 'No model is loaded: load one first.', { setting: 'model' });
    }
    if (this.generating) throw new EngineError('bad-input', 'A generation is already running: stop it first.');
    const abort = new AbortController();
    const { transformer, tokenizer } = a.model;
    // Across a worker, onToken is a Comlink proxy: each call is a message on the callback's own port, which is not
    // ordered with the port the answer goes back on. The answer waits until the page has taken the last event (its
    // call's promise), so no text arrives after the stats. In this thread the call returns nothing to wait for.
    let lastDelivery: unknown;
    const deliver = (e: TokenEvent) => {
      lastDelivery = (onToken as (e: TokenEvent) => unknown)(e);
    };
    const delivered = () => Promise.resolve(lastDelivery).then(() => {}, () => {});
    const run = generate(transformer, tokenizer, checked, options, deliver, {
      signal: abort.signal,
      sequence: a.sequence,
      defaults: a.defaults,
    });
    const mine: Running = { abort, over: run.then(() => {}, () => {}) };
    this.generating = mine;
    const lostDuring = () => deviceLostError(this.lost ?? 'unknown reason', 'during the generation: reconnect the GPU and load the model again');
    try {
      const stats = await run;
      await delivered();
      if (this.ctx !== ctx) throw lostDuring();
      return stats;
    } catch (e) {
      if (this.ctx !== ctx) throw e instanceof EngineError && e.code === 'device-lost' ? e : lostDuring();
      throw e;
    } finally {
      if (this.generating === mine) this.generating = null;
    }
  }

  stopGeneration(): void {
    this.generating?.abort.abort();
  }

  async memory(sinceT: number): Promise<{ samples: LedgerSample[]; current: number; peak: number; bytes: CategoryBytes; now: number }> {
    const { ledger } = this.gpu();
    return { samples: ledger.samples(sinceT), current: ledger.current, peak: ledger.peak, bytes: ledger.byCategory(), now: ledger.elapsed() };
  }

  async listCache(): Promise<{ models: CachedModelInfo[]; storage: StorageInfo | null; available: boolean }> {
    const cache = await this.cache();
    if (!cache) return { models: [], storage: null, available: false };
    const [models, est] = await Promise.all([cache.list(), cache.backend.estimate()]);
    const storage = est ? { ...est, persisted: cache.persisted, where: cache.backend.where } : null;
    return { models: models.map(cachedModelInfo), storage, available: true };
  }

  async deleteCache(model: string): Promise<number> {
    const cache = await this.cache();
    return cache ? cache.deleteModel(model) : 0;
  }

  async clearCache(): Promise<void> {
    const cache = await this.cache();
    if (!cache) return;
    // Model by model, each under its lock (a load in flight finishes first), then whatever is left.
    for (const m of await cache.list()) await cache.deleteModel(m.model);
    await cache.clear();
  }

  deviceLost(): Promise<string> {
    if (!this.lostReason) throw new EngineError('device-lost', 'No GPU device: call init() first.');
    return this.lostReason;
  }
}
