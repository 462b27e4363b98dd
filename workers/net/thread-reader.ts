// Node only (benchmarks, CLIs; the browser bundle never imports this file): a RangeReader whose HTTP reads run on a
// worker thread, the way a browser's fetch runs in its network process. The JavaScript thread that converts and
// uploads then only receives whole chunks, so reading the network and writing the GPU overlap instead of taking
// turns on one thread.
//
// The thread runs http.streamRange itself (same validation, retry and resume, same errors) and gathers the body into
// a fixed ring of `buffers` chunks of `chunkBytes`, transferred (not copied) to this thread and given back after
// `onChunk` has finished with them. When all are out, the thread stops reading and TCP pushes back on the server:
// host memory is the ring, whatever the model's size, and the load's host ledger counts the ring while a read runs.
import { Worker } from 'node:worker_threads';
import { deserializeError, type SerializedEngineError } from '../errors.ts';
import type { FileVersion } from './file-version.ts';
import { cancelledError, type ByteRange, type HttpOptions, type RangeReader } from './http.ts';

export interface ThreadReaderOptions {
  /** Bytes per chunk handed over (default 4 MiB, the stream's chunk size). */
  chunkBytes?: number;
  /** Chunks in the ring (default 4). */
  buffers?: number;
  /** The worker script (default: thread-reader.worker.ts beside this file; bundles point at their own build). */
  workerUrl?: URL;
}

/** What the worker thread sends. */
export type ReaderMessage =
  | { type: 'chunk'; id: number; buf: ArrayBuffer; len: number; at: number }
  | { type: 'retry'; id: number; info: { url: string; attempt: number; at: number; reason: string } }
  | { type: 'done'; id: number; version?: FileVersion }
  | { type: 'error'; id: number; error: SerializedEngineError; version?: FileVersion };

/** What the worker thread receives. */
export type ReaderRequest =
  | {
      type: 'read'; id: number; url: string; range: ByteRange; retries?: number; backoffMs?: number; expectSize?: number | null;
      stallTimeoutMs?: number; chunkBytes: number; buffers: number;
      /** The file's version the load pinned (file-version.ts); the thread's reads ask for it and are checked against it. */
      version?: FileVersion;
    }
  | { type: 'give'; buf: ArrayBuffer }
  | { type: 'cancel'; id: number };

export interface ThreadReader {
  read: RangeReader;
  /** Ends the worker thread (reads still running fail as cancelled). */
  close(): Promise<void>;
}

export function threadRangeReader(options: ThreadReaderOptions = {}): ThreadReader {
  const chunkBytes = options.chunkBytes ?? 4 << 20;
  const buffers = options.buffers ?? 4;
  const url = options.workerUrl ?? new URL('./thread-reader.worker.ts', import.meta.url);
  // A TypeScript script starts through a small module that registers tsx's hooks (Node 20 workers inherit none).
  const worker = url.pathname.endsWith('.ts')
    ? new Worker(new URL('./start-ts-worker.mjs', import.meta.url), { workerData: { script: url.href } })
    : new Worker(url);
  worker.unref(); // only a running read keeps the process alive
  const handlers = new Map<number, (m: ReaderMessage) => void>();
  let seq = 0;
  let closed = false;
  worker.on('message', (m: ReaderMessage) => handlers.get(m.id)?.(m));
  const failAll = (message: string) => {
    for (const h of [...handlers.values()]) h({ type: 'error', id: -1, error: { name: 'EngineError', code: 'internal', message, details: {} } });
  };
  worker.on('error', (e: Error) => failAll(`reader thread: ${e.message}`));
  worker.on('exit', (code) => {
    if (!closed) failAll(`reader thread exited (code ${code})`);
  });
  const give = (buf: ArrayBuffer) => {
    if (!closed) worker.postMessage({ type: 'give', buf } satisfies ReaderRequest, [buf]);
  };

  const read: RangeReader = (fileUrl, range, opts: HttpOptions & { expectSize?: number | null }, onChunk, host) =>
    new Promise<void>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(cancelledError(fileUrl));
      if (closed) return reject(cancelledError(fileUrl));
      const id = ++seq;
      const releaseRing = host?.hold(buffers * chunkBytes);
      let chain = Promise.resolve();
      let settled = false;
      /** No more onChunk calls (cancelled, or onChunk failed); the thread is told to stop reading. */
      let stopped = false;
      const stop = () => {
        if (stopped) return;
        stopped = true;
        if (!closed) worker.postMessage({ type: 'cancel', id } satisfies ReaderRequest);
      };
      const settle = (e?: unknown) => {
        if (settled) return;
        settled = true;
        releaseRing?.();
        opts.signal?.removeEventListener('abort', onAbort);
        if (e === undefined) resolve();
        else reject(e);
      };
      // Like streamRange, a cancelled read rejects once the onChunk in progress has returned, never while it runs,
      // so the caller's clean-up cannot race a chunk still being written.
      const onAbort = () => {
        stop();
        void chain.then(() => settle(cancelledError(fileUrl)));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      handlers.set(id, (m) => {
        switch (m.type) {
          case 'chunk': {
            const { buf, len, at } = m;
            chain = chain.then(async () => {
              try {
                if (!stopped) await onChunk(new Uint8Array(buf, 0, len), at);
              } catch (e) {
                stop();
                settle(e);
              } finally {
                give(buf);
              }
            });
            break;
          }
          case 'retry':
            opts.onRetry?.(m.info);
            break;
          case 'done':
          case 'error':
            // the thread is finished with this read: settle after the chunks it sent before
            if (m.version) opts.versions?.adopt(fileUrl, m.version);
            handlers.delete(id);
            if (handlers.size === 0) worker.unref();
            void chain.then(() => settle(m.type === 'error' ? deserializeError(m.error) : undefined));
            break;
        }
      });
      worker.ref();
      worker.postMessage({
        type: 'read', id, url: fileUrl, range, retries: opts.retries, backoffMs: opts.backoffMs, expectSize: opts.expectSize,
        stallTimeoutMs: opts.stallTimeoutMs, chunkBytes, buffers, version: opts.versions?.get(fileUrl),
      } satisfies ReaderRequest);
    });

  return {
    read,
    async close() {
      closed = true;
      for (const h of [...handlers.values()]) h({ type: 'error', id: -1, error: { name: 'EngineError', code: 'cancelled', message: 'cancelled', details: {} } });
      await worker.terminate();
    },
  };
}
