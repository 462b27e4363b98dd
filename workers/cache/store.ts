// A byte cache of model files, keyed by URL and validator (validator.ts), over a StorageBackend (OPFS in the browser,
// node:fs in tests). Layout: <root>/v1/<hash of kind + URL>/{manifest.0, manifest.1, b000000, b000001, …}. One
// entry per URL and kind: opening it with another validator (the file changed on the server) or another block size
// starts it afresh. Also: storage estimate and persistence, the storage error, listing and deleting by model.
import { EngineError } from '../errors.ts';
import { isNotFound, isQuotaExceeded, type CacheDir, type StorageBackend } from './backend.ts';
import { CacheEntry, committedBytes, isComplete, type EntryHost } from './entry.ts';
import { emptyManifest, readManifest, writeManifest, type EntryKind, type Manifest } from './manifest.ts';
import { HUB_ORIGINS } from './hub-sha256.ts';
import { sha256Hex } from './sha256.ts';
import { validatorKey, type Validator } from './validator.ts';
import { modelLockName, withLock } from './locks.ts';

export const DEFAULT_BLOCK_BYTES = 8 * 1024 * 1024;
/** Room left free when checking the estimate (other data of the origin, manifests). */
const SPACE_MARGIN = 16 * 1024 * 1024;
const LAYOUT = 'v1';

export interface ByteCacheOptions {
  /** Block size (a multiple of 64; default 8 MiB). Also the resume granularity: at most one block is re-fetched. */
  blockBytes?: number;
  /** Check each block's SHA-256 when it is read (default true). */
  verifyReads?: boolean;
  onCorrupt?: EntryHost['onCorrupt'];
  /**
   * Origins whose `/resolve/` URLs are hub files: their published SHA-256 is asked of the hub's API when a new file
   * version is cached (hub-sha256.ts; default huggingface.co). Tests point it at a local server.
   */
  hubOrigins?: readonly string[];
}

export interface CachedFileInfo {
  url: string;
  kind: EntryKind;
  size: number;
  bytes: number;
  complete: boolean;
  verified: boolean;
}

export interface CachedModel {
  /** The model's base URL (what the entries were opened with). */
  model: string;
  /** Bytes stored (committed blocks). */
  bytes: number;
  /** True when every file entry is complete. */
  complete: boolean;
  updatedAt: number;
  files: CachedFileInfo[];
}

