import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { NodeFsBackend } from './fs.node.ts';
import { hubFileOf, hubPublishedSha256 } from './hub-sha256.ts';
import { CachedReader } from './reader.ts';
import { ByteCache } from './store.ts';
import { probeValidator } from './validator.ts';

// A local server imitating the hub: `/<org>/<name>/resolve/main/<file>` answers 302 with X-Linked-Etag (the sha256)
// and X-Linked-Size, to a CDN path that serves the bytes with Range support; `POST /api/models/<org>/<name>/
// paths-info/main` answers the hub API's JSON. fetch follows the redirect, so (as in a browser) the linked headers are
// never seen: the hash has to come from the API.
const SIZE = 200_000;
const B = 64 * 1024;
const data = new Uint8Array(SIZE).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
const sha = createHash('sha256').update(data).digest('hex');

interface Hub {
  /** What paths-info answers for model.safetensors (null: a 404). */
  info: Record<string, unknown> | null;
  apiBodies: unknown[];
  apiStatus: number;
}
const hub: Hub = { info: null, apiBodies: [], apiStatus: 200 };
let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (req.method === 'POST' && u.pathname === '/api/models/org/tiny-model/paths-info/main') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hub.apiBodies.push(JSON.parse(body));
        if (hub.apiStatus !== 200 || !hub.info) {
          res.writeHead(hub.apiStatus === 200 ? 404 : hub.apiStatus).end('{"error":"no"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([hub.info]));
      });
      return;
    }
    if (u.pathname === '/org/tiny-model/resolve/main/model.safetensors') {
      res.writeHead(302, { location: `/cdn/${sha}`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(SIZE) }).end();
      return;
    }
    if (u.pathname === `/cdn/${sha}`) {
      const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m && m[2] ? Math.min(Number(m[2]) + 1, SIZE) : SIZE;
      res.writeHead(m ? 206 : 200, {
        etag: '"cdn-etag-not-a-sha"',
        'content-length': String(end - start),
        ...(m ? { 'content-range': `bytes ${start}-${end - 1}/${SIZE}` } : {}),
      });
      res.end(data.subarray(start, end));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  hub.info = { type: 'file', path: 'model.safetensors', oid: 'f'.repeat(40), size: SIZE, lfs: { oid: sha, size: SIZE, pointerSize: 134 } };
  hub.apiBodies = [];
  hub.apiStatus = 200;
});

const fileUrl = () => `${origin}/org/tiny-model/resolve/main/model.safetensors`;

describe('hubFileOf', () => {
  it('maps a /resolve/ URL on a hub origin to its paths-info endpoint and path', () => {
    expect(hubFileOf('https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main/model.safetensors')).toEqual({
      api: 'https://huggingface.co/api/models/HuggingFaceTB/SmolLM2-135M/paths-info/main',
      path: 'model.safetensors',
    });
    expect(hubFileOf('https://huggingface.co/o/n/resolve/refs%2Fpr%2F3/sub/dir/model-00001-of-00002.safetensors')).toEqual({
      api: 'https://huggingface.co/api/models/o/n/paths-info/refs%2Fpr%2F3',
      path: 'sub/dir/model-00001-of-00002.safetensors',
    });
    expect(hubFileOf('https://example.org/o/n/resolve/main/model.safetensors')).toBeNull();
    expect(hubFileOf('https://huggingface.co/datasets/o/n/resolve/main/x.bin')).toBeNull();
    expect(hubFileOf('https://huggingface.co/o/n/blob/main/model.safetensors')).toBeNull();
    expect(hubFileOf('not a url')).toBeNull();
    expect(hubFileOf('http://127.0.0.1:9/o/n/resolve/main/m.safetensors', ['http://127.0.0.1:9'])?.path).toBe('m.safetensors');
  });
});

describe('hubPublishedSha256', () => {
  it('reads lfs.oid from paths-info, checked against the size', async () => {
    const origins = [origin];
    expect(await hubPublishedSha256(fileUrl(), SIZE, { origins })).toBe(sha);
    expect(hub.apiBodies).toEqual([{ paths: ['model.safetensors'], expand: false }]);
    expect(await hubPublishedSha256(fileUrl(), SIZE + 1, { origins })).toBeNull(); // another version than the bytes probed
    hub.info = { type: 'file', path: 'model.safetensors', oid: 'f'.repeat(40), size: 120 }; // a plain git file: no lfs
    expect(await hubPublishedSha256(fileUrl(), SIZE, { origins })).toBeNull();
    hub.info = { type: 'file', path: 'model.safetensors', size: SIZE, lfs: { oid: 'not-hex', size: SIZE } };
    expect(await hubPublishedSha256(fileUrl(), SIZE, { origins })).toBeNull();
    hub.apiStatus = 500;
    expect(await hubPublishedSha256(fileUrl(), SIZE, { origins })).toBeNull();
    // not a hub origin: nothing is asked
    hub.apiBodies = [];
    expect(await hubPublishedSha256(fileUrl(), SIZE)).toBeNull();
    expect(hub.apiBodies).toEqual([]);
  });

  it('the premise: fetch follows the resolve redirect, so the probe never sees X-Linked-Etag', async () => {
    const v = await probeValidator(fileUrl());
    expect(v).toEqual({ size: SIZE, etag: '"cdn-etag-not-a-sha"', lastModified: null, sha256: null });
  });
});

describe('CachedReader on a hub file', () => {
  const open = (origins: string[]) => ByteCache.open(new NodeFsBackend(mkdtempSync(join(tmpdir(), 'hub-cache-'))), { blockBytes: B, hubOrigins: origins });
  async function readAll(cache: ByteCache): Promise<CachedReader> {
    const reader = new CachedReader(cache, `${origin}/org/tiny-model/resolve/main/`);
    await reader.streamRange(fileUrl(), { start: 0, end: SIZE }, { retries: 0, backoffMs: 1 }, () => {});
    return reader;
  }

  it('checks the whole file against the published SHA-256; a warm load does not ask again', async () => {
    const cache = await open([origin]);
    await readAll(cache);
    const m = (await cache.peek(fileUrl()))!;
    expect(m.validator.sha256).toBe(sha);
    expect(m.verified).toBe(true);
    expect(hub.apiBodies).toHaveLength(1);
    await readAll(cache);
    expect(hub.apiBodies).toHaveLength(1);
  });

  it('a download that does not match the published SHA-256 is discarded with a bad-file error', async () => {
    hub.info = { type: 'file', path: 'model.safetensors', size: SIZE, lfs: { oid: '0'.repeat(64), size: SIZE } };
    const cache = await open([origin]);
    const e = await readAll(cache).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect([(e as EngineError).code, (e as EngineError).message]).toEqual(['bad-file', expect.stringMatching(/published SHA-256/)]);
    expect((await cache.peek(fileUrl()))!.blocks).toEqual({});
  });

  it('without the hub API (another origin) the file is cached unchecked', async () => {
    const cache = await open([]);
    await readAll(cache);
    expect((await cache.peek(fileUrl()))!).toMatchObject({ verified: false, validator: { sha256: null } });
    expect(hub.apiBodies).toEqual([]);
  });
});
