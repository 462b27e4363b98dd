// From a model input to a runnable model, in the seed's three separable steps: read the small files and the
// safetensors headers and plan (nothing allocated yet), then load the weights by the chosen strategy (on the device,
// in the target precision, one tensor at a time when streamed, quantized while loading for int8), then build the
// transformer and its run state. Any failure frees every GPU buffer made so far; nothing half-loaded is returned.
// The streamed strategies read weights through the byte cache when one is given (and the request does not turn it
// off), holding the model's lock (Web Locks) so that two tabs loading one model download it once.
import type { LoadProgress, LoadReport, LoadRequest, PlanReport } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { modelLockName, withLock } from '../cache/locks.ts';
import { CachedReader } from '../cache/reader.ts';
import type { ByteCache } from '../cache/store.ts';
import { parseConfig, type Config } from './config.ts';
import { HostLedger } from './host-ledger.ts';
import { fetchBytes, type HttpOptions } from './http.ts';
import { int8LinearFactory, int8WeightTransform, DEFAULT_OUTLIER_THRESHOLD } from './int8-linear.ts';
import { keptInt8Weights } from './kept-int8.ts';
import { loadWeights } from './loader.ts';
import { checkTensors, modelShape, planLoad } from './plan.ts';
import { readTensorMap, type TensorMap } from './safetensors.ts';
import { openModelSource, type ModelSource } from './source.ts';
import { Tokenizer } from './tokenizer.ts';
import { Transformer } from './transformer.ts';
import { buildWeights, fp16LinearFactory } from './weights.ts';

/** Rows per forward: prompt chunks of this many tokens (the plan reserves activations for it). */
export const MAX_TOKENS_PER_FORWARD = 64;

export interface PreparedModel {
  source: ModelSource;
  config: Config;
  map: TensorMap;
  plan: PlanReport;
  /** The load's reader over the cache (null: uncached); the headers were read through it. */
  reader: CachedReader | null;
}

export interface LoadedModel extends PreparedModel {
  tokenizer: Tokenizer;
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
  o: ModelLoadOptions = {},
  opened?: ModelSource,
): Promise<PreparedModel> {
  const http: HttpOptions = { ...o.http, signal: o.signal };
  o.onProgress?.(progress('resolve'));
  const source = opened ?? (await openModelSource(req.model, { ...http, baseHref: o.baseHref }));
  const config = parseConfig(source.config);
  o.onProgress?.(progress('plan'));
  const reader = usesCache(req, o.cache) ? new CachedReader(o.cache, source.baseUrl) : null;
  const map = await readTensorMap(source.weightFiles, http, source.weightMap ?? undefined, reader?.readPrefix);
  const shape = modelShape(config);
  checkTensors(shape, map.tensors);
  const plan = planLoad({
    model: req.model,
    architecture: config.architecture,
    shape,
    tensors: [...map.tensors.values()],
    strategy: req.strategy,
    contextLength: req.contextLength,
    maxTokens: MAX_TOKENS_PER_FORWARD,
    limits: ctx.limits,
    vramBudgetBytes: req.vramBudgetBytes,
    int8LmHead: req.int8LmHead,
  });
  return { source, config, map, plan, reader };
}

async function loadTokenizer(source: ModelSource, http: HttpOptions): Promise<Tokenizer> {
  if (!source.tokenizer) {
    throw new EngineError('bad-file', `${source.baseUrl}tokenizer.json is missing: the model cannot be used without it`, {
      file: `${source.baseUrl}tokenizer.json`,
    });
  }
  // transformers ≥ 4.47 may keep the chat template in its own file instead of tokenizer_config.json.
  const jinja = await fetchBytes(new URL('chat_template.jinja', source.baseUrl).href, http, true);
  return Tokenizer.fromJson(source.tokenizer, source.tokenizerConfig, source.generationConfig, {
    chatTemplate: jinja ? new TextDecoder().decode(jinja) : undefined,
  });
}

