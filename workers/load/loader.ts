// Loading a checkpoint's tensors into GPU buffers by one of the four strategies (strategies.ts says what each does).
// This file does what they share: the tensors to load, the buffer group, the meter, the sinks, the GPU error scopes
// and the report. All buffers are created in one BufferGroup. Any failure or abort destroys the group (the ledger
// returns to where it was) and throws an EngineError naming the file and, when known, the tensor.
import type { LoadProgress, LoadReport, LoadStrategy } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { HostLedger } from '../gpu/host-ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { CachedReader } from '../cache/reader.ts';
import { cancelledError, fileName, type HttpOptions } from '../net/http.ts';
import { LoadMeter } from './load-meter.ts';
import type { TensorMap, TensorRecord } from './safetensors.ts';
import type { StreamOptions } from './stream.ts';
import { STRATEGIES, type LoadPosition, type LoadRun } from './strategies.ts';
import { TensorSink, type TensorTransform } from './tensor-sink.ts';

export type { TensorTransform } from './tensor-sink.ts';

export interface LoadWeightsOptions<T = GpuTensor> {
  strategy: LoadStrategy;
  /** Name for the report (the model input). */
  model?: string;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  /** Bytes one storage binding may hold (default: the device's limit; tests force splits with less). */
  maxBindingBytes?: number;
  /** Called once per tensor after its fp16 bytes are written; what it returns replaces the tensor. */
  transform?: TensorTransform<T>;
  /** Retries, backoff (the signal above is added). */
  http?: Omit<HttpOptions, 'signal'>;
  stream?: Partial<StreamOptions>;
  /**
   * Where streamed strategies convert bf16/f32 to fp16: 'gpu' (convert_to_f16, the JS thread only moves bytes) or
   * 'cpu' (convert.ts). Default: 'gpu', except on software adapters (SwiftShader, llvmpipe), where a shader runs on
   * the same CPU cores far slower than convert.ts's table lookup.
   */
  convertOn?: 'gpu' | 'cpu';
  /** Only these tensors (default: all). */
  only?: (name: string) => boolean;
  /** Streamed strategies: read ranges through this cache reader (bytes kept for the next load). */
  cache?: { reader: CachedReader };
  /** Streamed strategies: tensors to be had whole without reading their bytes (cached int8 weights). */
  cached?: CachedTensors<T>;
  /**
   * Counts the host bytes this load holds (default: a new ledger). Pass one to share it with `cached` and `transform`
   * (cached int8 read-backs) or to look at it afterwards: every hold is released when the load ends, however it ends.
   */
  host?: HostLedger;
}

export interface CachedTensors<T> {
  /** The tensor made from stored bytes (`bytes` read), or null: stream it. Allocates only through `group`. */
  load(record: TensorRecord, group: BufferGroup): Promise<{ tensor: T; bytes: number } | null>;
}

/** What the cache did for a load, from the bytes each side gave. */
export function cacheState(used: boolean, networkBytes: number, cacheBytes: number): LoadReport['cache'] {
  if (!used) return 'off';
  if (cacheBytes === 0) return 'cold';
  return networkBytes === 0 ? 'warm' : 'partial';
}

export interface LoadedWeights<T = GpuTensor> {
  /** Owns every buffer of the weights: destroy() frees them all. */
  group: BufferGroup;
  tensors: Map<string, GpuTensor | T>;
  report: LoadReport;
}

