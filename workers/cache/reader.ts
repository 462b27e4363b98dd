// The loader's view of the cache: stream bytes [start, end) of a file, from committed blocks where the cache has
// them and from the network otherwise. Network reads are widened to whole blocks and written through to the cache
// as they arrive, block by block, so a load cut short resumes at the first block not committed (at most one block
// of the cut is fetched again), and the next load of the same file makes no requests for these bytes.
// Host bytes (counted in the load's host ledger, when given): a block read from the cache while it is handed on, the
// write-through block buffer while a fetch runs, and (http.streamRange) each network chunk.
import { EngineError } from '../errors.ts';
import type { HostLedger } from '../gpu/host-ledger.ts';
import { isFileChanged, versionChanged } from '../net/file-version.ts';
import { fileName, readPrefix, streamRange, type ByteRange, type HttpOptions, type PrefixRead } from '../net/http.ts';
import type { CacheEntry } from './entry.ts';
import type { ByteCache } from './store.ts';
import { hubPublishedSha256 } from './hub-sha256.ts';
import { probeValidator, validatorKey, type Validator } from './validator.ts';

/** Builds the error of a load that could not reach the network and finds `file` missing or incomplete in the cache. */
export type NoNetwork = (file: string, what: string) => EngineError;

/** Receives bytes in order; `fromCache` tells where they came from (the load report counts network bytes only). */
export type CachedChunk = (chunk: Uint8Array, offset: number, fromCache: boolean) => void | Promise<void>;

export interface ReadCounters {
  /** Bytes received from the network (including the widening to whole blocks). */
  networkBytes: number;
  /** Bytes read from the cache. */
  cacheBytes: number;
  /** Range requests made for data (the validator probes are not counted). */
  networkRequests: number;
}

export function newCounters(): ReadCounters {
  return { networkBytes: 0, cacheBytes: 0, networkRequests: 0 };
}

/** How one read through the cache goes. */
export interface ReadContext {
  http: HttpOptions;
  /** The load's host ledger (see the head of this file). */
  host?: HostLedger;
  /** Where the read adds the bytes it took from each side. */
  counters: ReadCounters;
  /** An offline load: the error for bytes the cache does not hold, instead of a fetch. */
  noNetwork?: NoNetwork | null;
}

/**
 * Streams `range` of the entry's file to `onChunk`, in order, each byte once. With `noNetwork` (an offline load),
 * a block that is not committed or fails its check is that error instead of a fetch.
 */
export async function readThrough(entry: CacheEntry, range: ByteRange, onChunk: CachedChunk, rc: ReadContext): Promise<void> {
  const { counters, noNetwork } = rc;
  const B = entry.blockBytes;
  const end = Math.min(range.end, entry.size);
  if (range.end > entry.size) {
    throw new EngineError('bad-file', `${fileName(entry.url)}: bytes up to ${range.end} asked of a ${entry.size}-byte file`, { file: entry.url });
  }
  let pos = range.start;
  let i = Math.floor(pos / B);
  while (pos < end) {
    if (entry.has(i)) {
      const data = await entry.readBlock(i);
      if (data) {
        const hi = Math.min(end, i * B + data.length);
        counters.cacheBytes += hi - pos;
        const release = rc.host?.hold(data.byteLength);
        try {
          await onChunk(data.subarray(pos - i * B, hi - i * B), pos, true);
        } finally {
          release?.();
        }
        pos = hi;
        i++;
        continue;
      }
    }
    if (noNetwork) throw notWhole(noNetwork, entry, i);
    let j = i + 1;
    while (j * B < end && !entry.has(j)) j++;
    await fetchBlocks(entry, i, j, { start: pos, end: Math.min(end, j * B) }, onChunk, rc);
    pos = Math.min(end, j * B);
    i = j;
  }
}

function notWhole(noNetwork: NoNetwork, entry: CacheEntry, block: number): EngineError {
  return noNetwork(entry.url, `is not whole in the cache (block ${block} is missing or failed its check)`);
}

/** Fetches blocks [i, j) whole, commits each as it completes, and hands `deliver`'s bytes to onChunk as they come. */
async function fetchBlocks(
  entry: CacheEntry,
  i: number,
  j: number,
  deliver: ByteRange,
  onChunk: CachedChunk,
  { http, host, counters }: ReadContext,
): Promise<void> {
  const B = entry.blockBytes;
  const buf = new Uint8Array(Math.min(B, entry.size));
  const fetchRange = { start: i * B, end: Math.min(entry.size, j * B) };
  counters.networkRequests++;
  const release = host?.hold(buf.byteLength);
  try {
    await streamRange(entry.url, fetchRange, { ...http, expectSize: entry.size }, async (chunk, at) => {
      counters.networkBytes += chunk.length;
      const lo = Math.max(at, deliver.start);
      const hi = Math.min(at + chunk.length, deliver.end);
      if (lo < hi) await onChunk(chunk.subarray(lo - at, hi - at), lo, false);
      // Write-through: gather into the block buffer; a full block is stored and committed before the buffer is reused.
      let off = 0;
      while (off < chunk.length) {
        const b = Math.floor((at + off) / B);
        const inBlock = at + off - b * B;
        const len = entry.blockLen(b);
        const n = Math.min(chunk.length - off, len - inBlock);
        buf.set(chunk.subarray(off, off + n), inBlock);
        off += n;
        if (inBlock + n === len) await entry.writeBlock(b, buf.subarray(0, len));
      }
    });
  } finally {
    release?.();
  }
}

