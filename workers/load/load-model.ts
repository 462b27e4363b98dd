// From a model input to a runnable model, in three separable steps: read the small files and the
// safetensors headers and plan (nothing allocated yet), then load the weights by the chosen strategy (on the device,
// in the target precision, one tensor at a time when streamed, quantized while loading for int8), then build the
// transformer and its run state. Any failure frees every GPU buffer made so far; nothing half-loaded is returned.
// The streamed strategies read weights through the byte cache when one is given (and the request does not turn it
// off), holding the model's lock (Web Locks) so that two tabs loading one model download it once. Such a load also
// keeps the small files (load/offline-source.ts), and when the network cannot be reached at all while opening them (fetch
// rejects, or no answer within reachTimeoutMs where a copy is kept), it loads from the cache alone, without
// revalidation, and says so in its report (LoadReport.offline); an HTTP status is never taken for that.
import type { GenerationDefaults, LoadProgress, LoadReport, LoadRequest, PlanReport } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { modelLockName, withLock } from '../cache/locks.ts';
import { offlineError, openOffline, sourceRecord, storeSource, type OfflineSource } from './offline-source.ts';
import { CachedReader } from '../cache/reader.ts';
import type { ByteCache } from '../cache/store.ts';
import type { Validator } from '../cache/validator.ts';
import { checkpointTensors } from './checkpoint-layout.ts';
import { parseConfig, type Config } from '../model/config.ts';
import { generationDefaults, readGenerationDefaults } from '../model/generation-config.ts';
import { HostLedger } from '../gpu/host-ledger.ts';
import { FileVersions, isFileChanged } from '../net/file-version.ts';
import { fetchBytes, isHtmlDocument, isUnreachable, type HttpOptions } from '../net/http.ts';
import { int8LinearFactory, DEFAULT_OUTLIER_THRESHOLD } from '../model/int8-linear.ts';
import { int8WeightTransform } from './quantize.ts';
import { cachedInt8Weights } from './int8-cache.ts';
import { loadWeights } from './loader.ts';
import { checkTensors, modelShape, planLoad } from './plan.ts';
import { readTensorMap, type TensorMap } from './safetensors.ts';
import { openModelSource, resolveModelBase, SMALL_FILE_LIMITS, type ModelSource } from './source.ts';
import { Tokenizer } from '../model/tokenizer.ts';
import { Transformer } from '../model/transformer.ts';
import { buildWeights, fp16LinearFactory } from '../model/weights.ts';

/** Rows per forward: prompt chunks of this many tokens (the plan reserves activations for it). */
export const MAX_TOKENS_PER_FORWARD = 64;
/**
 * How long each request for the small files waits for an answer to begin when the cache keeps a copy of the model
 * for offline use; past it, the network counts as unreachable and the model loads from the cache.
 */
export const DEFAULT_REACH_TIMEOUT_MS = 10_000;

export interface PreparedModel {
  source: ModelSource;
  config: Config;
  map: TensorMap;
  plan: PlanReport;
  /** The load's reader over the cache (null: uncached); the headers were read through it. */
  reader: CachedReader | null;
  /** Whether the model uses a tensor of the checkpoint (what it does not is skipped: plan.notes names it). */
  uses: (name: string) => boolean;
}

export interface LoadedModel extends PreparedModel {
  tokenizer: Tokenizer;
  /** generation_config.json's defaults (a value they cannot take is ignored and named in the plan's notes). */
  generationDefaults: GenerationDefaults;
  weights: BufferGroup;
  transformer: Transformer;
  report: LoadReport;
  precision: 'fp16' | 'int8';
}

export interface ModelLoadOptions {
  baseHref?: string;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  http?: Omit<HttpOptions, 'signal'>;
  /** The byte cache (null or absent: load from the network only). */
  cache?: ByteCache | null;
  /** See DEFAULT_REACH_TIMEOUT_MS (applies only where the cache keeps the model's small files). */
  reachTimeoutMs?: number;
  /**
   * Awaited once the plan fits, right before the load makes its first GPU buffer (the engine frees the model loaded
   * before there, so that a load failing earlier — a missing file, a bad config, a plan that does not fit — keeps it).
   */
  beforeAllocate?: () => Promise<void>;
}

