// The four load strategies, one function each; loader.ts picks one by name (STRATEGIES) and does what they share
// (the buffer group, the meter, error scopes, the report):
//   naive:    every file fetched whole into an ArrayBuffer (all held), a full-precision (f32) GPU buffer per tensor,
//             then converted to fp16 (on the CPU, from the host copy) after: the baseline, with its real peaks.
//   fp16:     one file at a time fetched whole, each tensor converted and allocated directly in fp16.
//   streamed: range requests streamed into fp16 buffers (stream.ts), bounded host memory: raw bytes through a
//             staging ring and converted on the GPU (gpu-upload.ts), or converted here on software adapters, where
//             the "GPU" is these same CPU cores; either way the queue's writes in flight are fenced (a few chunks).
//             Through a cache (workers/cache/reader.ts) when one is given: committed blocks come from storage, the
//             rest from the network and are kept; `cached` tensors (int8 weights quantized by an earlier load) are taken whole before
//             streaming, so their fp16 bytes are never read.
//   streamed-int8: streamed, with a per-tensor `transform` (int8 quantization) once each tensor is in; a load
//             without a transform is refused as unsupported.
import type { LoadStrategy } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { f16BitsToF32 } from '../gpu/half.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { cancelledError, fetchBytes, fileName, type HttpOptions } from '../net/http.ts';
import { GpuUploader } from './gpu-upload.ts';
import type { LoadMeter } from './load-meter.ts';
import type { CachedTensors, LoadWeightsOptions } from './loader.ts';
import { QueueBackpressure, WHOLE_FILE_BACKPRESSURE } from './queue-backpressure.ts';
import { elementCount, type SafetensorsFile, type TensorRecord } from './safetensors.ts';
import { DEFAULT_STREAM_OPTIONS, streamFile } from './stream.ts';
import type { TensorSink } from './tensor-sink.ts';

/** Where a load is (file, tensor), for the error it may throw. */
export interface LoadPosition {
  file?: string;
  tensor?: string;
}

/** What a strategy is given: the load's group, meter and options, and a sink per tensor. */
export interface LoadRun<T> {
  readonly ctx: GpuContext;
  /** Every buffer of the load is created in it. */
  readonly group: BufferGroup;
  /** The files, each with the tensors to load (the `only` filter applied). */
  readonly files: SafetensorsFile[];
  readonly meter: LoadMeter;
  /** The load's HTTP options, its signal included. */
  readonly http: HttpOptions;
  readonly opts: LoadWeightsOptions<T>;
  /** The finished tensors (or what the transform made of them), by name. */
  readonly tensors: Map<string, GpuTensor | T>;
  /** A sink for one tensor, writing through `backpressure` (and, streamed, staging through `uploader`). */
  sink(r: TensorRecord, backpressure: QueueBackpressure, uploader?: GpuUploader): TensorSink<T>;
  /** Tells the load where it is, so that an error names the file and the tensor. */
  at(where: LoadPosition): void;
}

export interface Strategy {
  /** What the load's progress counts: the files' whole size, or the tensors' bytes (and the cache is used). */
  readonly reads: 'whole files' | 'tensor ranges';
  load<T>(run: LoadRun<T>): Promise<void>;
}

export const STRATEGIES: Record<LoadStrategy, Strategy> = {
  naive: { reads: 'whole files', load: loadNaive },
  fp16: { reads: 'whole files', load: loadFp16 },
  streamed: { reads: 'tensor ranges', load: loadStreamed },
  'streamed-int8': { reads: 'tensor ranges', load: loadStreamedInt8 },
};

/**
 * The baseline: all files downloaded and held; every tensor uploaded as f32 (ledger category 'staging', split to
 * fit maxBufferSize); then each converted to fp16 and its f32 buffers released. Peak GPU = all f32 + one fp16.
 */
async function loadNaive<T>(run: LoadRun<T>): Promise<void> {
  const { meter } = run;
  const backpressure = new QueueBackpressure(run.ctx.device.queue, meter, WHOLE_FILE_BACKPRESSURE, run.ctx.awaitGpu);
  const held: { url: string; bytes: Uint8Array; tensors: TensorRecord[] }[] = [];
  // Every file is held until the last tensor is converted.
  const releases: (() => void)[] = [];
  run.opts.transform?.begin?.(run.files.flatMap((f) => f.tensors));
  try {
    for (const f of run.files) {
      run.at({ file: f.url });
      const bytes = await fetchWhole(f.url, f.size, meter, run.http);
      releases.push(meter.hostBuffers.hold(bytes.byteLength));
      held.push({ url: f.url, bytes, tensors: f.tensors });
    }
    await uploadF32AndConvert(run, held, backpressure);
    await backpressure.drain();
  } finally {
    for (const release of releases) release();
  }
}

/** One whole file held at a time; each tensor converted here and written in fp16. */
async function loadFp16<T>(run: LoadRun<T>): Promise<void> {
  const { meter } = run;
  const backpressure = new QueueBackpressure(run.ctx.device.queue, meter, WHOLE_FILE_BACKPRESSURE, run.ctx.awaitGpu);
  run.opts.transform?.begin?.(run.files.flatMap((f) => f.tensors));
  for (const f of run.files) {
    run.at({ file: f.url });
    const bytes = await fetchWhole(f.url, f.size, meter, run.http);
    await meter.hostBuffers.during(bytes.byteLength, async () => {
      for (const r of f.tensors) {
        run.at({ file: f.url, tensor: r.name });
        checkAbort(run.http.signal, f.url);
        const s = run.sink(r, backpressure);
        s.push(bytes.subarray(r.start, r.end));
        await s.finish();
        meter.tensorDone();
        await backpressure.throttle();
      }
    });
  }
  await backpressure.drain();
}

