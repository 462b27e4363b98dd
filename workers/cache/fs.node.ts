// The cache's storage over node:fs, for tests and the Node benchmark. Never imported by code that runs in the
// browser. An optional quota makes writes fail the way OPFS does when the origin's storage is full.
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CacheDir, StorageBackend, StorageEstimateLike } from './backend.ts';

function quotaExceeded(): Error {
  const e = new Error('the quota has been exceeded');
  e.name = 'QuotaExceededError';
  return e;
}

async function du(path: string): Promise<number> {
  const st = await stat(path).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of await readdir(path)) n += await du(join(path, e));
  return n;
}

class NodeDir implements CacheDir {
  constructor(
    private readonly path: string,
    private readonly backend: NodeFsBackend,
  ) {}

  async dir(name: string, create: boolean): Promise<CacheDir | null> {
    const p = join(this.path, name);
    if (create) await mkdir(p, { recursive: true });
    else if (!(await stat(p).catch(() => null))?.isDirectory()) return null;
    return new NodeDir(p, this.backend);
  }

  async read(name: string): Promise<Uint8Array | null> {
    return readFile(join(this.path, name)).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.length), () => null);
  }

  async size(name: string): Promise<number | null> {
    const st = await stat(join(this.path, name)).catch(() => null);
    return st?.isFile() ? st.size : null;
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const p = join(this.path, name);
    if (this.backend.quotaBytes !== undefined) {
      const usage = (await du(this.backend.path)) - ((await this.size(name)) ?? 0);
      if (usage + data.length > this.backend.quotaBytes) throw quotaExceeded();
    }
    const fh = await open(p, 'w');
    try {
      await fh.write(data, 0, data.length, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async list(): Promise<{ name: string; kind: 'file' | 'directory' }[]> {
    const entries = await readdir(this.path, { withFileTypes: true }).catch(() => []);
    return entries.map((e) => ({ name: e.name, kind: e.isDirectory() ? ('directory' as const) : ('file' as const) }));
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.path, name), { recursive: true, force: true });
  }
}

export class NodeFsBackend implements StorageBackend {
  readonly where: string;

  /** `quotaBytes`: pretend the origin may store this much in `path` (tests of a full storage). */
  constructor(
    readonly path: string,
    public quotaBytes?: number,
  ) {
    this.where = path;
  }

  async root(): Promise<CacheDir> {
    await mkdir(this.path, { recursive: true });
    return new NodeDir(this.path, this);
  }

  async estimate(): Promise<StorageEstimateLike | null> {
    if (this.quotaBytes === undefined) return null;
    return { usage: await du(this.path), quota: this.quotaBytes };
  }

  async persist(): Promise<boolean> {
    return true;
  }
}
