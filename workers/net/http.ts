// HTTP for checkpoints: small whole-body GETs (config, tokenizer), prefix reads (safetensors headers) and streamed
// byte ranges with Content-Range validation, retry with backoff that resumes at the last byte delivered, and
// cancellation. Uses only the global fetch, so it runs unchanged in a browser worker and in Node 20.
import { EngineError } from '../errors.ts';
import type { HostLedger } from '../gpu/host-ledger.ts';
import { fetchFailure } from './fetch-failure.ts';
import { responseVersion, type FileVersions } from './file-version.ts';

/** How long a request may wait for its answer, or a body for its next bytes, before it counts as stalled. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export interface HttpOptions {
  signal?: AbortSignal;
  /** Retries without progress before giving up (default 4). An attempt that delivers PROGRESS_RESET_BYTES before it fails resets the count. */
  retries?: number;
  /** First backoff in ms, doubled on every retry without progress (default 250). */
  backoffMs?: number;
  /** Called before each retry (for logs and tests). */
  onRetry?: (info: { url: string; attempt: number; at: number; reason: string }) => void;
  /**
   * Give up on a request whose response has not begun within this many ms: an EngineError('network') marked
   * unreachable and timeout (isUnreachable), not retried. Unset (the default): the stall timeout below applies.
   */
  responseTimeoutMs?: number;
  /**
   * A request whose answer has not begun, or a body that delivers no byte, for this many ms is abandoned as stalled:
   * an EngineError('network') with details.stalled, retried (resuming where it stopped) like a dropped connection,
   * though bytes received do not reset the retry count after a stall: `retries` + 1 stalls of one request fail it.
   * Default DEFAULT_STALL_TIMEOUT_MS; 0 waits forever. Time spent in the caller's onChunk does not count.
   */
  stallTimeoutMs?: number;
  /**
   * The load's pinned file versions (file-version.ts): every response is checked against its file's pin (the first
   * pins it) and range requests ask for the pinned version (If-Range). Absent: no version is held.
   */
  versions?: FileVersions;
  /**
   * A Hugging Face access token: requests to HUB_ORIGIN (and to no other origin) carry it as `Authorization: Bearer`.
   * The hub's redirects to its CDN lose it on the way, as fetch drops Authorization on a cross-origin redirect.
   */
  hubToken?: string;
}

/** The one origin a hub token is sent to. */
export const HUB_ORIGIN = 'https://huggingface.co';

/** `headers`, plus `Authorization: Bearer <hubToken>` when the request goes to the hub and a token is given. */
export function requestHeaders(url: string, opts: Pick<HttpOptions, 'hubToken'>, headers: Record<string, string> = {}): Record<string, string> {
  if (!opts.hubToken) return headers;
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    return headers;
  }
  return origin === HUB_ORIGIN ? { ...headers, Authorization: `Bearer ${opts.hubToken}` } : headers;
}

/** A byte range [start, end) of one file. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where range bytes come from: streamRange by default, the thread reader (thread-reader.ts), or the cache's reader
 * (workers/cache/reader.ts), which also tells whether each chunk came from the cache. `host`, when given, counts the
 * host bytes the reader holds while it reads (its chunks, a ring, a block buffer).
 */
export type RangeReader = (
  url: string,
  range: ByteRange,
  opts: HttpOptions & { expectSize?: number | null },
  onChunk: (chunk: Uint8Array, at: number, fromCache?: boolean) => void | Promise<void>,
  host?: HostLedger,
) => Promise<void>;

export function fileName(url: string): string {
  const path = url.split(/[?#]/)[0];
  return path.slice(path.lastIndexOf('/') + 1) || url;
}

export function cancelledError(url?: string): EngineError {
  return new EngineError('cancelled', 'the load was cancelled', url ? { file: url } : {});
}

function checkAbort(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw cancelledError(url);
}

function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'AbortError';
}

/** True for statuses that a retry may cure. */
function transientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * True for a load error that means the network could not be reached: fetch() itself rejected (no response at all:
 * offline, DNS, refused connection, or a cross-origin failure the browser will not tell apart) or no response began
 * within `responseTimeoutMs`. An HTTP status (404, 403, 5xx, 429) is never this: the server answered.
 */
export function isUnreachable(e: unknown): e is EngineError {
  return e instanceof EngineError && (e.code === 'network' || e.code === 'cors') && e.details.unreachable === true;
}

export function statusError(url: string, status: number, what = fileName(url)): EngineError {
  const hint =
    status === 404
      ? 'not found'
      : status === 401 || status === 403
        ? 'access denied (a gated or private model needs a token; or the server forbids it)'
        : `HTTP ${status}`;
  return new EngineError('http', `${what}: ${hint} (${status}) at ${url}`, { file: url, status });
}

function sleep(ms: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError(url));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelledError(url));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A failure that a retry is not expected to cure soon: a response timeout (the caller decides what to do), a redirect
 * loop. (CORS errors are not network errors, and never retried either.)
 */
