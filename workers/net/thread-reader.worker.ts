// The worker thread of thread-reader.ts: runs http.streamRange and hands the body over in a ring of whole chunks.
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../errors.ts';
import { FileVersions } from './file-version.ts';
import { streamRange } from './http.ts';
import type { ReaderMessage, ReaderRequest } from './thread-reader.ts';

const port = parentPort!;
const free: ArrayBuffer[] = [];
let made = 0;
let waiting: (() => void)[] = [];
const reads = new Map<number, AbortController>();

function wake(): void {
  const w = waiting;
  waiting = [];
  for (const r of w) r();
}

function post(m: ReaderMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

/** A free chunk buffer: a new one while the ring is short of `ring`, else one given back. */
async function take(size: number, ring: number, signal: AbortSignal): Promise<ArrayBuffer> {
  for (;;) {
    const b = free.pop();
    if (b && b.byteLength === size) return b;
    if (!b && made < ring) {
      made++;
      return new ArrayBuffer(size);
    }
    if (b) made--; // a buffer of another size (an earlier reader's): drop it
    if (signal.aborted) throw signal.reason;
    await new Promise<void>((r) => waiting.push(r));
  }
}

async function run(m: Extract<ReaderRequest, { type: 'read' }>): Promise<void> {
  const ac = new AbortController();
  reads.set(m.id, ac);
  let cur: ArrayBuffer | null = null;
  let fill = 0;
  let curAt = m.range.start;
  const send = () => {
    if (!cur || fill === 0) return;
    post({ type: 'chunk', id: m.id, buf: cur, len: fill, at: curAt }, [cur]);
    curAt += fill;
    cur = null;
    fill = 0;
  };
  // the load's pin for this file, held here for the read; what it pins (or learns) goes back with the answer
  const versions = new FileVersions();
  if (m.version) versions.adopt(m.url, m.version);
  try {
    await streamRange(
      m.url,
      m.range,
      {
        signal: ac.signal, retries: m.retries, backoffMs: m.backoffMs, expectSize: m.expectSize,
        stallTimeoutMs: m.stallTimeoutMs, versions,
        onRetry: (info) => post({ type: 'retry', id: m.id, info }),
      },
      async (c, at) => {
        let off = 0;
        while (off < c.length) {
          if (!cur) {
            cur = await take(m.chunkBytes, m.buffers, ac.signal);
            curAt = at + off;
          }
          const n = Math.min(m.chunkBytes - fill, c.length - off);
          new Uint8Array(cur, fill, n).set(c.subarray(off, off + n));
          fill += n;
          off += n;
          if (fill === m.chunkBytes) send();
        }
      },
    );
    send();
    post({ type: 'done', id: m.id, version: versions.get(m.url) });
  } catch (e) {
    if (cur) free.push(cur);
    post({ type: 'error', id: m.id, error: serializeError(e), version: versions.get(m.url) });
  } finally {
    reads.delete(m.id);
  }
}

port.on('message', (m: ReaderRequest) => {
  if (m.type === 'read') void run(m);
  else if (m.type === 'give') {
    free.push(m.buf);
    wake();
  } else if (m.type === 'cancel') {
    reads.get(m.id)?.abort();
    wake();
  }
});