export async function loadModel(ctx: GpuContext, req: LoadRequest, o: ModelLoadOptions = {}): Promise<LoadedModel> {
  const t0 = performance.now();
  const http: HttpOptions = { ...o.http, signal: o.signal };
  // The report's GPU peak covers the whole load: weights, quantization scratch and the run state.
  const base = ctx.ledger.current;
  ctx.ledger.resetPeak();
  const int8 = req.strategy === 'streamed-int8';
  const source = await openModelSource(req.model, { ...http, baseHref: o.baseHref });
  // With the cache, all that reads or writes it (the headers as well as the weights) runs under the model's lock: a
  // second tab loading the same model waits, then opens its own view of the cache and finds what the first stored.
  const underLock = async () => {
    const prepared = await prepareModel(ctx, req, o, source);
    const { plan, map, reader } = prepared;
    if (!plan.fits) {
      throw new EngineError('will-not-fit', `${req.model} will not fit: ${plan.reasons.join('; ')}`, {
        setting: req.vramBudgetBytes !== undefined ? 'vramBudget' : 'model',
        reasons: plan.reasons,
      });
    }
    const tokenizer = await loadTokenizer(source, http);
    // One host ledger for the load's own buffers and the kept int8 weights' read-backs and block reads.
    const host = new HostLedger();
    // The plan's scope (int8Scope: lm_head only when asked and untied) is what the transform and kept weights follow.
    const scope = plan.int8Scope ?? 'decoder';
    const kept = reader && int8 ? keptInt8Weights(ctx, reader, { http: { ...http, host }, scope }) : null;
    const quantize = int8 ? int8WeightTransform(ctx, { scope }) : undefined;
    const loaded = await loadWeights(ctx, map, {
      strategy: req.strategy,
      model: req.model,
      signal: o.signal,
      onProgress: o.onProgress,
      http: o.http,
      transform: kept && quantize ? kept.keeping(quantize) : quantize,
      cache: reader ? { reader } : undefined,
      kept: kept?.kept,
      host,
    });
    return { prepared, tokenizer, loaded };
  };
  const { prepared, tokenizer, loaded } = usesCache(req, o.cache)
    ? await withLock(modelLockName(source.baseUrl), underLock, o.signal)
    : await underLock();
  const { plan, config } = prepared;
  let transformer: Transformer | null = null;
  try {
    o.onProgress?.(progress('compile'));
    const tc = performance.now();
    const fp16 = fp16LinearFactory(ctx);
    const factory = int8 ? int8LinearFactory(ctx, fp16, { threshold: req.int8Threshold ?? DEFAULT_OUTLIER_THRESHOLD }) : fp16;
    const weights = buildWeights(config, loaded.tensors, factory);
    transformer = new Transformer(ctx, config, weights, {
      contextLength: plan.contextLength,
      maxTokens: MAX_TOKENS_PER_FORWARD,
    });
    await ctx.device.queue.onSubmittedWorkDone();
    if (o.signal?.aborted) throw new EngineError('cancelled', 'the load was cancelled');
    const compileMs = performance.now() - tc;
    const report: LoadReport = {
      ...loaded.report,
      timings: { ...loaded.report.timings, compileMs, totalMs: performance.now() - t0 },
      peakGpuBytes: ctx.ledger.peak - base,
      finalGpuBytes: ctx.ledger.current - base,
    };
    o.onProgress?.({ ...progress('done'), bytesDone: report.bytesFetched + report.bytesFromCache, bytesTotal: report.bytesFetched + report.bytesFromCache });
    return { ...prepared, tokenizer, weights: loaded.group, transformer, report, precision: int8 ? 'int8' : 'fp16' };
  } catch (e) {
    transformer?.destroy();
    loaded.group.destroy();
    throw e;
  }
}

/** Frees every GPU buffer of a loaded model. */
export function disposeModel(m: LoadedModel): void {
  m.transformer.destroy();
  m.weights.destroy();
}
