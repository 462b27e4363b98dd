// Every request of one load is pinned to one version of each file: a file that changes on the server between two
// requests (between a header read and the body) or in the middle of a body (the connection drops, the retry finds a
// new version) is 'file-changed', before a byte of the new version is handed on. Whatever the server does with
// If-Range: honours it (a 200 with the whole new file), ignores it (a 206 of the new version: the ETag tells), sends
// only a weak ETag (If-Range falls back to Last-Modified, the ETag still tells), or changes the size.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type Misbehaviour, type ServeDirHandle } from '../testing/http-server.ts';
import { EngineError } from '../errors.ts';
import { probeValidator } from '../cache/validator.ts';
import { FileVersions } from './file-version.ts';
import { fetchBytes, readPrefix, streamRange, type RangeReader } from './http.ts';
import { threadRangeReader } from './thread-reader.ts';

const SIZE = 200_000;
const v1 = new Uint8Array(SIZE).map((_, i) => (i * 7) & 0xff);
const v2 = new Uint8Array(SIZE).map((_, i) => (i * 13 + 5) & 0xff);
const fast = { retries: 3, backoffMs: 1 };
let server: ServeDirHandle;
let dir: string;
let url: string;
const thread = threadRangeReader({ chunkBytes: 16 * 1024, buffers: 2 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'file-version-'));
  server = await serveDir(dir);
  url = server.url + 'blob.bin';
});
afterAll(async () => {
  await thread.close();
  await server.close();
});
beforeEach(() => {
  writeFileSync(join(dir, 'blob.bin'), v1);
  server.misbehave = {};
  server.log.length = 0;
});

const swap = (data: Uint8Array = v2) => writeFileSync(join(dir, 'blob.bin'), data);

async function failure(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

/** Reads [start, end) with `read`; returns what was delivered before it ended (or failed) and the failure. */
async function readAll(read: RangeReader, versions: FileVersions, start: number, end: number, opts = {}) {
  const got: number[] = [];
  const e = await read(url, { start, end }, { ...fast, versions, ...opts }, (c) => void got.push(...c)).then(
    () => null,
    (x: unknown) => x,
  );
  return { got: Uint8Array.from(got), error: e as EngineError | null };
}

describe.each([
  ['streamRange', () => streamRange as RangeReader],
  ['thread reader', () => thread.read],
])('%s pins the version of the first response', (_name, reader) => {
  const servers: [string, Misbehaviour][] = [
    ['honours If-Range', {}],
    ['ignores If-Range', { ignoreIfRange: true }],
    ['sends a weak ETag', { weakEtag: true }],
  ];
  it.each(servers)('a file replaced between the header read and the body (server %s) is file-changed', async (_s, m) => {
    server.misbehave = m;
    const versions = new FileVersions();
    const head = await readPrefix(url, 1000, { ...fast, versions });
    expect(head.bytes).toEqual(v1.subarray(0, 1000));
    swap();
    const { got, error } = await readAll(reader(), versions, 1000, SIZE);
    expect(error).toMatchObject({ code: 'file-changed', details: { file: url } });
    expect(error!.message).toMatch(/blob\.bin changed on the server during the load/);
    expect(got.length).toBe(0); // not a byte of the new version
    // what was sent: the pinned version asked for (If-Range) where it could be named strongly
    const ifRange = server.log.at(-1)!;
    expect(ifRange.range).toBe(`bytes=1000-${SIZE - 1}`);
  });

  it.each(servers)('a file replaced while its body streams (server %s): the retry is file-changed, nothing mixed', async (_s, m) => {
    const versions = new FileVersions();
    server.misbehave = { ...m, dropAfterBytes: 64 * 1024, dropTimes: 1, onDrop: () => swap() };
    const { got, error } = await readAll(reader(), versions, 0, SIZE);
    expect(error).toMatchObject({ code: 'file-changed' });
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(v1.subarray(0, got.length)); // only the first version's bytes were delivered
  });

  it('an unchanged file streams whole across drops, every retry asking for the pinned version', async () => {
    const versions = new FileVersions();
    server.misbehave = { dropAfterBytes: 50_000, dropTimes: 3 };
    const { got, error } = await readAll(reader(), versions, 0, SIZE);
    expect(error).toBeNull();
    expect(got).toEqual(v1);
    expect(server.log.length).toBeGreaterThan(1);
  });
});

describe('version pins', () => {
  it('send If-Range with the strong ETag, or Last-Modified when the ETag is weak', async () => {
    const seen: (string | undefined)[] = [];
    const real = globalThis.fetch;
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      seen.push((init?.headers as Record<string, string> | undefined)?.['If-Range']);
      return real(input, init);
    }) as typeof fetch;
    try {
      const strong = new FileVersions();
      await streamRange(url, { start: 0, end: 10 }, { ...fast, versions: strong }, () => {});
      await streamRange(url, { start: 10, end: 20 }, { ...fast, versions: strong }, () => {});
      server.misbehave = { weakEtag: true };
      const weak = new FileVersions();
      await streamRange(url, { start: 0, end: 10 }, { ...fast, versions: weak }, () => {});
      await streamRange(url, { start: 10, end: 20 }, { ...fast, versions: weak }, () => {});
      expect(weak.get(url)!.etag).toMatch(/^W\//);
    } finally {
      globalThis.fetch = real;
    }
    expect(seen[0]).toBeUndefined();
    expect(seen[1]).toMatch(/^"[0-9a-f-]+"$/);
    expect(seen[2]).toBeUndefined();
    expect(seen[3]).toMatch(/GMT$/);
  });

  it('a changed size is a change even without ETag or Last-Modified', async () => {
    server.misbehave = { noValidators: true };
    const versions = new FileVersions();
    await readPrefix(url, 100, { ...fast, versions });
    swap(new Uint8Array(SIZE + 10));
    const { error } = await readAll(streamRange, versions, 100, 1000);
    expect(error).toMatchObject({ code: 'file-changed', details: { changed: 'size' } });
  });

  it('a whole-file GET (the naive and fp16 strategies) is checked against the version the header read pinned', async () => {
    const versions = new FileVersions();
    await readPrefix(url, 100, { ...fast, versions });
    expect(await fetchBytes(url, { ...fast, versions })).toEqual(v1);
    swap();
    expect((await failure(fetchBytes(url, { ...fast, versions }))).code).toBe('file-changed');
  });

  it("the cache's probe pins the version, and a body of another version is refused", async () => {
    const versions = new FileVersions();
    const v = await probeValidator(url, { ...fast, versions });
    expect(v?.etag).toBe(versions.get(url)!.etag);
    swap();
    expect((await readAll(streamRange, versions, 0, 100)).error).toMatchObject({ code: 'file-changed' });
    // without pins (another load), the new version is simply read
    expect((await readAll(streamRange, new FileVersions(), 0, 100)).got).toEqual(v2.subarray(0, 100));
  });
});
