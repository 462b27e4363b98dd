// The cache's storage in the browser: the Origin Private File System (navigator.storage.getDirectory()). Files are
// written whole: in a dedicated worker through a sync access handle (no swap-file copy, the fastest path), elsewhere
// through createWritable(), whose close() commits. Reads take a File snapshot (getFile()), which needs no lock, so
// another tab may read a block while this one writes others.
import type { CacheDir, StorageBackend, StorageEstimateLike } from './backend.ts';

/** entries() is in lib.dom.asynciterable, which this project's lib setting leaves out. */
interface IterableDir {
  entries(): AsyncIterable<[string, FileSystemHandle]>;
}

function isNotFound(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'NotFoundError' || name === 'TypeMismatchError';
}

/** Sync access handles exist only in dedicated workers (and only for OPFS files). */
function canSyncWrite(fh: FileSystemFileHandle): boolean {
  const g = globalThis as { DedicatedWorkerGlobalScope?: unknown; importScripts?: unknown };
  return typeof g.DedicatedWorkerGlobalScope !== 'undefined' && 'createSyncAccessHandle' in fh;
}

class OpfsDir implements CacheDir {
  constructor(private readonly handle: FileSystemDirectoryHandle) {}

  async dir(name: string, create: boolean): Promise<CacheDir | null> {
    try {
      return new OpfsDir(await this.handle.getDirectoryHandle(name, { create }));
    } catch (e) {
      if (!create && isNotFound(e)) return null;
      throw e;
    }
  }

  private async file(name: string): Promise<File | null> {
    try {
      return await (await this.handle.getFileHandle(name)).getFile();
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async read(name: string): Promise<Uint8Array | null> {
    const f = await this.file(name);
    return f ? new Uint8Array(await f.arrayBuffer()) : null;
  }

  async size(name: string): Promise<number | null> {
    return (await this.file(name))?.size ?? null;
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const fh = await this.handle.getFileHandle(name, { create: true });
    if (canSyncWrite(fh)) {
      const h = await fh.createSyncAccessHandle();
      try {
        h.truncate(0);
        let o = 0;
        while (o < data.length) o += h.write(data.subarray(o), { at: o });
        h.flush();
      } finally {
        h.close();
      }
      return;
    }
    const w = await fh.createWritable();
    try {
      await w.write(data as Uint8Array<ArrayBuffer>);
      await w.close();
    } catch (e) {
      await w.abort().catch(() => {});
      throw e;
    }
  }

  async list(): Promise<{ name: string; kind: 'file' | 'directory' }[]> {
    const out: { name: string; kind: 'file' | 'directory' }[] = [];
    for await (const [name, h] of (this.handle as unknown as IterableDir).entries()) out.push({ name, kind: h.kind });
    return out;
  }

  async remove(name: string): Promise<void> {
    try {
      await this.handle.removeEntry(name, { recursive: true });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

export class OpfsBackend implements StorageBackend {
  readonly where = 'the browser’s origin private file system (OPFS)';

  constructor(private readonly rootName = 'webgpu-llm-cache') {}

  /** The backend where OPFS exists, else null (the engine then loads without a cache). */
  static available(): OpfsBackend | null {
    const storage = (globalThis as { navigator?: Navigator }).navigator?.storage;
    return typeof storage?.getDirectory === 'function' ? new OpfsBackend() : null;
  }

  async root(): Promise<CacheDir> {
    const top = await navigator.storage.getDirectory();
    return new OpfsDir(await top.getDirectoryHandle(this.rootName, { create: true }));
  }

  async estimate(): Promise<StorageEstimateLike | null> {
    const e = await navigator.storage.estimate?.().catch(() => null);
    return e && typeof e.quota === 'number' ? { usage: e.usage ?? 0, quota: e.quota } : null;
  }

  async persist(): Promise<boolean> {
    const s = navigator.storage;
    if (await s.persisted?.().catch(() => false)) return true;
    return (await s.persist?.().catch(() => false)) ?? false;
  }
}
