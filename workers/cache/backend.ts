// The storage the cache runs on, reduced to what it needs: directories of whole files. Every file the cache writes is
// written whole (a data block, a manifest slot), so no backend needs random-access writes or atomic renames; the
// manifest's two checksummed slots (manifest.ts) make a commit atomic on any of them.
//   opfs.ts:    the browser (Origin Private File System), also inside a dedicated worker (sync access handles).
//   fs.node.ts: node:fs for tests and the Node benchmark (never imported by workers/ code).

export interface CacheDir {
  /** The subdirectory `name`, created when `create`; null when absent. */
  dir(name: string, create: boolean): Promise<CacheDir | null>;
  /** The whole file, or null when it does not exist. */
  read(name: string): Promise<Uint8Array | null>;
  /** The file's size in bytes, or null when it does not exist. */
  size(name: string): Promise<number | null>;
  /**
   * Replaces the file with `data` and resolves only once the bytes are flushed to storage. Throws a DOMException
   * named 'QuotaExceededError' when the storage is full.
   */
  write(name: string, data: Uint8Array): Promise<void>;
  list(): Promise<{ name: string; kind: 'file' | 'directory' }[]>;
  /** Removes a file or a directory with everything in it; nothing happens when it does not exist. */
  remove(name: string): Promise<void>;
}

export interface StorageEstimateLike {
  usage: number;
  quota: number;
}

export interface StorageBackend {
  /** Where this backend keeps its files, for messages ('OPFS', a path). */
  readonly where: string;
  root(): Promise<CacheDir>;
  /** Usage and quota of the origin (navigator.storage.estimate()); null when the platform cannot tell. */
  estimate(): Promise<StorageEstimateLike | null>;
  /** Asks that the data survive storage pressure (navigator.storage.persist()); resolves to whether it will. */
  persist(): Promise<boolean>;
}

function nameAndCode(e: unknown): { name?: string; code?: unknown } {
  return typeof e === 'object' && e !== null ? (e as { name?: string; code?: unknown }) : {};
}

/** True for the error a backend throws when the storage is full: the browser's quota, or a full disk (Node). */
export function isQuotaExceeded(e: unknown): boolean {
  const { name, code } = nameAndCode(e);
  return name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT';
}

/** True for the error a backend throws when a file or directory it was using is gone (removed meanwhile). */
export function isNotFound(e: unknown): boolean {
  const { name, code } = nameAndCode(e);
  return name === 'NotFoundError' || code === 'ENOENT';
}
