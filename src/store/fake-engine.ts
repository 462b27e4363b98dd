// An in-process EngineApi for the store's unit tests: scripted plan/load/generate, a ledger that follows them.
import type {
  CachedModelInfo,
  ChatMessage,
  CategoryBytes,
  EngineApi,
  GenerateOptions,
  GenerateStats,
  GpuInfo,
  LedgerSample,
  LoadProgress,
  LoadReport,
  LoadRequest,
  ModelInfo,
  PlanReport,
  TokenEvent,
} from '../../workers/api.ts';
import { EngineError } from '../../workers/errors.ts';

const zero = (): CategoryBytes => ({ weights: 0, scales: 0, outliers: 0, 'kv-cache': 0, activations: 0, staging: 0, uniforms: 0 });

export class FakeEngine implements EngineApi {
  calls: string[] = [];
  loadError: EngineError | null = null;
  /** When set, the next load() loses the device (the newest deviceLost() resolves) and throws 'device-lost'. */
  loseDeviceOnLoad: string | null = null;
  /** When set, load() waits for cancelLoad() and throws 'cancelled'. */
  holdLoad = false;
  tokens = [' of', ' the', ' reign'];
  lastGenerate: { prompt: string | readonly ChatMessage[]; opts: GenerateOptions } | null = null;
  /** When set, generate() throws it. */
  generateError: EngineError | null = null;
  /** When set, generate() streams its tokens, then waits for stopGeneration() and ends 'cancelled'. */
  holdGenerate = false;
  private stopGenerate: (() => void) | null = null;
  lastLoad: LoadRequest | null = null;
  hasChatTemplate = false;
  /** Models "in the cache" (a load adds its model; with cache 'off' it does not). */
  cached = new Map<string, CachedModelInfo>();
  cacheAvailable = true;
  private t = 0;
  private samples: LedgerSample[] = [];
  private bytes = zero();
  private peak = 0;
  private loaded: ModelInfo | null = null;
  private cancel: (() => void) | null = null;
  /** One resolver per deviceLost() call, oldest first. */
  private lost: ((reason: string) => void)[] = [];

  private record(): void {
    this.t += 10;
    const total = Object.values(this.bytes).reduce((a, b) => a + b, 0);
    this.peak = Math.max(this.peak, total);
    this.samples.push({ t: this.t, total, bytes: { ...this.bytes } });
  }

  /** Loses the device of the newest connection, or of the `which`-th deviceLost() call. */
  loseDevice(reason: string, which = this.lost.length - 1): void {
    this.lost[which]?.(reason);
  }

  async init(): Promise<GpuInfo> {
    this.calls.push('init');
    // A new object each time, as each acquisition through a worker is.
    return { adapter: { vendor: 'fake', architecture: 'test', description: '', device: '' } } as unknown as GpuInfo;
  }

  async plan(req: LoadRequest): Promise<PlanReport> {
    this.calls.push('plan');
    const bytes = { ...zero(), weights: 6_000_000, 'kv-cache': 1_000_000 };
    const budget = req.vramBudgetBytes ?? Infinity;
    const fits = 7_000_000 <= budget;
    return {
      model: req.model, architecture: 'llama', parameters: 3_000_000, bytes, totalBytes: 7_000_000,
      largestTensor: { name: 'lm_head.weight', bytes: 2_000_000 }, contextLength: req.contextLength ?? 1024, fits,
      reasons: fits ? [] : ['it needs 6.7 MiB and the budget is smaller'],
      ...(req.strategy === 'streamed-int8' ? { int8Scope: req.int8LmHead ? ('decoder+lm_head' as const) : ('decoder' as const) } : {}),
      notes: [],
    };
  }