function final(e: EngineError): boolean {
  return e.details.timeout === true || e.details.redirect === true;
}

function retryable(e: unknown): boolean {
  return e instanceof EngineError && e.code === 'network' && !final(e);
}

/**
 * fetch() with abort turned into EngineError('cancelled') and failures into network/cors errors (fetch-failure.ts:
 * unreachable only when the server cannot be reached at all). With `responseTimeoutMs`, a response that has not begun
 * in time is an unreachable network error (not retried); otherwise one that has not begun within the stall timeout
 * is a stalled request (retried).
 */
async function doFetch(url: string, init: RequestInit, opts: HttpOptions): Promise<Response> {
  const signal = opts.signal;
  checkAbort(signal, url);
  const reach = opts.responseTimeoutMs !== undefined && opts.responseTimeoutMs > 0 ? opts.responseTimeoutMs : null;
  const stall = stallMs(opts);
  const ms = reach ?? (stall > 0 ? stall : null);
  const timer = ms !== null ? new AbortController() : null;
  const t = timer ? setTimeout(() => timer.abort(), ms!) : undefined;
  try {
    const both = timer ? (signal ? AbortSignal.any([signal, timer.signal]) : timer.signal) : signal;
    // Past the browser's HTTP cache: weights are kept in our own cache (workers/cache), and Chromium's cache, given
    // partial (206) entries, bodies cancelled after a prefix and a server that gzips a file it was asked a range of,
    // has served a whole-file GET a truncated body (vite preview, e2e/flow.spec.ts).
    const headers = requestHeaders(url, opts, (init.headers ?? {}) as Record<string, string>);
    return await fetch(url, { ...init, headers, cache: 'no-store', signal: both });
  } catch (e) {
    if (signal?.aborted) throw cancelledError(url);
    if (timer?.signal.aborted) {
      const s = `${(ms! / 1000).toFixed(1)} s`;
      if (reach !== null) {
        throw new EngineError('network', `could not fetch ${fileName(url)}: no answer within ${s}`, {
          file: url,
          unreachable: true,
          timeout: true,
        });
      }
      throw new EngineError('network', `${fileName(url)}: no answer within ${s} (the server stalled)`, { file: url, stalled: true });
    }
    if (isAbort(e)) throw cancelledError(url);
    throw await fetchFailure(url, e, { signal });
  } finally {
    clearTimeout(t);
  }
}

function stallMs(opts: HttpOptions): number {
  return opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
}

/**
 * A body must deliver at least this many bytes per stall timeout spent waiting on it (16 KiB in the default 30 s,
 * about 0.5 KiB/s): slower, it is a drip that would never end (a byte every 29 s passes any per-read timeout), and it
 * is stalled as one that sends nothing is.
 */
export const STALL_MIN_BYTES = 16 * 1024;

/**
 * Reads a response body with a watchdog: the body is cancelled (the connection closes) and `stalled` turns true when a
 * read() waits longer than the stall timeout for bytes, or when the reads have waited that long in all without
 * STALL_MIN_BYTES arriving. Only the time spent waiting in read() counts (not a slow consumer's).
 */