/**
 * A per-load reader over the cache for one model: finds each file's validator with a two-byte probe (or takes it
 * from `validators`), opens its entry, and streams ranges through it. `streamRange` has http.streamRange's shape
 * with a `fromCache` flag added to the callback. A file whose size the server does not tell is read uncached.
 * With `noNetwork` (an offline load: the validators come from the cache, offline-source.ts) it sends no request at all:
 * a file without a validator, or bytes not committed, are that error.
 */
export class CachedReader {
  readonly counters = newCounters();
  private readonly entries = new Map<string, Promise<CacheEntry | null>>();

  constructor(
    readonly cache: ByteCache,
    readonly model: string,
    private readonly validators: ReadonlyMap<string, Validator> = new Map(),
    readonly noNetwork: NoNetwork | null = null,
  ) {}

  /** The cache entry of `url` (null: not cacheable). */
  entryFor(url: string, http: HttpOptions = {}): Promise<CacheEntry | null> {
    let e = this.entries.get(url);
    if (!e) {
      e = (async () => {
        const known = this.validators.get(url);
        if (!known && this.noNetwork) throw this.noNetwork(url, 'is not in the cache');
        const v = known ?? (await probeValidator(url, http));
        if (!v) return null;
        if (!known && !v.sha256) v.sha256 = await this.publishedSha256(url, v, http);
        return this.cache.entry({ url, validator: v, model: this.model });
      })();
      e.catch(() => this.entries.delete(url));
      this.entries.set(url, e);
    }
    return e;
  }

  /**
   * The hub's published SHA-256 of a file the probe gave none for (its X-Linked-Etag is out of a page's sight), asked
   * only when this version is not cached yet: an entry keeps the validator it was opened with.
   */
  private async publishedSha256(url: string, v: Validator, http: HttpOptions): Promise<string | null> {
    const kept = await this.cache.peek(url);
    if (kept && validatorKey(kept.validator) === validatorKey(v)) return kept.validator.sha256;
    return hubPublishedSha256(url, v.size, { signal: http.signal, hubToken: http.hubToken, origins: this.cache.hubOrigins });
  }

  readonly streamRange = async (
    url: string,
    range: ByteRange,
    opts: HttpOptions & { expectSize?: number | null },
    onChunk: CachedChunk,
    host?: HostLedger,
  ): Promise<void> => {
    const entry = await this.entryFor(url, opts);
    if (!entry) {
      this.counters.networkRequests++;
      return streamRange(url, range, opts, (c, at) => {
        this.counters.networkBytes += c.length;
        return onChunk(c, at, false);
      }, host);
    }
    if (opts.expectSize != null && opts.expectSize !== entry.size) {
      await this.forget(url);
      throw versionChanged(url, 'size', `${opts.expectSize} bytes when its header was read`, `${entry.size} bytes`);
    }
    return this.dropOnChange(url, () => readThrough(entry, range, onChunk, { http: opts, host, counters: this.counters, noNetwork: this.noNetwork }));
  };

  /**
   * Runs a read of `url`; when the file turns out to have changed on the server (file-version.ts), its entry is
   * dropped before the error goes on: nothing fetched for either version is kept, and the next load starts it afresh.
   */
  private async dropOnChange<T>(url: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      if (isFileChanged(e)) await this.forget(url);
      throw e;
    }
  }

  /** Drops the entry of `url` (and this reader's handle on it). */
  private async forget(url: string): Promise<void> {
    this.entries.delete(url);
    await this.cache.dropEntry(url).catch(() => {});
  }

  /**
   * The first `n` bytes of `url` (the safetensors header read): from the cache when it holds them all, so that a warm
   * load sends no weight bytes over the network; otherwise http.readPrefix (nothing is kept from it).
   */
  readonly readPrefix = async (url: string, n: number, http: HttpOptions): Promise<PrefixRead> => {
    const entry = await this.entryFor(url, http);
    const end = entry ? Math.min(n, entry.size) : 0;
    const gap = entry ? Array.from({ length: Math.ceil(end / entry.blockBytes) }, (_, i) => i).find((i) => !entry.has(i)) : undefined;
    if (!entry || end === 0 || gap !== undefined) {
      if (entry && this.noNetwork) throw notWhole(this.noNetwork, entry, gap ?? 0);
      return readPrefix(url, n, http);
    }
    const bytes = new Uint8Array(end);
    await this.dropOnChange(url, () => readThrough(entry, { start: 0, end }, (c, at) => void bytes.set(c, at), { http, counters: this.counters, noNetwork: this.noNetwork }));
    return { bytes, size: entry.size, rangeSupported: true };
  };

  /**
   * Fetches the blocks of `url` not yet cached (the header and any gap the tensors left), so the file is complete
   * and, where the server gave a SHA-256, checked whole. Returns whether it is complete.
   */
  async fill(url: string, http: HttpOptions = {}): Promise<boolean> {
    const entry = await this.entryFor(url, http);
    if (!entry) return false;
    for (let i = 0; i < entry.blockCount; i++) {
      if (entry.has(i)) continue;
      if (this.noNetwork) throw notWhole(this.noNetwork, entry, i);
      let j = i + 1;
      while (j < entry.blockCount && !entry.has(j)) j++;
      await this.dropOnChange(url, () => fetchBlocks(entry, i, j, { start: 0, end: 0 }, () => {}, { http, counters: this.counters }));
      i = j;
    }
    return entry.complete;
  }
}