export async function loadWeights<T = GpuTensor>(
  ctx: GpuContext,
  map: TensorMap,
  opts: LoadWeightsOptions<T>,
): Promise<LoadedWeights<T>> {
  const strategy = STRATEGIES[opts.strategy];
  const only = opts.only ?? (() => true);
  const records = [...map.tensors.values()].filter((r) => only(r.name));
  const files = map.files.map((f) => ({ ...f, tensors: f.tensors.filter((r) => only(r.name)) })).filter((f) => f.tensors.length);
  const bytesTotal =
    strategy.reads === 'whole files' ? files.reduce((a, f) => a + f.size, 0) : records.reduce((a, r) => a + (r.end - r.start), 0);
  const group = ctx.ledger.group(`weights:${opts.model ?? fileName(files[0]?.url ?? 'model')}`);
  const meter = new LoadMeter(ctx.ledger, bytesTotal, records.length, opts.onProgress, opts.host);
  const tensors = new Map<string, GpuTensor | T>();
  const maxBindingBytes = opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize;
  const convertOnGpu = (opts.convertOn ?? defaultConvertOn(ctx)) === 'gpu';
  let where: LoadPosition = {};
  const run: LoadRun<T> = {
    ctx,
    group,
    files,
    meter,
    http: { ...opts.http, signal: opts.signal },
    opts,
    tensors,
    sink: (r, backpressure, uploader) =>
      new TensorSink<T>(r, {
        queue: ctx.device.queue,
        group,
        maxBindingBytes,
        meter,
        backpressure,
        uploader,
        convertOnGpu,
        transform: opts.transform,
        done: (name, t) => tensors.set(name, t),
      }),
    at: (w) => (where = w),
  };
  ctx.device.pushErrorScope('out-of-memory');
  ctx.device.pushErrorScope('validation');
  try {
    await strategy.load(run);
    // What the transform lent for the load (the int8 scratch) is gone before the final bytes are counted.
    await opts.transform?.end?.();
    const validation = await ctx.device.popErrorScope();
    const oom = await ctx.device.popErrorScope();
    if (oom) throw new EngineError('out-of-memory', `the GPU ran out of memory while loading: ${oom.message}`, {});
    if (validation) throw new EngineError('internal', `GPU validation error while loading: ${validation.message}`, {});
    if (opts.signal?.aborted) throw cancelledError('');
    meter.done();
    const host = meter.stop();
    const timings = meter.timings();
    const weightBytes = group.bytes;
    const cached = !!opts.cache && strategy.reads === 'tensor ranges';
    const bytesFetched = cached ? opts.cache!.reader.counters.networkBytes : meter.bytesFetched;
    return {
      group,
      tensors,
      report: {
        model: opts.model ?? '',
        strategy: opts.strategy,
        timings,
        bytesFetched,
        bytesFromCache: meter.bytesFromCache,
        cache: cacheState(cached, bytesFetched, meter.bytesFromCache),
        mbPerS: (bytesFetched + meter.bytesFromCache) / 1e6 / (timings.totalMs / 1000),
        tensors: tensors.size,
        peakGpuBytes: meter.peakGpuBytes,
        finalGpuBytes: group.bytes,
        weightBytes,
        // rss where the process can be measured (Node); else what the loader held itself (a browser worker).
        peakHostBytes: host.peakHostGrowth ?? host.peakHostBuffers,
        hostMemorySource: host.peakHostGrowth !== null ? 'rss' : 'loader-accounted',
        peakHostBuffersBytes: host.peakHostBuffers,
        notes: [],
      },
    };
  } catch (e) {
    group.destroy();
    await Promise.resolve(opts.transform?.end?.()).catch(() => {}); // the load's own error is the one to report
    meter.stop();
    // Leave no error scopes open (the pops after a throw may resolve with errors we no longer care about).
    await ctx.device.popErrorScope().catch(() => null);
    await ctx.device.popErrorScope().catch(() => null);
    throw loadError(e, where, opts.signal);
  }
}

/** 'cpu' on software adapters, whose "GPU" is these same CPU cores. */
export function defaultConvertOn(ctx: Pick<GpuContext, 'software'>): 'gpu' | 'cpu' {
  return ctx.software ? 'cpu' : 'gpu';
}

/** Adds the file and tensor to an error (keeping its code); plain errors from conversion become bad-file. */
function loadError(e: unknown, where: LoadPosition, signal?: AbortSignal): EngineError {
  if (signal?.aborted) return new EngineError('cancelled', 'the load was cancelled', { ...where });
  if (e instanceof EngineError) {
    const details = { ...where, ...e.details };
    if (where.tensor && !e.details.tensor) details.tensor = where.tensor;
    const suffix = where.tensor && !e.message.includes(where.tensor) ? ` (loading tensor '${where.tensor}')` : '';
    return new EngineError(e.code, e.message + suffix, details);
  }
  const msg = e instanceof Error ? e.message : String(e);
  const what = [where.file && fileName(where.file), where.tensor && `tensor '${where.tensor}'`].filter(Boolean).join(', ');
  return new EngineError(e instanceof Error && /GPU|buffer/i.test(msg) ? 'internal' : 'bad-file', `${what}: ${msg}`, { ...where });
}