/** A model's small files, from the network, or from the cache when it could not be reached (`offline`). */
export interface OpenedModel {
  source: ModelSource;
  offline: OfflineSource | null;
}

/** Whether a load of `req` reads through the cache: the streamed strategies, unless the request turns it off. */
export function usesCache(req: LoadRequest, cache: ByteCache | null | undefined): cache is ByteCache {
  return !!cache && req.cache !== 'off' && (req.strategy === 'streamed' || req.strategy === 'streamed-int8');
}

function progress(phase: LoadProgress['phase']): LoadProgress {
  return { phase, bytesDone: 0, bytesTotal: 0, tensorsDone: 0, tensorsTotal: 0, mbPerS: 0, etaS: NaN };
}

/** Small files, headers and the memory plan: no weight byte is downloaded and nothing is allocated. */
export async function prepareModel(
  ctx: GpuContext,
  req: LoadRequest,
  opts: ModelLoadOptions = {},
  opened?: OpenedModel,
): Promise<PreparedModel> {
  const http: HttpOptions = { ...opts.http, signal: opts.signal };
  opts.onProgress?.(progress('resolve'));
  const source = opened?.source ?? (await openModelSource(req.model, { ...http, baseHref: opts.baseHref, revision: req.revision }));
  const offline = opened?.offline ?? null;
  const config = parseConfig(source.config);
  opts.onProgress?.(progress('plan'));
  const reader = usesCache(req, opts.cache)
    ? offline
      ? new CachedReader(opts.cache, source.baseUrl, offline.validators, (file, what) => offlineError(source.baseUrl, file, what, offline.reason))
      : new CachedReader(opts.cache, source.baseUrl)
    : null;
  // Fused projections and multimodal prefixes become the records the engine reads (checkpoint-layout.ts).
  const { map, notes: layoutNotes } = checkpointTensors(
    config,
    await readTensorMap(source.weightFiles, http, source.weightMap ?? undefined, reader?.readPrefix),
  );
  const shape = modelShape(config);
  // Tensors the model does not use are neither planned nor loaded (the plan's notes name them).
  const unused = new Set(checkTensors(shape, map.tensors));
  const plan = planLoad({
    model: req.model,
    architecture: config.architecture,
    shape,
    tensors: [...map.tensors.values()].filter((r) => !unused.has(r.name)),
    unused: [...unused],
    strategy: req.strategy,
    contextLength: req.contextLength,
    maxTokens: MAX_TOKENS_PER_FORWARD,
    limits: ctx.limits,
    vramBudgetBytes: req.vramBudgetBytes,
    int8LmHead: req.int8LmHead,
    layoutNotes,
  });
  // generation_config.json values the model's defaults cannot take are ignored, and said so (generation-config.ts)
  plan.notes.push(...readGenerationDefaults(source.generationConfig, []).notes);
  return { source, config, map, plan, reader, uses: (name: string) => !unused.has(name) };
}

/** The tokenizer, and the chat_template.jinja it was given (null: none); offline, the stored one. */
async function loadTokenizer(
  source: ModelSource,
  config: Config,
  http: HttpOptions,
  offline: OfflineSource | null,
): Promise<{ tokenizer: Tokenizer; chatTemplate: string | null }> {
  if (!source.tokenizer) {
    throw new EngineError('bad-file', `${source.baseUrl}tokenizer.json is missing: the model cannot be used without it`, {
      file: `${source.baseUrl}tokenizer.json`,
      missing: true,
    });
  }
  // transformers ≥ 4.47 may keep the chat template in its own file instead of tokenizer_config.json.
  let chatTemplate = offline ? offline.chatTemplate : null;
  if (!offline) {
    const jinja = await fetchBytes(new URL('chat_template.jinja', source.baseUrl).href, http, true, SMALL_FILE_LIMITS['chat_template.jinja']);
    // a single-page app's index.html in place of a missing template is no template
    chatTemplate = jinja && !isHtmlDocument(jinja) ? new TextDecoder().decode(jinja) : null;
  }
  const tokenizer = Tokenizer.fromJson(source.tokenizer, source.tokenizerConfig, source.generationConfig, {
    chatTemplate: chatTemplate ?? undefined,
    vocabSize: config.vocabSize,
  });
  return { tokenizer, chatTemplate };
}

