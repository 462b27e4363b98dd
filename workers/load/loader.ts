// Loading a checkpoint's tensors into GPU buffers, by one of the seed's strategies:
//   naive:    every file fetched whole into an ArrayBuffer (all held), a full-precision (f32) GPU buffer per tensor,
//             then converted to fp16 (on the CPU, from the host copy) after: the baseline, with its real peaks.
//   fp16:     one file at a time fetched whole, each tensor converted and allocated directly in fp16.
//   streamed: range requests streamed into fp16 buffers (stream.ts), bounded host memory: raw bytes through a
//             staging ring and converted on the GPU (gpu-upload.ts), or converted here on software adapters, where
//             the "GPU" is these same CPU cores; either way the queue's writes in flight are fenced (a few chunks).
//   streamed-int8: streamed, with a per-tensor `transform` (int8 quantization) once each tensor is in; a load
//             without a transform is refused as unsupported.
// The streamed strategies may read through a cache (workers/cache/reader.ts): committed blocks come from storage,
// the rest from the network and are kept; `kept` tensors (kept int8 weights) are taken whole before streaming, so
// their fp16 bytes are never read.
// All buffers are created in one BufferGroup. Any failure or abort destroys the group (the ledger returns to where
// it was) and throws an EngineError naming the file and, when known, the tensor.
import type { LoadProgress, LoadReport, LoadStrategy } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { CachedReader } from '../cache/reader.ts';
import { f16BitsToF32 } from '../gpu/half.ts';
import { cancelledError, fetchBytes, fileName, type HttpOptions } from '../net/http.ts';
import { LoadMeter } from './load-meter.ts';
import { elementCount, type SafetensorsFile, type TensorMap, type TensorRecord } from './safetensors.ts';
import { GpuUploader } from './gpu-upload.ts';
import type { HostLedger } from '../gpu/host-ledger.ts';
import { DEFAULT_STREAM_OPTIONS, streamFile, type StreamOptions } from './stream.ts';
import { TensorSink, type TensorTransform } from './tensor-sink.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

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
  /** Streamed strategies: tensors to be had whole without reading their bytes (kept int8 weights). */
  kept?: KeptTensors<T>;
  /**
   * Counts the host bytes this load holds (default: a new ledger). Pass one to share it with `kept` and `transform`
   * (kept int8 read-backs) or to look at it afterwards: every hold is released when the load ends, however it ends.
   */
  host?: HostLedger;
}

