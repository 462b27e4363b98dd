// The 'streamed' strategy: neighbouring tensors of a file are coalesced into range requests of bounded size, each
// body is read as a stream, gathered into chunks of a fixed size, converted and written into each tensor's GPU
// buffers. Host memory in flight is one chunk, plus what the fetch implementation buffers, plus the writes the GPU
// queue has not yet executed (bounded by `throttle`, see gpu-upload.ts), whatever the model's size. A server that ignores Range gets one sequential read of each file.
// The load's host ledger (meter.hostBuffers) counts the gather chunk while the file streams; the chunks being routed
// are counted by whoever reads them (http.streamRange, the cache reader), which is handed the same ledger.
import { streamRange, type ByteRange, type HttpOptions, type RangeReader } from '../net/http.ts';
import type { LoadMeter } from './load-meter.ts';
import type { SafetensorsFile, TensorRecord } from './safetensors.ts';
import type { TensorSink } from './tensor-sink.ts';

export interface StreamOptions {
  /** Largest single range request (default 64 MiB). */
  maxRequestBytes: number;
  /** Bytes gathered before one convert + write (default 4 MiB). */
  chunkBytes: number;
  /** Gaps between tensors up to this are read through rather than split into two requests (default 64 KiB). */
  maxGapBytes: number;
  /** Reads the ranges (default: the network, http.streamRange). */
  read?: RangeReader;
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = {
  maxRequestBytes: 64 * 1024 * 1024,
  chunkBytes: 4 * 1024 * 1024,
  maxGapBytes: 64 * 1024,
};

/** Splits a file's tensors (sorted by offset) into range requests of at most maxRequestBytes. */
export function planRequests(tensors: readonly TensorRecord[], limits: Pick<StreamOptions, 'maxRequestBytes' | 'maxGapBytes'>): ByteRange[] {
  const out: ByteRange[] = [];
  let cur: ByteRange | null = null;
  for (const t of tensors) {
    if (t.end === t.start) continue;
    let start = t.start;
    while (start < t.end) {
      if (cur && start - cur.end <= limits.maxGapBytes && cur.end - cur.start < limits.maxRequestBytes) {
        const end = Math.min(t.end, cur.start + limits.maxRequestBytes);
        if (end > cur.end && end > start) {
          cur.end = end;
          start = end;
          continue;
        }
      }
      cur = { start, end: Math.min(t.end, start + limits.maxRequestBytes) };
      out.push(cur);
      start = cur.end;
    }
  }
  return out;
}

/**
 * Routes a file's bytes, arriving in order (possibly with gaps between requests), to the sinks of its tensors.
 * Each call to `write` gets bytes at absolute offset `at`.
 */
class FileRouter<T> {
  private i = 0;

  constructor(
    private readonly sinks: TensorSink<T>[],
    private readonly meter: LoadMeter,
    /** Told each tensor as its bytes are routed or it is finished, so an error names the tensor at fault. */
    private readonly onTensor: (name: string) => void = () => {},
  ) {}

  get current(): TensorSink<T> | undefined {
    return this.sinks[this.i];
  }

  async write(bytes: Uint8Array, at: number): Promise<void> {
    let pos = at;
    let off = 0;
    while (off < bytes.length) {
      const s = this.sinks[this.i];
      if (!s) return; // trailing bytes after the last tensor
      const r = s.record;
      if (pos + (bytes.length - off) <= r.start) return; // all in a gap before this tensor
      if (pos < r.start) {
        off += r.start - pos;
        pos = r.start;
      }
      const n = Math.min(bytes.length - off, r.end - pos);
      this.meter.atTensor(r.name);
      this.onTensor(r.name);
      if (n > 0) s.push(bytes.subarray(off, off + n));
      off += n;
      pos += n;
      if (pos >= r.end) await this.finishCurrent();
    }
  }

  /** Finishes tensors with no bytes left (and empty ones) up to the current position. */
  async finishCurrent(): Promise<void> {
    const s = this.sinks[this.i++];
    await s.finish();
    this.meter.tensorDone();
    while (this.sinks[this.i] && this.sinks[this.i].record.end === this.sinks[this.i].record.start) {
      this.onTensor(this.sinks[this.i].record.name);
      await this.sinks[this.i++].finish();
      this.meter.tensorDone();
    }
  }

  async finishEmptyLeading(): Promise<void> {
    while (this.sinks[this.i] && this.sinks[this.i].record.end === this.sinks[this.i].record.start) {
      await this.sinks[this.i++].finish();
      this.meter.tensorDone();
    }
  }

  get complete(): boolean {
    return this.i >= this.sinks.length;
  }
}

/** Streams one file's tensors into their sinks. `onTensor` tells the caller which tensor is in progress (errors). */
export async function streamFile<T>(
  file: SafetensorsFile,
  sinks: TensorSink<T>[],
  meter: LoadMeter,
  http: HttpOptions,
  opts: StreamOptions,
  onTensor: (name: string | undefined) => void,
  /** Awaited after each chunk is handed to the sinks: bounds the writes in flight on the GPU queue. */
  throttle: () => Promise<void> = async () => {},
): Promise<void> {
  const router = new FileRouter(sinks, meter, onTensor);
  await router.finishEmptyLeading();
  const records = sinks.map((s) => s.record);
  const requests = file.rangeSupported
    ? planRequests(records, opts)
    : records.length
      ? [{ start: records[0].start, end: Math.max(...records.map((r) => r.end)) }]
      : [];
  const chunk = new Uint8Array(opts.chunkBytes);
  const read: RangeReader = opts.read ?? streamRange;
  const releaseChunk = meter.hostBuffers.hold(chunk.byteLength);
  try {
    for (const req of requests) {
      let fill = 0;
      let chunkAt = req.start;
      let waitFrom = meter.now();
      const flush = async () => {
        if (fill === 0) return;
        await router.write(chunk.subarray(0, fill), chunkAt);
        chunkAt += fill;
        fill = 0;
        await throttle();
      };
      onTensor(router.current?.record.name);
      await read(file.url, req, { ...http, expectSize: file.size }, async (bytes, at, fromCache) => {
        if (fromCache) {
          meter.timeSince('cache', waitFrom);
          meter.fromCache(bytes.length);
        } else {
          meter.timeSince('network', waitFrom);
          meter.fetched(bytes.length);
        }
        if (at !== chunkAt + fill) throw new Error(`stream out of order at ${at}`);
        let off = 0;
        while (off < bytes.length) {
          // Large network chunks go straight through; small ones are gathered into `chunk` first.
          if (fill === 0 && bytes.length - off >= opts.chunkBytes) {
            const n = bytes.length - off;
            onTensor(router.current?.record.name);
            await router.write(bytes.subarray(off), at + off);
            await throttle();
            chunkAt = at + off + n;
            off += n;
            continue;
          }
          const n = Math.min(opts.chunkBytes - fill, bytes.length - off);
          chunk.set(bytes.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill === opts.chunkBytes) {
            onTensor(router.current?.record.name);
            await flush();
          }
        }
        waitFrom = meter.now();
      }, meter.hostBuffers);
      onTensor(router.current?.record.name);
      await flush();
    }
  } finally {
    releaseChunk();
  }
  if (!router.complete) throw new Error(`${file.url}: the stream ended before tensor '${router.current?.record.name}'`);
}
