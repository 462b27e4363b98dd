import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { EngineError } from '../errors.ts';
import { NodeFsBackend } from './fs.node.ts';
import { modelLockName, withLock } from './locks.ts';
import { readManifest, writeManifest } from './manifest.ts';
import { CachedReader } from './reader.ts';
import { ByteCache } from './store.ts';
import type { Validator } from './validator.ts';
import type { CacheDir, StorageBackend } from './backend.ts';
import { FileVersions } from '../net/file-version.ts';

const SIZE = 300_000;
const B = 64 * 1024;
const data = new Uint8Array(SIZE).map((_, i) => (i * 131 + (i >> 9)) & 0xff);
const fast = { retries: 2, backoffMs: 1 };
let server: ServeDirHandle;
let url: string;
let model: string;
let serverDir: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-serve-'));
  serverDir = dir;
  writeFileSync(join(dir, 'model.safetensors'), data);
  server = await serveDir(dir);
  model = server.url;
  url = server.url + 'model.safetensors';
});
afterAll(() => server.close());
beforeEach(() => {
  server.misbehave = {};
  server.log.length = 0;
});

const newDir = () => mkdtempSync(join(tmpdir(), 'cache-store-'));
const corrupt: { block: number; reason: string }[] = [];
const openCache = (backend: StorageBackend) =>
  ByteCache.open(backend, { blockBytes: B, onCorrupt: (c) => corrupt.push({ block: c.block, reason: c.reason }) });

/** Reads [start, end) through a fresh reader (a new page load) and checks the bytes. */
async function read(cache: ByteCache, start = 0, end = SIZE, http = fast, validators?: Map<string, Validator>) {
  const reader = new CachedReader(cache, model, validators);
  const out = new Uint8Array(end - start);
  let next = start;
  await reader.streamRange(url, { start, end }, { ...http, expectSize: SIZE }, (c, at) => {
    expect(at).toBe(next);
    out.set(c, at - start);
    next = at + c.length;
  });
  expect(next).toBe(end);
  expect(Buffer.compare(out, data.subarray(start, end))).toBe(0); // (toEqual on 300 kB is slow)
  return reader;
}

/** The data requests (not the one-byte validator probes) the server saw. */
const dataRanges = () => server.log.map((l) => l.range).filter((r) => r !== 'bytes=0-1');

async function entryDir(root: string): Promise<string> {
  const v1 = join(root, 'v1');
  return join(v1, (await readdir(v1))[0]);
}