export interface KeptTensors<T> {
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
  if (opts.strategy === 'streamed-int8' && !opts.transform) {
    // A caller's mistake, not the user's: load-model.ts passes int8WeightTransform for this strategy.
    throw new EngineError('unsupported', "loadWeights: the 'streamed-int8' strategy needs a quantize transform (int8WeightTransform)", {
      setting: 'strategy',
    });
  }
  const only = opts.only ?? (() => true);
  const records = [...map.tensors.values()].filter((r) => only(r.name));
  const files = map.files.map((f) => ({ ...f, tensors: f.tensors.filter((r) => only(r.name)) })).filter((f) => f.tensors.length);
  const wholeFiles = opts.strategy === 'naive' || opts.strategy === 'fp16';
  const bytesTotal = wholeFiles
    ? files.reduce((a, f) => a + f.size, 0)
    : records.reduce((a, r) => a + (r.end - r.start), 0);
  const group = ctx.ledger.group(`weights:${opts.model ?? fileName(files[0]?.url ?? 'model')}`);
  const meter = new LoadMeter(ctx.ledger, ctx.device.queue, bytesTotal, records.length, opts.onProgress, opts.host);
  const tensors = new Map<string, GpuTensor | T>();
  const http: HttpOptions = { ...opts.http, signal: opts.signal, host: meter.hostBuffers };
  let where: { file?: string; tensor?: string } = {};
  ctx.device.pushErrorScope('out-of-memory');
  ctx.device.pushErrorScope('validation');
  try {
    const so = { ...DEFAULT_STREAM_OPTIONS, ...opts.stream, ...(opts.cache ? { read: opts.cache.reader.streamRange } : {}) };
    // Streamed strategies convert on the GPU from a small staging ring; naive and fp16 convert here (convert.ts).
    const largest = records.reduce((a, r) => Math.max(a, r.end - r.start), 4);
    const uploader = wholeFiles ? undefined : new GpuUploader(ctx, group, meter, { slotBytes: Math.min(so.chunkBytes, largest) });
    const sink = (r: TensorRecord) =>
      new TensorSink<T>(r, {
        queue: ctx.device.queue,
        group,
        maxBindingBytes: opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize,
        meter,
        uploader,
        convertOnGpu: (opts.convertOn ?? defaultConvertOn(ctx)) === 'gpu',
        transform: opts.transform,
        done: (name, t) => tensors.set(name, t),
      });
    if (opts.strategy === 'naive') {
      await loadNaive(ctx, group, files, sink, meter, http, (w) => (where = w));
    } else if (wholeFiles) {
      for (const f of files) {
        where = { file: f.url };
        const bytes = await fetchWhole(f.url, f.size, meter, http);
        // One whole file held at a time.
        await meter.hostBuffers.during(bytes.byteLength, async () => {
          for (const r of f.tensors) {
            where = { file: f.url, tensor: r.name };
            checkAbort(opts.signal, f.url);
            const s = sink(r);
            s.push(bytes.subarray(r.start, r.end));
            await s.finish();
            meter.tensorDone();
            await meter.drainIfNeeded();
          }
        });
      }
    } else {
      const streamed = opts.kept ? await takeKept(opts.kept, files, group, meter, tensors, (w) => (where = w)) : files;
      for (const f of streamed) {
        where = { file: f.url };
        const onTensor = (t: string | undefined) => (where = { file: f.url, tensor: t });
        await streamFile(f, f.tensors.map(sink), meter, http, so, onTensor, () => uploader!.throttle());
      }
      await uploader!.finish();
    }
    await meter.drainIfNeeded(true);
    const validation = await ctx.device.popErrorScope();
    const oom = await ctx.device.popErrorScope();
    if (oom) throw new EngineError('out-of-memory', `the GPU ran out of memory while loading: ${oom.message}`, {});
    if (validation) throw new EngineError('internal', `GPU validation error while loading: ${validation.message}`, {});
    checkAbort(opts.signal, '');
    meter.phase = 'done';
    meter.progress(true);
    const host = meter.stop();
    const timings = meter.timings();
    const weightBytes = group.bytes;
    const cached = !!opts.cache && !wholeFiles;
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
      },
    };
  } catch (e) {
    group.destroy();
    meter.stop();
    // Leave no error scopes open (the pops after a throw may resolve with errors we no longer care about).
    await ctx.device.popErrorScope().catch(() => null);
    await ctx.device.popErrorScope().catch(() => null);
    throw loadError(e, where, opts.signal);
  }
}

/**
 * Takes the tensors `kept` has whole (their bytes counted as read from the cache, progress adjusted) and returns the
 * files with only the tensors left to stream.
 */
async function takeKept<T>(
  kept: KeptTensors<T>,
  files: SafetensorsFile[],
  group: BufferGroup,
  meter: LoadMeter,
  tensors: Map<string, GpuTensor | T>,
  at: (w: { file?: string; tensor?: string }) => void,
): Promise<SafetensorsFile[]> {
  const out: SafetensorsFile[] = [];
  for (const f of files) {
    const rest: TensorRecord[] = [];
    for (const r of f.tensors) {
      at({ file: f.url, tensor: r.name });
      const t0 = meter.now();
      const k = await kept.load(r, group);
      meter.cacheMs += meter.now() - t0;
      if (!k) {
        rest.push(r);
        continue;
      }
      tensors.set(r.name, k.tensor);
      meter.bytesTotal += k.bytes - (r.end - r.start);
      meter.fromCache(k.bytes);
      meter.uploaded(k.bytes);
      meter.tensorDone();
      await meter.drainIfNeeded();
    }
    if (rest.length) out.push({ ...f, tensors: rest });
  }
  return out;
}

/** 'cpu' on software adapters, whose "GPU" is these same CPU cores. */
export function defaultConvertOn(ctx: Pick<GpuContext, 'software'>): 'gpu' | 'cpu' {
  return ctx.software ? 'cpu' : 'gpu';
}

function checkAbort(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw cancelledError(url);
}