/**
 * The small files from the network; with the cache, a fetch that cannot reach the network (isUnreachable) is
 * returned as `unreachable` instead of thrown, for the load to try the cache alone. Where the cache keeps a copy,
 * each request gives up after `reachTimeoutMs` without an answer.
 */
async function openOnline(
  req: LoadRequest,
  opts: ModelLoadOptions,
  http: HttpOptions,
  cache: ByteCache | null,
): Promise<{ baseUrl: string } & ({ source: ModelSource; unreachable: null } | { source: null; unreachable: EngineError })> {
  const baseUrl = resolveModelBase(req.model, opts.baseHref, req.revision);
  const stored = cache ? (await cache.peek(baseUrl, 'source').catch(() => null)) !== null : false;
  const timeout = stored ? { responseTimeoutMs: opts.reachTimeoutMs ?? DEFAULT_REACH_TIMEOUT_MS } : {};
  try {
    return { baseUrl, source: await openModelSource(req.model, { ...http, ...timeout, baseHref: opts.baseHref, revision: req.revision }), unreachable: null };
  } catch (e) {
    if (!cache || !isUnreachable(e)) throw e;
    return { baseUrl, source: null, unreachable: e };
  }
}

/** Times a load starts again from a clean state after a file changed on the server during it (then it fails). */
export const FILE_CHANGE_RESTARTS = 1;

/**
 * Loads the model. Each attempt pins every file's version at its first response (file-version.ts); when a file
 * changes on the server during the load, nothing of it is used (its cache entry is dropped, every buffer freed) and
 * the load starts again once from the small files, so it reads the new version whole; a second change in a row fails
 * with the 'file-changed' error naming the file.
 */
export async function loadModel(ctx: GpuContext, req: LoadRequest, opts: ModelLoadOptions = {}): Promise<LoadedModel> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await loadOnce(ctx, req, { ...opts, http: { ...opts.http, versions: new FileVersions() } });
    } catch (e) {
      if (!isFileChanged(e) || attempt >= FILE_CHANGE_RESTARTS || opts.signal?.aborted) throw e;
      console.warn(`load of ${req.model}: ${e.message}; starting again`);
    }
  }
}