class StallWatch {
  stalled = false;
  /** Whether the stall is a drip (bytes came, too few) rather than silence: its message says so. */
  private drip = false;
  /** When the read in progress began (null: none). */
  private since: number | null = null;
  /** Time waited and bytes received since the body last delivered STALL_MIN_BYTES. */
  private waited = 0;
  private got = 0;
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly ms: number,
  ) {
    if (ms > 0) {
      this.timer = setInterval(() => {
        if (this.since === null) return;
        const pending = performance.now() - this.since;
        if (pending < ms && this.waited + pending < ms) return;
        this.drip = pending < ms;
        this.stalled = true;
        void reader.cancel().catch(() => {});
      }, Math.max(5, Math.min(1000, ms / 4)));
    }
  }

  /**
   * The body's next chunk, or null at its end. A cancel fails with 'cancelled'; a stall, or a connection lost (worded
   * by `lost`), is retryable. `pos` is where the body stands, for the stall's message.
   */
  async next(url: string, signal: AbortSignal | undefined, pos: number, lost: (e: unknown) => Promise<EngineError> | EngineError): Promise<Uint8Array | null> {
    let r: ReadableStreamReadResult<Uint8Array>;
    const since = performance.now();
    this.since = since;
    try {
      r = await this.reader.read();
    } catch (e) {
      if (signal?.aborted || isAbort(e)) throw cancelledError(url);
      throw new RetryableError(await lost(e));
    } finally {
      this.since = null;
      this.waited += performance.now() - since;
    }
    if (this.stalled) throw new RetryableError(this.error(url, pos));
    if (r.done) return null;
    this.got += r.value.length;
    if (this.got >= STALL_MIN_BYTES) {
      this.got = 0;
      this.waited = 0;
    }
    return r.value;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  error(url: string, pos: number): EngineError {
    return new EngineError(
      'network',
      this.drip
        ? `${fileName(url)}: less than ${STALL_MIN_BYTES / 1024} KiB in ${(this.ms / 1000).toFixed(1)} s at byte ${pos} (the server stalled)`
        : `${fileName(url)}: no data for ${(this.ms / 1000).toFixed(1)} s at byte ${pos} (the server stalled)`,
      { file: url, offset: pos, stalled: true },
    );
  }
}

/**
 * Bytes an attempt must deliver before it fails for its failure to reset the retry count: a server that cuts every
 * connection after a few bytes (or drips them and stalls) is given up after its retries, not retried byte by byte
 * without end. A real connection that drops does so after far more than this.
 */
export const PROGRESS_RESET_BYTES = 64 * 1024;

/**
 * Runs `attempt` until it succeeds, retrying transient failures with backoff. An attempt that delivered at least
 * PROGRESS_RESET_BYTES (told through `progress`) before a failure that is not a stall resets the count.
 */
async function withRetry<T>(
  url: string,
  opts: HttpOptions,
  attempt: (progress: (bytes: number) => void) => Promise<T>,
  position: () => number = () => 0,
): Promise<T> {
  const retries = opts.retries ?? 4;
  let failures = 0;
  for (;;) {
    let delivered = 0;
    try {
      return await attempt((bytes) => (delivered += bytes));
    } catch (e) {
      if (!(e instanceof RetryableError)) throw e;
      // Bytes delivered reset the count, except after a stall: a server that sends a little and stalls again and
      // again is not waited for without end.
      if (delivered >= PROGRESS_RESET_BYTES && e.final.details.stalled !== true) failures = 0;
      if (failures >= retries) throw e.final;
      failures++;
      opts.onRetry?.({ url, attempt: failures, at: position(), reason: e.final.message });
      await sleep((opts.backoffMs ?? 250) * 2 ** (failures - 1), opts.signal, url);
    }
  }
}

/** A failure a retry may cure; `final` is what the caller sees when retries run out. */
class RetryableError extends Error {
  constructor(readonly final: EngineError) {
    super(final.message);
  }
}

/**
 * GET a whole file (no Range). Returns null on 404 when `optional`. Checked against the load's pinned version. A file
 * larger than `maxBytes` is refused (by its Content-Length before its body, or once its body passes the bound).
 */