/** Range requests per file, each tensor's bytes converted (on the GPU, or here) as they arrive. */
async function loadStreamed<T>(run: LoadRun<T>): Promise<void> {
  const { ctx, opts, meter } = run;
  const streamOptions = { ...DEFAULT_STREAM_OPTIONS, ...opts.stream, ...(opts.cache ? { read: opts.cache.reader.streamRange } : {}) };
  const largest = run.files.reduce((a, f) => f.tensors.reduce((b, r) => Math.max(b, r.end - r.start), a), 4);
  const slotBytes = Math.min(streamOptions.chunkBytes, largest);
  // A submission per staging slot, three in flight at most: the writes in flight stay at a few chunks.
  const backpressure = new QueueBackpressure(ctx.device.queue, meter, { fenceBytes: Math.ceil(slotBytes / 4) * 4, maxFences: 2 }, ctx.awaitGpu);
  const uploader = new GpuUploader(ctx, run.group, backpressure, { slotBytes });
  const files = opts.cached ? await takeCached(run, opts.cached, backpressure) : run.files;
  opts.transform?.begin?.(files.flatMap((f) => f.tensors));
  for (const f of files) {
    run.at({ file: f.url });
    const onTensor = (t: string | undefined) => run.at({ file: f.url, tensor: t });
    const sinks = f.tensors.map((r) => run.sink(r, backpressure, uploader));
    await streamFile(f, sinks, meter, run.http, streamOptions, onTensor, () => backpressure.throttle());
  }
  await backpressure.drain();
  uploader.release();
}

async function loadStreamedInt8<T>(run: LoadRun<T>): Promise<void> {
  if (!run.opts.transform) {
    // A caller's mistake, not the user's: load-model.ts passes int8WeightTransform for this strategy.
    throw new EngineError('unsupported', "loadWeights: the 'streamed-int8' strategy needs a quantize transform (int8WeightTransform)", {
      setting: 'strategy',
    });
  }
  await loadStreamed(run);
}

/**
 * Takes the tensors `cached` has whole (their bytes counted as read from the cache, progress adjusted) and returns the
 * files with only the tensors left to stream.
 */
async function takeCached<T>(run: LoadRun<T>, cached: CachedTensors<T>, backpressure: QueueBackpressure): Promise<SafetensorsFile[]> {
  const { meter } = run;
  const out: SafetensorsFile[] = [];
  for (const f of run.files) {
    const rest: TensorRecord[] = [];
    for (const r of f.tensors) {
      run.at({ file: f.url, tensor: r.name });
      const t0 = meter.now();
      const k = await cached.load(r, run.group);
      meter.timeSince('cache', t0);
      if (!k) {
        rest.push(r);
        continue;
      }
      run.tensors.set(r.name, k.tensor);
      meter.cachedTensor(k.bytes, r.end - r.start);
      backpressure.written(k.bytes);
      await backpressure.throttle();
    }
    if (rest.length) out.push({ ...f, tensors: rest });
  }
  return out;
}

function checkAbort(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw cancelledError(url);
}

/**
 * One plain GET of a whole file (no Range), checked against the size its header read gave: a body longer than that
 * (a server that sends more, or never ends) is refused once it passes it, never held whole.
 */
async function fetchWhole(url: string, size: number, meter: LoadMeter, http: HttpOptions): Promise<Uint8Array> {
  const t = meter.now();
  const bytes = (await fetchBytes(url, http, false, size))!;
  meter.timeSince('network', t);
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

/** naive, once every file is held: the f32 uploads of every tensor, then each converted to fp16. */
async function uploadF32AndConvert<T>(
  run: LoadRun<T>,
  held: { url: string; bytes: Uint8Array; tensors: TensorRecord[] }[],
  backpressure: QueueBackpressure,
): Promise<void> {
  const { ctx, group, meter } = run;
  const f32 = new Map<string, GPUBuffer[]>();
  for (const f of held) {
    for (const r of f.tensors) {
      run.at({ file: f.url, tensor: r.name });
      checkAbort(run.http.signal, f.url);
      let t = meter.now();
      const { values, held: f32Bytes } = toF32(r, f.bytes);
      // The host f32 copy lives until it is written (queue.writeBuffer copies it).
      const releaseF32 = meter.hostBuffers.hold(f32Bytes);
      t = meter.timeSince('convert', t);
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
          backpressure.written(n);
          buffers.push(b);
          if (n <= 0) break;
        }
        meter.timeSince('upload', t);
      } finally {
        releaseF32();
      }
      f32.set(r.name, buffers);
      await backpressure.throttle();
    }
  }
  // Convert after: fp16 tensors created one by one, each f32 copy freed once its fp16 twin exists.
  for (const f of held) {
    for (const r of f.tensors) {
      run.at({ file: f.url, tensor: r.name });
      checkAbort(run.http.signal, f.url);
      const s = run.sink(r, backpressure);
      s.push(f.bytes.subarray(r.start, r.end));
      await s.finish();
      for (const b of f32.get(r.name) ?? []) group.release(b);
      f32.delete(r.name);
      meter.tensorDone();
      await backpressure.throttle();
    }
  }
}