function fileNameOf(url: string): string {
  const path = url.split(/[?#]/)[0];
  return path.slice(path.lastIndexOf('/') + 1) || url;
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;
}

export class ByteCache implements EntryHost {
  readonly blockBytes: number;
  readonly verifyReads: boolean;
  readonly onCorrupt?: EntryHost['onCorrupt'];
  readonly hubOrigins: readonly string[];
  private persistAsked = false;
  /** Whether the platform promised to keep the data (after the first write); null until asked. */
  persisted: boolean | null = null;

  private constructor(
    readonly backend: StorageBackend,
    opts: ByteCacheOptions,
  ) {
    this.blockBytes = opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
    if (!(this.blockBytes > 0 && this.blockBytes % 64 === 0)) throw new Error(`cache: block size ${this.blockBytes} is not a positive multiple of 64`);
    this.verifyReads = opts.verifyReads ?? true;
    this.onCorrupt = opts.onCorrupt;
    this.hubOrigins = opts.hubOrigins ?? HUB_ORIGINS;
  }

  /** Opens the cache (its directory made, so that a backend that cannot store fails here, not in a load). */
  static async open(backend: StorageBackend, opts: ByteCacheOptions = {}): Promise<ByteCache> {
    const cache = new ByteCache(backend, opts);
    await cache.layout();
    return cache;
  }

  private static async key(kind: EntryKind, url: string): Promise<string> {
    return (await sha256Hex(new TextEncoder().encode(`${kind}\n${url}`))).slice(0, 32);
  }

  /**
   * The entry of `url` at this validator, created empty when absent; an entry of another validator or block size
   * is discarded. Listed blocks whose data is missing or truncated are dropped here.
   */
  async entry(req: { url: string; validator: Validator; model: string; kind?: EntryKind; meta?: Record<string, unknown> }): Promise<CacheEntry> {
    try {
      return await this.openEntry(req);
    } catch (e) {
      throw this.storageError(fileNameOf(req.url), e);
    }
  }

  private async openEntry(req: { url: string; validator: Validator; model: string; kind?: EntryKind; meta?: Record<string, unknown> }): Promise<CacheEntry> {
    const kind = req.kind ?? 'file';
    const name = await ByteCache.key(kind, req.url);
    const top = await this.layout();
    let dir = await top.dir(name, true);
    let m = await readManifest(dir!);
    const same =
      m &&
      m.kind === kind &&
      m.url === req.url &&
      m.blockBytes === this.blockBytes &&
      validatorKey(m.validator) === validatorKey(req.validator) &&
      JSON.stringify(m.meta ?? null) === JSON.stringify(req.meta ?? null);
    if (!same) {
      if (m) {
        await top.remove(name);
        dir = await top.dir(name, true);
      }
      m = emptyManifest(kind, req.url, req.model, req.validator, this.blockBytes, req.meta);
      await writeManifest(dir!, m);
    }
    const entry = new CacheEntry(dir!, m!, this);
    await entry.checkSizes();
    return entry;
  }

  /** Removes the entry of `url` (a file that changed on the server during a load: its blocks are not to be used). */
  async dropEntry(url: string, kind: EntryKind = 'file'): Promise<void> {
    await (await this.layout()).remove(await ByteCache.key(kind, url));
  }

  /** The manifest of an existing entry, or null (no validator needed: for listing and offline lookups). */
  async peek(url: string, kind: EntryKind = 'file'): Promise<Manifest | null> {
    const dir = await (await this.layout()).dir(await ByteCache.key(kind, url), false);
    return dir ? readManifest(dir) : null;
  }

  async ensureSpace(bytes: number, what: string): Promise<void> {
    if (!this.persistAsked) {
      this.persistAsked = true;
      this.persisted = await this.backend.persist().catch(() => false);
    }
    const est = await this.backend.estimate();
    if (!est) return;
    const free = est.quota - est.usage;
    if (free < bytes + SPACE_MARGIN) {
      throw this.storageError(what, undefined, { needBytes: bytes, freeBytes: Math.max(0, free), quotaBytes: est.quota });
    }
  }

  /**
   * The 'storage' error for a failure of the cache's storage while keeping `what`: full (the quota, or the disk:
   * details.reason 'full'), its files removed meanwhile ('removed': the next load rebuilds them), or another failure.
   * An EngineError is passed on as it is.
   */
  storageError(what: string, cause?: unknown, space?: { needBytes: number; freeBytes: number; quotaBytes: number }): EngineError {
    if (cause instanceof EngineError) return cause;
    const causeDetail = cause instanceof Error ? { cause: cause.message } : {};
    if (!space && !isQuotaExceeded(cause)) {
      const removed = isNotFound(cause);
      return new EngineError(
        'storage',
        removed
          ? `the cache's files in ${this.backend.where} were removed while the load was keeping ${what} (site data cleared, or ` +
              'the model deleted in another tab); load again: the cache is rebuilt'
          : `cannot keep ${what} in ${this.backend.where}: the storage failed (${cause instanceof Error ? cause.message : String(cause)}); ` +
              'load again, or load without the cache',
        { file: what, reason: removed ? 'removed' : 'failed', ...causeDetail },
      );
    }
    const room = space
      ? `it needs ${mb(space.needBytes)} more, and ${mb(space.freeBytes)} of the ${mb(space.quotaBytes)} this site may use are free`
      : 'the storage quota ran out (or the disk is full) while writing';
    return new EngineError(
      'storage',
      `cannot keep ${what} in ${this.backend.where}: ${room}. Delete cached models you no longer need (Storage panel), ` +
        'free disk space, or load without the cache.',
      { file: what, reason: 'full', ...space, ...causeDetail },
    );
  }

  /**
   * The cache's own directory, looked up afresh each time (not kept): when the origin's data is cleared while the
   * engine runs, a kept handle would point at a removed directory for good (OPFS), and no later load could heal.
   */
  private async layout(): Promise<CacheDir> {
    const root = await this.backend.root();
    return (await root.dir(LAYOUT, true))!;
  }

  /** Every cached model with its files and stored bytes, most recently used first; models with no byte stored are left out. */
  async list(): Promise<CachedModel[]> {
    const byModel = new Map<string, CachedModel>();
    const top = await this.layout();
    for (const e of await top.list()) {
      if (e.kind !== 'directory') continue;
      const d = await top.dir(e.name, false);
      const m = d && (await readManifest(d));
      if (!m) continue;
      const cm = byModel.get(m.model) ?? { model: m.model, bytes: 0, complete: true, updatedAt: 0, files: [] };
      byModel.set(m.model, cm);
      const info: CachedFileInfo = {
        url: m.url,
        kind: m.kind,
        size: m.validator.size,
        bytes: committedBytes(m),
        complete: isComplete(m),
        verified: m.verified,
      };
      cm.files.push(info);
      cm.bytes += info.bytes;
      if (m.kind === 'file' && !info.complete) cm.complete = false;
      cm.updatedAt = Math.max(cm.updatedAt, m.updatedAt);
    }
    // A model with nothing stored (a load that failed before its first block was kept) is not a cached model.
    return [...byModel.values()].filter((m) => m.bytes > 0).sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /** Deletes every entry of `model` (files and int8 weights); returns the bytes freed. Waits for a load of it. */
  async deleteModel(model: string, signal?: AbortSignal): Promise<number> {
    return withLock(modelLockName(model), async () => {
      let freed = 0;
      const top = await this.layout();
      for (const e of await top.list()) {
        if (e.kind !== 'directory') continue;
        const d = await top.dir(e.name, false);
        const m = d && (await readManifest(d));
        if (!m || m.model !== model) continue;
        freed += committedBytes(m);
        await top.remove(e.name);
      }
      return freed;
    }, signal);
  }

  /** Deletes everything the cache holds. */
  async clear(): Promise<void> {
    const top = await this.layout();
    for (const e of await top.list()) await top.remove(e.name);
  }
}