export async function fetchBytes(url: string, opts: HttpOptions = {}, optional = false, maxBytes = Infinity): Promise<Uint8Array | null> {
  return withRetry(url, opts, async () => {
    const res = await doFetch(url, {}, opts).catch((e: unknown) => {
      throw retryable(e) ? new RetryableError(e as EngineError) : e;
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      if (optional && res.status === 404) return null;
      const err = statusError(url, res.status);
      throw transientStatus(res.status) ? new RetryableError(err) : err;
    }
    try {
      opts.versions?.check(url, responseVersion(res.headers, bodySize(res.headers), false), res.status, false);
    } catch (e) {
      await res.body?.cancel().catch(() => {});
      throw e;
    }
    const told = bodySize(res.headers);
    if (told !== null && told > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw tooLarge(url, told, maxBytes);
    }
    if (!res.body) return new Uint8Array(await res.arrayBuffer());
    const reader = res.body.getReader();
    const watch = new StallWatch(reader, stallMs(opts));
    const chunks: Uint8Array[] = [];
    let got = 0;
    try {
      for (;;) {
        const chunk = await watch.next(url, opts.signal, got, (e) => fetchFailure(url, e, { afterResponse: true }));
        if (!chunk) break;
        chunks.push(chunk);
        got += chunk.length;
        if (got > maxBytes) {
          await reader.cancel().catch(() => {});
          throw tooLarge(url, got, maxBytes);
        }
      }
    } finally {
      watch.stop();
      if (opts.signal?.aborted) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
    checkAbort(opts.signal, url);
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(got);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  });
}

function tooLarge(url: string, bytes: number, max: number): EngineError {
  return new EngineError('bad-file', `${fileName(url)} is ${bytes} bytes or more, more than the ${max} such a file may be`, {
    file: url,
    maxBytes: max,
  });
}

/** A whole body's size from Content-Length (null when compressed or not told). */
function bodySize(h: Headers): number | null {
  const len = h.get('content-length');
  return len !== null && !h.get('content-encoding') && Number.isSafeInteger(Number(len)) ? Number(len) : null;
}

/**
 * Asks for the first two bytes of `url` (one byte would do, but some static servers, sirv behind `vite preview`, read
 * `bytes=0-0` as "to the end"), with the retries and errors of every other request, and returns the answer's status
 * and headers (the body is dropped). The answer pins the file's version in the load (opts.versions) or is checked
 * against it. 404/403/other 4xx: EngineError('http').
 */
export async function probeRange(url: string, opts: HttpOptions = {}): Promise<{ status: number; headers: Headers }> {
  return withRetry(url, opts, async () => {
    const headers: Record<string, string> = { Range: 'bytes=0-1' };
    const ifRange = opts.versions?.ifRange(url);
    if (ifRange) headers['If-Range'] = ifRange;
    const res = await doFetch(url, { headers }, opts).catch((e) => {
      throw retryable(e) ? new RetryableError(e as EngineError) : e;
    });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 206 && res.status !== 200) {
      const err = statusError(url, res.status);
      throw transientStatus(res.status) ? new RetryableError(err) : err;
    }
    const size = res.status === 206 ? (parseContentRange(res.headers.get('content-range'))?.total ?? null) : bodySize(res.headers);
    opts.versions?.check(url, responseVersion(res.headers, size, res.status === 206), res.status, true);
    return { status: res.status, headers: res.headers };
  });
}

/**
 * The status and headers of a GET of `url` with `headers`, its body cancelled unread (a probe). A fetch that rejects
 * is retried as every request here is; the status is the caller's to judge.
 */
export async function probe(url: string, headers: Record<string, string>, opts: HttpOptions = {}): Promise<{ status: number; headers: Headers }> {
  return withRetry(url, opts, async () => {
    const res = await doFetch(url, { headers }, opts).catch((e: EngineError) => {
      throw e.code === 'network' && !final(e) ? new RetryableError(e) : e;
    });
    await res.body?.cancel().catch(() => {});
    return { status: res.status, headers: res.headers };
  });
}

/**
 * Whether bytes are an HTML document: what single-page-app servers (vite, many static hosts) answer with status 200
 * for a file that is not there. Only a doctype or an <html> tag counts, since a text file (a chat template) may well
 * begin with '<' ('<|im_start|>', '<s>').
 */
export function isHtmlDocument(bytes: Uint8Array): boolean {
  return /^\uFEFF?\s*<(!doctype\s+html|html)[\s>]/i.test(new TextDecoder().decode(bytes.subarray(0, 256)));
}

export async function fetchJson<T = unknown>(url: string, opts: HttpOptions = {}, optional = false, maxBytes = Infinity): Promise<T | null> {
  const bytes = await fetchBytes(url, opts, optional, maxBytes);
  if (bytes === null) return null;
  // Single-page-app servers (vite, many static hosts) answer a missing file with their index.html and status 200.
  if (/^\s*</.test(new TextDecoder().decode(bytes.subarray(0, 64)))) {
    if (optional) return null;
    throw new EngineError('http', `${url} is an HTML page, not ${fileName(url)}: the model folder is probably not there`, {
      file: url,
      status: 404,
    });
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new EngineError('bad-file', `${fileName(url)} is not valid JSON: ${(e as Error).message}`, { file: url });
  }
}

/** Parses `bytes a-b/total` (total may be `*`). */
export function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  const m = v && /^bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]) + 1, total: m[3] === '*' ? null : Number(m[3]) };
}

