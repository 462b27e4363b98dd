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
import { generationDefaults } from './model/generation-config.ts';
import { disposeModel, loadModel, prepareModel, type LoadedModel } from './load/load-model.ts';

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

/** The loaded model, what its KV cache holds between generations, and its generation defaults. */
interface Active {
  model: LoadedModel;
  sequence: CachedSequence;
  defaults: GenerationDefaults;
}

export class Engine implements EngineApi {
  private ctx: GpuContext | null = null;
  private lostReason: Promise<string> | null = null;
  private active: Active | null = null;
  private loading: AbortController | null = null;
  private generating: AbortController | null = null;
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
    if (this.ctx) {
      this.dropModel();
      this.ctx.ledger.destroyAll();
      this.ctx.device.destroy();
      this.ctx = null;
    }
    const ctx = await acquireGpu(this.host.gpu());
    this.ctx = ctx;
    this.lostReason = ctx.lost.then((info) => {
      if (this.ctx === ctx) {
        // Everything on a lost device is gone: forget the model so that nothing uses dead buffers.
        this.active = null;
        this.ctx = null;
      }
      return `${info.reason}: ${info.message}`;
    });
    return gpuInfo(ctx);
  }

  private gpu(): GpuContext {
    if (!this.ctx) throw new EngineError('device-lost', 'No GPU device: call init() first (or again after a device loss).');
    return this.ctx;
  }

  async plan(req: LoadRequest): Promise<PlanReport> {
    const prepared = await prepareModel(this.gpu(), req, this.loadOptions(req));
    return prepared.plan;
  }

  async load(req: LoadRequest, onProgress: (p: LoadProgress) => void): Promise<LoadReport> {
    const ctx = this.gpu();
    this.loading?.abort();
    this.stopGeneration();
    this.dropModel();
    const abort = new AbortController();
    this.loading = abort;
    try {
      const cache = req.cache === 'off' ? null : await this.cache();
      const withLedger = (p: LoadProgress) => onProgress({ ...p, ledgerBytes: ctx.ledger.current });
      const model = await loadModel(ctx, req, { ...this.loadOptions(req), signal: abort.signal, onProgress: withLedger, cache });
      this.active = {
        model,
        sequence: new CachedSequence(model.config.vocabSize),
        defaults: generationDefaults(model.source.generationConfig, model.tokenizer.eosIds),
      };
      return model.report;
    } catch (e) {
      if (abort.signal.aborted) throw new EngineError('cancelled', 'the load was cancelled');
      throw e;
    } finally {
      if (this.loading === abort) this.loading = null;
    }
  }

  /** Where same-origin paths resolve, and the hub token for the load's requests to the hub. */
  private loadOptions(req: LoadRequest): { baseHref: string; http: { hubToken?: string } } {
    return { baseHref: req.baseHref ?? this.host.baseHref, http: req.hfToken ? { hubToken: req.hfToken } : {} };
  }

  cancelLoad(): void {
    this.loading?.abort();
  }

  async unload(): Promise<void> {
    this.loading?.abort();
    this.stopGeneration();
    this.dropModel();
  }

  private dropModel(): void {
    if (this.active) disposeModel(this.active.model);
    this.active = null;
  }

  async modelInfo(): Promise<ModelInfo | null> {
    if (!this.active) return null;
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
    const a = this.active;
    if (!a) throw new EngineError('bad-input', 'No model is loaded: load one first.', { setting: 'model' });
    if (this.generating) throw new EngineError('bad-input', 'A generation is already running: stop it first.');
    const abort = new AbortController();
    this.generating = abort;
    try {
      const { transformer, tokenizer } = a.model;
      return await generate(transformer, tokenizer, input, opts, onToken, {
        signal: abort.signal,
        sequence: a.sequence,
        defaults: a.defaults,
      });
    } finally {
      this.generating = null;
    }
  }

  stopGeneration(): void {
    this.generating?.abort();
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