async function loadOnce(ctx: GpuContext, req: LoadRequest, opts: ModelLoadOptions): Promise<LoadedModel> {
  const t0 = performance.now();
  const http: HttpOptions = { ...opts.http, signal: opts.signal };
  // The report's GPU peak covers the whole load: weights, quantization scratch and the run state.
  // (the base is taken again once beforeAllocate has freed what it frees)
  let base = ctx.ledger.current;
  ctx.ledger.resetPeak();
  const int8 = req.strategy === 'streamed-int8';
  const cache = usesCache(req, opts.cache) ? opts.cache : null;
  const online = await openOnline(req, opts, http, cache);
  const { baseUrl } = online;
  // With the cache, all that reads or writes it (the small files, the headers, the weights) runs under the model's
  // lock: a second tab loading the same model waits, then opens its own view of the cache and finds what the first
  // stored.
  const underLock = async () => {
    // Offline: the small files and the weight versions from the cache, every weight file checked whole (or this throws).
    const offline = online.unreachable ? await openOffline(cache!, req.model, baseUrl, online.unreachable.message) : null;
    const source = online.source ?? offline!.source;
    const prepared = await prepareModel(ctx, req, opts, { source, offline });
    const { plan, map, reader, uses } = prepared;
    if (!plan.fits) {
      throw new EngineError('will-not-fit', `${req.model} will not fit: ${plan.reasons.join('; ')}`, {
        setting: req.vramBudgetBytes !== undefined ? 'vramBudget' : 'model',
        reasons: plan.reasons,
      });
    }
    const { tokenizer, chatTemplate } = await loadTokenizer(source, prepared.config, http, offline);
    const defaults = generationDefaults(source.generationConfig, tokenizer.eosIds);
    if (opts.beforeAllocate) {
      await opts.beforeAllocate();
      if (opts.signal?.aborted) throw new EngineError('cancelled', 'the load was cancelled');
      base = ctx.ledger.current;
      ctx.ledger.resetPeak();
    }
    // One host ledger for the load's own buffers and the cached int8 weights' read-backs and block reads.
    const host = new HostLedger();
    // The plan's scope (int8Scope: lm_head only when asked and untied) is what the transform and cached weights follow.
    const scope = plan.int8Scope ?? 'decoder';
    const cachedInt8 = reader && int8 ? cachedInt8Weights(ctx, reader, { http, host, scope }) : null;
    const quantize = int8 ? int8WeightTransform(ctx, { scope }) : undefined;
    const loaded = await loadWeights(ctx, map, {
      strategy: req.strategy,
      model: req.model,
      signal: opts.signal,
      onProgress: opts.onProgress,
      http: opts.http,
      transform: cachedInt8 && quantize ? cachedInt8.storing(quantize) : quantize,
      cache: reader ? { reader } : undefined,
      cached: cachedInt8?.tensors,
      host,
      only: uses,
    });
    if (reader && !offline) {
      try {
        await keepSmallFiles(reader, source, chatTemplate, http);
      } catch (e) {
        loaded.group.destroy();
        throw e;
      }
    }
    return { prepared, tokenizer, defaults, loaded, offline };
  };
  const { prepared, tokenizer, defaults, loaded, offline } = cache ? await withLock(modelLockName(baseUrl), underLock, opts.signal) : await underLock();
  const { plan, config } = prepared;
  let transformer: Transformer | null = null;
  try {
    opts.onProgress?.(progress('compile'));
    const tc = performance.now();
    const fp16 = fp16LinearFactory(ctx);
    const factory = int8 ? int8LinearFactory(ctx, fp16, { threshold: req.int8Threshold ?? DEFAULT_OUTLIER_THRESHOLD }) : fp16;
    const weights = buildWeights(config, loaded.tensors, factory);
    transformer = new Transformer(ctx, config, weights, {
      contextLength: plan.contextLength,
      maxTokens: MAX_TOKENS_PER_FORWARD,
    });
    await ctx.device.queue.onSubmittedWorkDone();
    if (opts.signal?.aborted) throw new EngineError('cancelled', 'the load was cancelled');
    const compileMs = performance.now() - tc;
    const report: LoadReport = {
      ...loaded.report,
      timings: { ...loaded.report.timings, compileMs, totalMs: performance.now() - t0 },
      peakGpuBytes: ctx.ledger.peak - base,
      finalGpuBytes: ctx.ledger.current - base,
      ...(offline ? { offline: { reason: offline.reason } } : {}),
      notes: [...plan.notes, ...tokenizer.notes],
    };
    opts.onProgress?.({ ...progress('done'), bytesDone: report.bytesFetched + report.bytesFromCache, bytesTotal: report.bytesFetched + report.bytesFromCache });
    return { ...prepared, tokenizer, generationDefaults: defaults, weights: loaded.group, transformer, report, precision: int8 ? 'int8' : 'fp16' };
  } catch (e) {
    transformer?.destroy();
    loaded.group.destroy();
    throw e;
  }
}

/**
 * After an online load with the cache: keeps the small files and the weight files' validators for an offline load
 * (written only when they differ from the stored record). A weight file the cache could not take (its server gave no
 * size) leaves nothing to load offline, so nothing is kept.
 */
async function keepSmallFiles(reader: CachedReader, source: ModelSource, chatTemplate: string | null, http: HttpOptions): Promise<void> {
  const weights = new Map<string, Validator>();
  for (const url of source.weightFiles) {
    const entry = await reader.entryFor(url, http); // opened by the header read: no new probe
    if (!entry) return;
    weights.set(url, entry.manifest.validator);
  }
  await storeSource(reader.cache, sourceRecord(source, chatTemplate, weights));
}

/** Frees every GPU buffer of a loaded model. */
export function disposeModel(m: LoadedModel): void {
  m.transformer.destroy();
  m.weights.destroy();
}