export interface PrefixRead {
  bytes: Uint8Array;
  /** File size from Content-Range (206) or Content-Length (200); null when the server gave neither. */
  size: number | null;
  /** False when the server answered a Range request with the whole file (200). */
  rangeSupported: boolean;
}

/**
 * Reads the first `n` bytes of a file (fewer when the file is shorter). A server that ignores Range is read as a
 * stream and cancelled after `n` bytes, so the file is never downloaded whole here.
 */
export async function readPrefix(url: string, n: number, opts: HttpOptions = {}): Promise<PrefixRead> {
  let size: number | null = null;
  let rangeSupported = true;
  const chunks: Uint8Array[] = [];
  let got = 0;
  const onInfo = (info: RangeInfo) => {
    size = info.size;
    rangeSupported = info.rangeSupported;
  };
  await readRange(url, { start: 0, end: n }, opts, (chunk) => {
    chunks.push(chunk.slice());
    got += chunk.length;
  }, { onInfo, allowShort: true });
  const bytes = new Uint8Array(got);
  let o = 0;
  for (const c of chunks) {
    bytes.set(c, o);
    o += c.length;
  }
  return { bytes, size, rangeSupported };
}

export interface RangeInfo {
  size: number | null;
  rangeSupported: boolean;
}

/**
 * Streams bytes [start, end) of `url` to `onChunk` in order, each byte exactly once, whatever the server does:
 * - 206: Content-Range must start where asked and, when the file size is known (`opts` via `expectSize`), agree with it;
 * - 200 (Range ignored): one sequential streamed read, skipping to `start` and stopping at `end`;
 * - a dropped connection, a body that ends early, a 5xx/429: retry with backoff, resuming at the next byte not yet
 *   delivered (an attempt that delivers PROGRESS_RESET_BYTES resets the retry count);
 * - 404/403/other 4xx: EngineError('http') at once; abort: EngineError('cancelled').
 * `onChunk` may be async (backpressure): the next read waits for it. `host`, a load's host-bytes ledger, counts each
 * body chunk while onChunk has it.
 */
export function streamRange(
  url: string,
  range: ByteRange,
  opts: HttpOptions & { expectSize?: number | null },
  onChunk: (chunk: Uint8Array, offset: number) => void | Promise<void>,
  host?: HostLedger,
): Promise<void> {
  return readRange(url, range, opts, onChunk, { host });
}

/**
 * streamRange, and for prefix reads: `onInfo` is told the file's size and whether the server honours Range, and
 * `allowShort` accepts a file that ends before `end` (otherwise a short file is an error naming it).
 */