/** Adds the file and tensor to an error (keeping its code); plain errors from conversion become bad-file. */
function loadError(e: unknown, where: { file?: string; tensor?: string }, signal?: AbortSignal): EngineError {
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

/** One plain GET of a whole file (no Range), checked against the size its header read gave. */
async function fetchWhole(url: string, size: number, meter: LoadMeter, http: HttpOptions): Promise<Uint8Array> {
  const t = meter.now();
  const bytes = (await fetchBytes(url, http))!;
  meter.networkMs += meter.now() - t;
  meter.fetched(bytes.length);
  if (bytes.length !== size) {
    throw new EngineError('bad-file', `${fileName(url)}: the download is ${bytes.length} bytes, the file is ${size} (truncated)`, {
      file: url,
    });
  }
  return bytes;
}

/**
 * Host f32 copy of a tensor, as a framework that loads in full precision would make; `held`: the bytes made for it
 * (the copy of the tensor's bytes, and the f32 array when it is a second one).
 */
function toF32(r: TensorRecord, bytes: Uint8Array): { values: Float32Array; held: number } {
  const n = elementCount(r.shape);
  const src = bytes.slice(r.start, r.end);
  if (r.dtype === 'F32') return { values: new Float32Array(src.buffer, 0, n), held: src.byteLength };
  const h = new Uint16Array(src.buffer, 0, n);
  const out = new Float32Array(n);
  if (r.dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = h[i] << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[i]);
  }
  return { values: out, held: src.byteLength + out.byteLength };
}

/**
 * The baseline: all files downloaded and held; every tensor uploaded as f32 (ledger category 'staging', split to
 * fit maxBufferSize); then each converted to fp16 and its f32 buffers released. Peak GPU = all f32 + one fp16.
 */
async function loadNaive<T>(
  ctx: GpuContext,
  group: BufferGroup,
  files: { url: string; size: number; tensors: TensorRecord[] }[],
  sink: (r: TensorRecord) => TensorSink<T>,
  meter: LoadMeter,
  http: HttpOptions,
  at: (w: { file?: string; tensor?: string }) => void,
): Promise<void> {
  const held: { url: string; bytes: Uint8Array; tensors: TensorRecord[] }[] = [];
  // Every file is held until the last tensor is converted.
  const releases: (() => void)[] = [];
  try {
    for (const f of files) {
      at({ file: f.url });
      const bytes = await fetchWhole(f.url, f.size, meter, http);
      releases.push(meter.hostBuffers.hold(bytes.byteLength));
      held.push({ url: f.url, bytes, tensors: f.tensors });
    }
    await uploadF32AndConvert(ctx, group, held, sink, meter, http, at);
  } finally {
    for (const release of releases) release();
  }
}

/** naive, once every file is held: the f32 uploads of every tensor, then each converted to fp16. */
async function uploadF32AndConvert<T>(
  ctx: GpuContext,
  group: BufferGroup,
  held: { url: string; bytes: Uint8Array; tensors: TensorRecord[] }[],
  sink: (r: TensorRecord) => TensorSink<T>,
  meter: LoadMeter,
  http: HttpOptions,
  at: (w: { file?: string; tensor?: string }) => void,
): Promise<void> {
  const f32 = new Map<string, GPUBuffer[]>();
  for (const f of held) {
    for (const r of f.tensors) {
      at({ file: f.url, tensor: r.name });
      checkAbort(http.signal, f.url);
      let t = meter.now();
      const { values, held: f32Bytes } = toF32(r, f.bytes);
      // The host f32 copy lives until it is written (queue.writeBuffer copies it).
      const releaseF32 = meter.hostBuffers.hold(f32Bytes);
      meter.convertMs += meter.now() - t;
      t = meter.now();
      const buffers: GPUBuffer[] = [];
      try {
        const per = Math.max(4, Math.floor(ctx.limits.maxBufferSize / 4) * 4);
        for (let o = 0; o < values.byteLength || o === 0; o += per) {
          const n = Math.min(per, values.byteLength - o);
          const b = group.createBuffer({
            label: `${r.name}.f32`,
            size: Math.max(4, n),
            usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
            category: 'staging',
          });
          if (n > 0) ctx.device.queue.writeBuffer(b, 0, values.buffer, values.byteOffset + o, n);
          meter.uploaded(n);
          buffers.push(b);
          if (n <= 0) break;
        }
        meter.uploadMs += meter.now() - t;
      } finally {
        releaseF32();
      }
      f32.set(r.name, buffers);
      await meter.drainIfNeeded();
    }
  }
  // Convert after: fp16 tensors created one by one, each f32 copy freed once its fp16 twin exists.
  for (const f of held) {
    for (const r of f.tensors) {
      at({ file: f.url, tensor: r.name });
      checkAbort(http.signal, f.url);
      const s = sink(r);
      s.push(f.bytes.subarray(r.start, r.end));
      await s.finish();
      for (const b of f32.get(r.name) ?? []) group.release(b);
      f32.delete(r.name);
      meter.tensorDone();
      await meter.drainIfNeeded();
    }
  }
}