  async load(req: LoadRequest, onProgress: (p: LoadProgress) => void): Promise<LoadReport> {
    this.calls.push('load');
    this.lastLoad = req;
    if (this.loseDeviceOnLoad !== null) {
      this.loseDevice(this.loseDeviceOnLoad);
      this.loseDeviceOnLoad = null;
      throw new EngineError('device-lost', 'the GPU device was lost');
    }
    this.bytes.weights = 3_000_000;
    this.record();
    onProgress({ phase: 'download', bytesDone: 50, bytesTotal: 100, tensorsDone: 1, tensorsTotal: 2, mbPerS: 10, etaS: 1 });
    if (this.holdLoad) {
      await new Promise<void>((resolve) => (this.cancel = resolve));
      this.bytes = zero();
      this.record();
      throw new EngineError('cancelled', 'cancelled');
    }
    if (this.loadError) {
      this.bytes = zero();
      this.record();
      throw this.loadError;
    }
    this.bytes.weights = 6_000_000;
    this.record();
    onProgress({ phase: 'done', bytesDone: 100, bytesTotal: 100, tensorsDone: 2, tensorsTotal: 2, mbPerS: 10, etaS: 0 });
    const warm = req.cache !== 'off' && this.cached.has(req.model);
    if (req.cache !== 'off' && this.cacheAvailable) {
      this.cached.set(req.model, { model: req.model, bytes: 100, int8Bytes: 0, smallFilesBytes: 0, offline: false, fileSize: 100, complete: true, files: 1, updatedAt: this.t });
    }
    this.loaded = { model: req.model, architecture: 'llama', vocabSize: 4096, contextLength: 1024, hasChatTemplate: this.hasChatTemplate, precision: req.strategy === 'streamed-int8' ? 'int8' : 'fp16',
      generationDefaults: { temperature: 0, topK: 50, topP: 1, repetitionPenalty: 1, maxTokens: null, eosIds: [1] } };
    return {
      model: req.model, strategy: req.strategy,
      timings: { totalMs: 100, networkMs: 50, convertMs: 10, uploadMs: 30, quantizeMs: 0, compileMs: 10, cacheMs: 0 },
      bytesFetched: warm ? 0 : 100, bytesFromCache: warm ? 100 : 0,
      cache: req.cache === 'off' || !this.cacheAvailable ? 'off' : warm ? 'warm' : 'cold', mbPerS: 10, tensors: 2, peakGpuBytes: 6_000_000, finalGpuBytes: 6_000_000, weightBytes: 6_000_000,
      peakHostBytes: 1_000_000, hostMemorySource: 'loader-accounted', peakHostBuffersBytes: 1_000_000, notes: [],
    };
  }

  cancelLoad(): void {
    this.calls.push('cancelLoad');
    this.cancel?.();
  }

  async unload(): Promise<void> {
    this.calls.push('unload');
    this.loaded = null;
    this.bytes = zero();
    this.record();
  }

  async modelInfo(): Promise<ModelInfo | null> {
    return this.loaded;
  }

  async generate(prompt: string | readonly ChatMessage[], opts: GenerateOptions, onToken: (e: TokenEvent) => void): Promise<GenerateStats> {
    this.calls.push('generate');
    this.lastGenerate = { prompt, opts };
    if (this.generateError) throw this.generateError;
    for (const [i, text] of this.tokens.entries()) onToken({ text, ids: [i] });
    if (this.holdGenerate) await new Promise<void>((resolve) => (this.stopGenerate = resolve));
    return {
      promptTokens: 4, reusedTokens: 2, generatedTokens: this.tokens.length, ttftMs: 5, prefillTokPerS: 800, decodeTokPerS: 120,
      stopReason: this.holdGenerate ? 'cancelled' : 'max-tokens',
      sampling: { maxTokens: opts.maxTokens ?? 3, temperature: opts.temperature ?? 0, topK: opts.topK ?? 50, topP: opts.topP ?? 1, repetitionPenalty: 1, seed: opts.seed ?? 0 },
    };
  }

  stopGeneration(): void {
    this.calls.push('stopGeneration');
    this.stopGenerate?.();
    this.stopGenerate = null;
  }

  async memory(sinceT: number) {
    return { samples: this.samples.filter((s) => s.t > sinceT), current: this.samples.at(-1)?.total ?? 0, peak: this.peak, bytes: { ...this.bytes }, now: this.t + 5 };
  }

  async listCache() {
    this.calls.push('listCache');
    const storage = this.cacheAvailable ? { usage: 1000, quota: 1_000_000, persisted: true, where: 'fake' } : null;
    return { models: [...this.cached.values()], storage, available: this.cacheAvailable };
  }

  async deleteCache(model: string): Promise<number> {
    this.calls.push('deleteCache');
    const bytes = this.cached.get(model)?.bytes ?? 0;
    this.cached.delete(model);
    return bytes;
  }

  async clearCache(): Promise<void> {
    this.calls.push('clearCache');
    this.cached.clear();
  }

  deviceLost(): Promise<string> {
    return new Promise((resolve) => this.lost.push(resolve));
  }
}