async function readRange(
  url: string,
  range: ByteRange,
  opts: HttpOptions & { expectSize?: number | null },
  onChunk: (chunk: Uint8Array, offset: number) => void | Promise<void>,
  { host, onInfo, allowShort = false }: { host?: HostLedger; onInfo?: (info: RangeInfo) => void; allowShort?: boolean },
): Promise<void> {
  let pos = range.start;
  let end = range.end;
  if (end <= pos) return;
  await withRetry(
    url,
    opts,
    async (progressed) => {
      const headers: Record<string, string> = { Range: `bytes=${pos}-${end - 1}` };
      const ifRange = opts.versions?.ifRange(url);
      if (ifRange) headers['If-Range'] = ifRange;
      const res = await doFetch(url, { headers }, opts).catch((e) => {
        throw retryable(e) ? new RetryableError(e as EngineError) : e;
      });
      if (res.status === 416 && allowShort) {
        await res.body?.cancel().catch(() => {});
        // 'bytes */N' tells the file's size: a 416 for a start below it contradicts itself (a glitch), and is retried.
        const size = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(res.headers.get('content-range') ?? '');
        if (size && Number(size[1]) > pos) {
          throw new RetryableError(
            new EngineError('http', `${fileName(url)}: the server refused bytes ${pos}-${end - 1} (416) of a file it says has ${size[1]} bytes`, {
              file: url,
              status: 416,
            }),
          );
        }
        end = pos;
        return;
      }
      if (res.status !== 206 && res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        const err = statusError(url, res.status);
        throw transientStatus(res.status) ? new RetryableError(err) : err;
      }
      // Another version of the file than the one this load pinned: refused before a byte of it is handed on.
      const cr = res.status === 206 ? parseContentRange(res.headers.get('content-range')) : null;
      try {
        const size = res.status === 206 ? (cr?.total ?? null) : bodySize(res.headers);
        opts.versions?.check(url, responseVersion(res.headers, size, res.status === 206), res.status, true);
      } catch (e) {
        await res.body?.cancel().catch(() => {});
        throw e;
      }
      let skip = 0;
      if (res.status === 206) {
        const total = cr?.total ?? null;
        const wantEnd = total !== null ? Math.min(end, total) : end;
        const bad =
          !cr ||
          cr.start !== pos ||
          cr.end !== wantEnd ||
          (opts.expectSize != null && total !== null && total !== opts.expectSize);
        if (bad) {
          await res.body?.cancel().catch(() => {});
          throw new EngineError(
            'http',
            `${fileName(url)}: the server answered bytes ${pos}-${end - 1} with Content-Range ` +
              `'${res.headers.get('content-range')}'` +
              (opts.expectSize != null ? ` (file size ${opts.expectSize})` : ''),
            { file: url, status: 206, contentRange: res.headers.get('content-range') },
          );
        }
        // A coded body (gzip, br) of a range: its Content-Range counts coded bytes, or the server compressed the
        // whole file under a range's Content-Range; either way the decoded bytes cannot be placed in the file.
        // (fetch asks for a range with Accept-Encoding: identity.)
        const coding = res.headers.get('content-encoding');
        if (coding !== null && !/^\s*identity\s*$/i.test(coding)) {
          await res.body?.cancel().catch(() => {});
          throw new RetryableError(
            new EngineError('http', `${fileName(url)}: the server sent bytes ${pos}-${end - 1} compressed (Content-Encoding: ${coding}), which cannot be placed in the file`, {
              file: url,
              status: 206,
              contentEncoding: coding,
            }),
          );
        }
        if (cr.end < end) {
          if (!allowShort) throw shortFile(url, cr.end, end);
          end = cr.end;
        }
        onInfo?.({ size: total, rangeSupported: true });
      } else {
        onInfo?.({ size: bodySize(res.headers), rangeSupported: false });
        skip = pos;
      }
      if (!res.body) throw new RetryableError(new EngineError('network', `${fileName(url)}: empty response body`, { file: url }));
      const reader = res.body.getReader();
      const watch = new StallWatch(reader, stallMs(opts));
      try {
        const lost = (e: unknown) =>
          new EngineError('network', `${fileName(url)}: connection lost at byte ${pos} (${(e as Error).message})`, { file: url, offset: pos });
        for (;;) {
          const chunk = await watch.next(url, opts.signal, pos, lost);
          if (!chunk) break;
          let c = chunk;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          if (c.length > end - pos) {
            // A 206 body longer than its Content-Range says is not the range it names: nothing of the chunk is used.
            if (res.status === 206) throw new RetryableError(longerBody(url, pos, end));
            c = c.subarray(0, end - pos);
          }
          if (c.length > 0) {
            progressed(c.length);
            const at = pos;
            pos += c.length;
            const release = host?.hold(chunk.byteLength);
            try {
              await onChunk(c, at);
            } finally {
              release?.();
            }
          }
          if (pos >= end) break;
        }
      } finally {
        watch.stop();
        if (pos >= end || opts.signal?.aborted) await reader.cancel().catch(() => {});
        reader.releaseLock();
      }
      checkAbort(opts.signal, url);
      if (pos < end) {
        if (allowShort && res.status === 200 && skip === 0) {
          end = pos; // the whole (short) file was read
          return;
        }
        throw new RetryableError(truncated(url, pos, end));
      }
    },
    () => pos,
  );
}

function shortFile(url: string, size: number, want: number): EngineError {
  return new EngineError('bad-file', `${fileName(url)} ends at byte ${size}, but ${want} bytes were expected`, {
    file: url,
    size,
  });
}

function longerBody(url: string, pos: number, end: number): EngineError {
  return new EngineError(
    'http',
    `${fileName(url)}: the server sent more bytes than its Content-Range names (past byte ${end - 1}, at byte ${pos}): not the range asked for`,
    { file: url, offset: pos },
  );
}

function truncated(url: string, pos: number, end: number): EngineError {
  return new EngineError(
    'bad-file',
    `${fileName(url)}: the response body ended early (truncated) at byte ${pos} of the range ending at ${end}`,
    { file: url, offset: pos },
  );
}