describe('CachedReader', () => {
  it('reads cold from the network, then warm from the cache with no data requests', async () => {
    const cache = await openCache(new NodeFsBackend(newDir()));
    const cold = await read(cache, 1000, 250_000);
    expect(cold.counters.networkBytes).toBe(4 * B); // widened to whole blocks [0, 4B)
    expect(dataRanges()).toEqual([`bytes=0-${4 * B - 1}`]);
    server.log.length = 0;
    const warm = await read(cache, 1000, 250_000);
    expect(warm.counters).toMatchObject({ networkBytes: 0, networkRequests: 0, cacheBytes: 249_000 });
    expect(dataRanges()).toEqual([]);
    // The rest of the file: only the blocks not yet cached are fetched.
    server.log.length = 0;
    const rest = await read(cache, 0, SIZE);
    expect(dataRanges()).toEqual([`bytes=${4 * B}-${SIZE - 1}`]);
    expect(rest.counters.networkBytes).toBe(SIZE - 4 * B);
    expect((await cache.list())[0]).toMatchObject({ model, bytes: SIZE, complete: true });
  });

  it('resumes a load cut by a dropped connection at the last committed block', async () => {
    const root = newDir();
    server.misbehave = { dropAfterBytes: 150_000, dropTimes: 2 }; // the first response is the validator probe
    const e = await read(await openCache(new NodeFsBackend(root)), 0, SIZE, { retries: 0, backoffMs: 1 }).catch((x) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect(e.code).toBe('network');
    // What was committed before the cut (the bytes in flight when the connection was reset may be lost): whole
    // blocks from the start, at least one; the partial block after them is not listed.
    const blocks = Object.keys((await (await openCache(new NodeFsBackend(root))).peek(url))!.blocks).map(Number);
    const committed = blocks.length * B;
    expect(blocks).toEqual([...blocks.keys()]);
    expect(committed).toBeGreaterThanOrEqual(B);
    expect(committed).toBeLessThanOrEqual(150_000);
    // A new page load (fresh cache object over the same storage) asks only for what was not committed.
    server.misbehave = {};
    server.log.length = 0;
    const again = await read(await openCache(new NodeFsBackend(root)));
    expect(dataRanges()).toEqual([`bytes=${committed}-${SIZE - 1}`]);
    expect(again.counters.networkBytes).toBe(SIZE - committed);
    expect(again.counters.cacheBytes).toBe(committed);
  });

  it('resumes inside one load when http retries the dropped connection, and caches every block once', async () => {
    const cache = await openCache(new NodeFsBackend(newDir()));
    server.misbehave = { dropAfterBytes: 100_000, dropTimes: 2 };
    await read(cache);
    server.log.length = 0;
    server.misbehave = {};
    expect((await read(cache)).counters.networkBytes).toBe(0);
  });

  it('detects a corrupted block (hash), a truncated block (size) and a torn manifest, and re-fetches', async () => {
    const root = newDir();
    await read(await openCache(new NodeFsBackend(root)));
    const dir = await entryDir(root);
    const b1 = join(dir, 'b000001');
    const bytes = readFileSync(b1);
    bytes[100] ^= 0xff;
    writeFileSync(b1, bytes);
    writeFileSync(join(dir, 'b000003'), readFileSync(join(dir, 'b000003')).subarray(0, 10));
    corrupt.length = 0;
    server.log.length = 0;
    const r = await read(await openCache(new NodeFsBackend(root)));
    expect(corrupt).toEqual(expect.arrayContaining([{ block: 1, reason: 'sha256' }, { block: 3, reason: 'size' }]));
    expect(dataRanges()).toEqual([`bytes=${B}-${2 * B - 1}`, `bytes=${3 * B}-${4 * B - 1}`]);
    expect(r.counters.networkBytes).toBe(2 * B);
    // The newest manifest slot torn mid-write: the other slot (one commit older) is used.
    const slots = ['manifest.0', 'manifest.1'].map((s) => join(dir, s));
    const newest = slots.map((s) => readFileSync(s, 'utf8')).map((t) => JSON.parse(t.slice(0, t.lastIndexOf('\n'))).seq);
    const torn = slots[newest[0] > newest[1] ? 0 : 1];
    writeFileSync(torn, readFileSync(torn, 'utf8').slice(0, 50));
    server.log.length = 0;
    await read(await openCache(new NodeFsBackend(root)));
    expect(dataRanges().length).toBeLessThanOrEqual(1); // at most the last block committed before the tear
  });

  it('a model whose load failed before any block was kept is not listed', async () => {
    const cache = await openCache(new NodeFsBackend(newDir()));
    await new CachedReader(cache, model).entryFor(url, fast); // the entry is opened (probe), then the load fails
    expect(await cache.peek(url)).not.toBeNull();
    expect(await cache.list()).toEqual([]);
    await read(cache, 0, 1000);
    expect((await cache.list()).map((m) => m.model)).toEqual([model]);
  });

  it('starts afresh when the file changed on the server (another validator)', async () => {
    const cache = await openCache(new NodeFsBackend(newDir()));
    const v1 = new Map([[url, { size: SIZE, etag: '"one"', lastModified: null, sha256: null }]]);
    await read(cache, 0, SIZE, fast, v1);
    server.log.length = 0;
    const v2 = new Map([[url, { size: SIZE, etag: '"two"', lastModified: null, sha256: null }]]);
    expect((await read(cache, 0, SIZE, fast, v2)).counters.networkBytes).toBe(SIZE);
  });

  it('checks the whole file against a published SHA-256, and drops it on a mismatch', async () => {
    const sha = createHash('sha256').update(data).digest('hex');
    const good = new Map([[url, { size: SIZE, etag: `"${sha}"`, lastModified: null, sha256: sha }]]);
    const cache = await openCache(new NodeFsBackend(newDir()));
    const r = await read(cache, 70_000, SIZE, fast, good); // skips block 0, like the header of a checkpoint
    expect((await cache.peek(url))!.verified).toBe(false);
    expect(await r.fill(url, fast)).toBe(true);
    expect((await cache.peek(url))!.verified).toBe(true);

    const wrong = '0'.repeat(64);
    const bad = new Map([[url, { size: SIZE, etag: `"${wrong}"`, lastModified: null, sha256: wrong }]]);
    const e = await read(cache, 0, SIZE, fast, bad).catch((x) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect([e.code, e.message]).toEqual(['bad-file', expect.stringMatching(/SHA-256/)]);
    expect((await cache.peek(url))!.blocks).toEqual({});
  });

  it('a whole-file hash state saved by the old JavaScript hasher is not misread: the file is hashed again from block 0', async () => {
    const sha = createHash('sha256').update(data).digest('hex');
    const good = new Map([[url, { size: SIZE, etag: `"${sha}"`, lastModified: null, sha256: sha }]]);
    const root = newDir();
    await read(await openCache(new NodeFsBackend(root)), 0, 3 * B, fast, good);
    const dir = (await (await (await new NodeFsBackend(root).root()).dir('v1', false))!.dir(basename(await entryDir(root)), false))!;
    const m = (await readManifest(dir))!;
    expect(m.hashedBlocks).toBe(3);
    expect(m.hashState).toMatch(/^hw1:196608:/);
    m.hashState = `${'ab'.repeat(32)}:${3 * B}`; // the format the plain-JavaScript SHA-256 kept
    await writeManifest(dir, m);
    const cache = await openCache(new NodeFsBackend(root));
    await read(cache, 0, SIZE, fast, good);
    expect((await cache.peek(url))!).toMatchObject({ verified: true, hashState: null, hashedBlocks: Math.ceil(SIZE / B) });
  });

  it('gives a storage error with what to do when the quota is too small (estimate, and a failed write)', async () => {
    const e = await read(await openCache(new NodeFsBackend(newDir(), 1_000_000))).catch((x) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect(e.code).toBe('storage');
    expect(e.message).toMatch(/Delete cached models/);
    expect(e.details).toMatchObject({ needBytes: SIZE });
    // No estimate (a platform that cannot tell), and the write itself fails.
    const blind = new NodeFsBackend(newDir(), 3 * B);
    blind.estimate = async () => null;
    const w = await read(await openCache(blind)).catch((x) => x);
    expect([w.code, w.message]).toEqual(['storage', expect.stringMatching(/quota ran out/)]);
  });

  it('two loads of the same model under the model lock fetch the file once', async () => {
    const root = newDir();
    const load = async () =>
      withLock(modelLockName(model), async () => (await read(await openCache(new NodeFsBackend(root)))).counters);
    const [a, b] = await Promise.all([load(), load()]);
    expect(a.networkBytes + b.networkBytes).toBe(SIZE);
    expect(dataRanges()).toEqual([`bytes=0-${SIZE - 1}`]);
  });

  it('lists and deletes cached models', async () => {
    const root = newDir();
    const cache = await openCache(new NodeFsBackend(root));
    await read(cache, 0, 1000);
    expect(await cache.list()).toEqual([expect.objectContaining({ model, bytes: B, complete: false })]);
    expect(await cache.deleteModel('http://elsewhere/')).toBe(0);
    expect(await cache.deleteModel(model)).toBe(B);
    expect(await cache.list()).toEqual([]);
  });
});

/** A backend over `base` whose writes fail with what `fail` returns for a file name (null: the write goes through). */
function failingWrites(base: NodeFsBackend, fail: (name: string) => Error | null): StorageBackend {
  const wrap = (d: CacheDir): CacheDir => ({
    dir: async (n, c) => {
      const x = await d.dir(n, c);
      return x && wrap(x);
    },
    read: (n) => d.read(n),
    size: (n) => d.size(n),
    list: () => d.list(),
    remove: (n) => d.remove(n),
    write: async (n, data) => {
      const e = fail(n);
      if (e) throw e;
      return d.write(n, data);
    },
  });
  return { where: base.where, root: async () => wrap(await base.root()), estimate: () => base.estimate(), persist: () => base.persist() };
}

describe('storage failures are storage errors', () => {
  it('a full disk (ENOSPC) while writing a block is a storage error saying so, not bad-file', async () => {
    let writes = 0;
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const cache = await openCache(failingWrites(new NodeFsBackend(newDir()), (n) => (n.startsWith('b') && ++writes > 2 ? enospc : null)) as never);
    const e = await read(cache).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'storage', details: { reason: 'full', file: 'model.safetensors' } });
    expect((e as Error).message).toMatch(/quota ran out \(or the disk is full\) while writing\. Delete cached models/);
  });

  it('a cache directory removed mid-read is a storage error that the next read heals', async () => {
    const root = newDir();
    const cache = await openCache(new NodeFsBackend(root));
    // (dropTimes 2: the validator probe is the first response)
    server.misbehave = { dropAfterBytes: 2 * B + 100, dropTimes: 2, onDrop: () => rmSync(root, { recursive: true, force: true }) };
    const e = await read(cache).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'storage', details: { reason: 'removed' } });
    expect((e as Error).message).toMatch(/were removed while the load was keeping model\.safetensors.*load again/);
    server.misbehave = {};
    const again = await read(cache); // the same ByteCache object, as a running engine keeps it
    expect(again.counters.networkBytes).toBe(SIZE);
    expect((await cache.list())[0]).toMatchObject({ complete: true, bytes: SIZE });
  });

  it('a file replaced on the server mid-read: file-changed, the entry dropped, the next read takes the new version whole', async () => {
    const file = join(serverDir, 'model.safetensors');
    const next = data.map((b) => b ^ 0x5a);
    try {
      const cache = await openCache(new NodeFsBackend(newDir()));
      server.misbehave = { dropAfterBytes: 2 * B + 100, dropTimes: 2, onDrop: () => writeFileSync(file, next) };
      const versions = new FileVersions();
      const e = await read(cache, 0, SIZE, { ...fast, versions } as typeof fast).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'file-changed', details: { file: url } });
      expect(await cache.peek(url)).toBeNull();
      server.misbehave = {};
      const reader = new CachedReader(cache, model);
      const out = new Uint8Array(SIZE);
      await reader.streamRange(url, { start: 0, end: SIZE }, { ...fast, expectSize: SIZE, versions: new FileVersions() }, (c, at) => void out.set(c, at));
      expect(Buffer.compare(out, next)).toBe(0);
    } finally {
      writeFileSync(file, data);
    }
  });
});
