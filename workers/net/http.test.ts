import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { EngineError } from '../errors.ts';
import { probeValidator } from '../cache/validator.ts';
import { HostLedger } from '../gpu/host-ledger.ts';
import { fetchBytes, fetchJson, isHtmlDocument, isUnreachable, PROGRESS_RESET_BYTES, readPrefix, requestHeaders, streamRange, type RangeReader } from './http.ts';
import { threadRangeReader } from './thread-reader.ts';

const SIZE = 300_000;
const data = new Uint8Array(SIZE).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
let server: ServeDirHandle;
let url: string;
const fast = { retries: 3, backoffMs: 1 };

// The reader thread (thread-reader.ts) runs streamRange on a worker thread: every streamRange case holds for it too,
// with small chunks and a ring of two so that chunks are handed over and given back many times per range.
const thread = threadRangeReader({ chunkBytes: 16 * 1024, buffers: 2 });
const READERS: [string, RangeReader][] = [
  ['streamRange', streamRange],
  ['thread reader', thread.read],
];
let read: RangeReader = streamRange;

async function collect(start: number, end: number, opts = {}): Promise<Uint8Array> {
  const out = new Uint8Array(end - start);
  let next = start;
  await read(url, { start, end }, { ...fast, ...opts }, (c, at) => {
    expect(at).toBe(next); // in order, each byte once
    out.set(c, at - start);
    next = at + c.length;
  });
  expect(next).toBe(end);
  return out;
}

async function failure(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(() => null, (e: unknown) => e);
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'http-test-'));
  writeFileSync(join(dir, 'blob.bin'), data);
  writeFileSync(join(dir, 'config.json'), '{"a": 1}');
  writeFileSync(join(dir, 'spa.json'), '<!doctype html><html><body>app</body></html>');
  writeFileSync(join(dir, 'big.bin'), new Uint8Array(32 << 20));
  server = await serveDir(dir);
  url = server.url + 'blob.bin';
});
afterAll(async () => {
  await thread.close();
  await server.close();
});
beforeEach(() => {
  server.misbehave = {};
  server.log.length = 0;
});

describe.each(READERS)('%s', (_name, reader) => {
  beforeEach(() => {
    read = reader;
  });

  it('streams a range with one request and validates Content-Range', async () => {
    expect(await collect(1000, 250_000)).toEqual(data.subarray(1000, 250_000));
    expect(server.log.map((l) => [l.range, l.status])).toEqual([['bytes=1000-249999', 206]]);
  });

  it('reads a server that ignores Range as one sequential stream, skipping to the start', async () => {
    server.misbehave = { ignoreRange: true };
    expect(await collect(70_000, 71_000)).toEqual(data.subarray(70_000, 71_000));
    expect(server.log.length).toBe(1);
    const big = server.url + 'big.bin';
    let n = 0;
    await read(big, { start: 1000, end: 2000 }, fast, (c) => void (n += c.length));
    expect(n).toBe(1000);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.log[1].bytesSent).toBeLessThan(32 << 20); // cancelled once the range was read
  });

  it('resumes at the last byte delivered after the connection drops mid-body', async () => {
    server.misbehave = { dropAfterBytes: 64 * 1024, dropTimes: 3 };
    const retries: number[] = [];
    expect(await collect(10, SIZE, { onRetry: (i: { at: number }) => retries.push(i.at) })).toEqual(data.subarray(10));
    expect(retries.length).toBeGreaterThanOrEqual(1);
    // Every retry asks for the bytes not yet delivered, never from the start again.
    for (const l of server.log.slice(1)) expect(Number(/bytes=(\d+)/.exec(l.range!)![1])).toBeGreaterThan(10);
  });

  it('gives up on a server that cuts every connection after a few bytes, after its retries (not byte by byte)', async () => {
    server.misbehave = { dropAfterBytes: 1000 };
    const e = await failure(collect(0, SIZE));
    expect([e.code, e.details.file]).toEqual(['network', url]);
    expect(server.log.length).toBe(fast.retries + 1);
    // a drop after PROGRESS_RESET_BYTES or more is progress: the count starts again, and the range is read whole
    server.misbehave = { dropAfterBytes: PROGRESS_RESET_BYTES, dropTimes: fast.retries + 1 };
    server.log.length = 0;
    expect(await collect(0, SIZE)).toEqual(data);
    expect(server.log.length).toBe(fast.retries + 2);
  });

  it('resumes on a server that ignores Range and drops the connection', async () => {
    server.misbehave = { ignoreRange: true, dropAfterBytes: 100_000, dropTimes: 2 };
    expect(await collect(0, SIZE)).toEqual(data);
  });

  it('retries 503 with backoff, then succeeds', async () => {
    server.misbehave = { failFirst: 2 };
    expect(await collect(0, 100)).toEqual(data.subarray(0, 100));
    expect(server.log.map((l) => l.status)).toEqual([503, 503, 206]);
  });

  it('refuses a wrong Content-Range start and a wrong file size', async () => {
    server.misbehave = { contentRangeShift: 1 };
    const e = await failure(collect(100, 200));
    expect(e.code).toBe('http');
    expect(e.details.file).toBe(url);
    expect(e.message).toMatch(/Content-Range/);
    server.misbehave = { contentRangeTotal: SIZE + 5 };
    expect((await failure(collect(100, 200, { expectSize: SIZE }))).message).toMatch(/Content-Range/);
  });

  it('refuses a range sent compressed, and hands on none of its bytes', async () => {
    // gzip of the whole file under the range's Content-Range: decoded, it is the file from byte 0, not from 100 000
    for (const misbehave of [{ gzip: 'file' as const }, { gzip: 'range' as const }]) {
      server.misbehave = misbehave;
      server.log.length = 0;
      let handed = 0;
      const e = await failure(read(url, { start: 100_000, end: 120_000 }, { ...fast, expectSize: SIZE }, () => void handed++));
      expect(handed).toBe(0);
      expect([e.code, e.details.file]).toEqual(['http', url]);
      expect(e.message).toMatch(/compressed \(Content-Encoding: gzip\)/);
      expect(server.log.length).toBe(fast.retries + 1); // each answer refused, retried, then given up
    }
  });

  it('gives 404 and 403 at once with the status and file', async () => {
    server.misbehave = { statusByPath: { 'blob.bin': 404 } };
    let e = await failure(collect(0, 10));
    expect([e.code, e.details.status, e.details.file]).toEqual(['http', 404, url]);
    expect(server.log.length).toBe(1);
    server.misbehave = { statusByPath: { 'blob.bin': 403 } };
    e = await failure(collect(0, 10));
    expect([e.code, e.details.status]).toEqual(['http', 403]);
    expect(e.message).toMatch(/access denied/);
  });

  it('reports a truncated body after retries that make no progress', async () => {
    server.misbehave = { truncateAt: 5000 };
    const e = await failure(collect(0, 10_000));
    expect(e.code).toBe('bad-file');
    expect(e.message).toMatch(/truncated/);
    expect(e.details).toMatchObject({ file: url, offset: 5000 });
  });

  it('is cancelled by an AbortSignal, also while waiting on a slow server', async () => {
    server.misbehave = { bytesPerSecond: 50_000 };
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await failure(collect(0, SIZE, { signal: ac.signal }));
    expect(e.code).toBe('cancelled');
  });

  it('a connection refused is a network error', async () => {
    const e = await failure(read('http://127.0.0.1:1/x.bin', { start: 0, end: 1 }, fast, () => {}));
    expect(e.code).toBe('network');
  });
});

describe('a 206 body longer than its Content-Range', () => {
  it('is refused before any of it is handed on (a compressed body whose Content-Encoding a browser does not show)', async () => {
    const real = globalThis.fetch;
    let calls = 0;
    // the decoded body of a whole file gzipped under a range's Content-Range: the file from byte 0, in one chunk
    globalThis.fetch = async () => {
      calls++;
      return new Response(data.slice(0, 5000), { status: 206, headers: { 'Content-Range': `bytes 1000-1999/${SIZE}` } });
    };
    try {
      let handed = 0;
      const e = await failure(streamRange(url, { start: 1000, end: 2000 }, { ...fast, expectSize: SIZE }, () => void handed++));
      expect(handed).toBe(0);
      expect([e.code, e.details.file]).toEqual(['http', url]);
      expect(e.message).toMatch(/more bytes than its Content-Range/);
      expect(calls).toBe(fast.retries + 1);
    } finally {
      globalThis.fetch = real;
    }
  });
});

describe('thread reader', () => {
  it('hands over whole chunks, counts its ring in the host ledger while it reads, and releases it', async () => {
    const host = new HostLedger();
    const sizes: number[] = [];
    let during = 0;
    await thread.read(url, { start: 5, end: 100_005 }, fast, (c) => {
      sizes.push(c.length);
      during = Math.max(during, host.current);
    }, host);
    expect(sizes.slice(0, -1).every((n) => n === 16 * 1024)).toBe(true);
    expect(sizes.reduce((a, b) => a + b)).toBe(100_000);
    expect(during).toBe(2 * 16 * 1024);
    expect(host.current).toBe(0);
  });

  it("fails with onChunk's error and stops reading; the ring comes back for the next read", async () => {
    server.misbehave = { bytesPerSecond: 400_000 };
    const boom = new Error('tensor rejected');
    const e = await thread.read(url, { start: 0, end: SIZE }, fast, () => {
      throw boom;
    }).then(() => null, (x: unknown) => x);
    expect(e).toBe(boom);
    server.misbehave = {};
    read = thread.read;
    expect(await collect(0, SIZE)).toEqual(data);
  });

  it('rejects reads once closed', async () => {
    const t = threadRangeReader();
    await t.close();
    expect((await failure(t.read(url, { start: 0, end: 10 }, fast, () => {}))).code).toBe('cancelled');
  });
});

describe('the browser HTTP cache', () => {
  it('is bypassed by every request (no-store): weights have their own cache, and a partial entry once truncated a body', async () => {
    const real = globalThis.fetch;
    const modes: (RequestCache | undefined)[] = [];
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      modes.push(init?.cache);
      return real(input, init);
    }) as typeof fetch;
    try {
      await streamRange(url, { start: 0, end: 1000 }, fast, () => {});
      await readPrefix(url, 100, fast);
      await fetchJson(server.url + 'config.json', fast);
      await probeValidator(url, fast);
    } finally {
      globalThis.fetch = real;
    }
    expect(modes.length).toBeGreaterThanOrEqual(4);
    expect(modes.every((m) => m === 'no-store')).toBe(true);
  });
});

describe('isHtmlDocument', () => {
  const enc = (t: string) => new TextEncoder().encode(t);
  it("knows a single-page app's index.html, not a chat template that begins with '<'", () => {
    expect(isHtmlDocument(enc('<!doctype html>\n<html lang="en"><head>'))).toBe(true);
    expect(isHtmlDocument(enc('\uFEFF  <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">'))).toBe(true);
    expect(isHtmlDocument(enc('<html><body>app</body></html>'))).toBe(true);
    expect(isHtmlDocument(enc("<|im_start|>system\n{{ messages[0]['content'] }}"))).toBe(false);
    expect(isHtmlDocument(enc('<s>{% for m in messages %}{{ m.content }}{% endfor %}'))).toBe(false);
    expect(isHtmlDocument(enc('{{ bos_token }}<html>'))).toBe(false);
  });
});

describe('readPrefix and fetchJson', () => {
  it('reads a prefix and the file size from Content-Range', async () => {
    const p = await readPrefix(url, 16, fast);
    expect(p).toEqual({ bytes: data.subarray(0, 16), size: SIZE, rangeSupported: true });
  });
  it('reads a prefix of a short file', async () => {
    const p = await readPrefix(url, SIZE + 100, fast);
    expect(p.bytes.length).toBe(SIZE);
  });
  it('retries a 416 that names a file size past the start (a glitch), and reads the prefix', async () => {
    server.misbehave = { perRequest: (_e, n) => (n === 1 ? { statusByPath: { '': 416 }, contentRange: `bytes */${SIZE}` } : undefined) };
    const p = await readPrefix(url, 1000, fast);
    expect(p.bytes).toEqual(data.subarray(0, 1000));
    expect(server.log.map((l) => l.status)).toEqual([416, 206]);
  });

  it('reads a prefix from a server that ignores Range without downloading the file', async () => {
    server.misbehave = { ignoreRange: true };
    const p = await readPrefix(url, 16, fast);
    expect(p).toEqual({ bytes: data.subarray(0, 16), size: SIZE, rangeSupported: false });
    await readPrefix(server.url + 'big.bin', 16, fast);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.log[1].bytesSent).toBeLessThan(32 << 20);
  });
  it('fetches JSON; optional files are null on 404', async () => {
    expect(await fetchJson(server.url + 'config.json', fast)).toEqual({ a: 1 });
    expect(await fetchJson(server.url + 'nope.json', fast, true)).toBeNull();
    expect((await failure(fetchJson(server.url + 'nope.json', fast))).details.status).toBe(404);
  });
  it("treats a single-page app's index.html (200) in place of a JSON file as missing", async () => {
    expect(await fetchJson(server.url + 'spa.json', fast, true)).toBeNull();
    const e = await failure(fetchJson(server.url + 'spa.json', fast));
    expect(e.code).toBe('http');
    expect(e.message).toContain('spa.json');
    expect(e.details.status).toBe(404);
  });
});

describe('unreachable network (what an offline load starts from)', () => {
  it('a fetch that rejects (connection closed unanswered) is unreachable, after its retries', async () => {
    server.misbehave = { hangUp: true };
    const e = await failure(fetchJson(server.url + 'config.json', fast));
    expect(e.code).toBe('network');
    expect(e.details).toMatchObject({ file: server.url + 'config.json', unreachable: true });
    expect(isUnreachable(e)).toBe(true);
    expect(server.log.length).toBe(1 + fast.retries);
    const r = await failure(collect(0, 1000));
    expect(isUnreachable(r)).toBe(true);
  });
  it('an HTTP status is never unreachable: the server answered', async () => {
    for (const status of [404, 403, 503, 429]) {
      server.misbehave = { statusByPath: { 'config.json': status } };
      const e = await failure(fetchJson(server.url + 'config.json', { retries: 0 }));
      expect([e.code, e.details.status, isUnreachable(e)]).toEqual(['http', status, false]);
    }
  });
  it('a body cut short after an answer is not unreachable', async () => {
    server.misbehave = { dropAfterBytes: 1000 };
    const e = await failure(collect(0, 250_000, { retries: 0 }));
    expect(e.code).toBe('network');
    expect(isUnreachable(e)).toBe(false);
  });
  it('with responseTimeoutMs, no answer in time is unreachable at once (no retry); an answer in time is read whole', async () => {
    server.misbehave = { silent: true };
    const t0 = performance.now();
    const e = await failure(fetchJson(server.url + 'config.json', { ...fast, responseTimeoutMs: 300 }));
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(e.details).toMatchObject({ unreachable: true, timeout: true });
    expect(e.message).toMatch(/config\.json: no answer within 0\.3 s/);
    expect(server.log.length).toBe(1);
    // the timer stops at the answer: a slow body is not cut by it
    server.misbehave = { bytesPerSecond: 200_000 };
    expect(await collect(0, 250_000, { responseTimeoutMs: 300 })).toEqual(data.subarray(0, 250_000));
  });
  it('a cancel while waiting is a cancel, not unreachable', async () => {
    server.misbehave = { silent: true };
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const e = await failure(fetchJson(server.url + 'config.json', { ...fast, signal: ac.signal, responseTimeoutMs: 5000 }));
    expect(e.code).toBe('cancelled');
  });
});

describe.each(READERS)('a server that stalls (%s)', (_name, reader) => {
  beforeEach(() => {
    read = reader;
  });

  it('a body that stops sending is abandoned after the stall timeout and resumed where it stopped', async () => {
    server.misbehave = { stallAfterBytes: 40_000 }; // every response stops after 40 000 bytes
    const retries: { at: number; reason: string }[] = [];
    const stall = { stallTimeoutMs: 200, retries: 7, onRetry: (i: { at: number; reason: string }) => retries.push(i) };
    expect(await collect(0, SIZE, stall)).toEqual(data);
    // each retry resumed at the byte after the last one delivered
    expect(retries.map((r) => r.at)).toEqual([40_000, 80_000, 120_000, 160_000, 200_000, 240_000, 280_000]);
    expect(retries[0].reason).toMatch(/blob\.bin: no data for 0\.2 s at byte 40000 \(the server stalled\)/);
  });

  it('a server that keeps stalling fails after its retries with the stall in words, bytes delivered or not', async () => {
    server.misbehave = { stallAfterBytes: 40_000 };
    const t0 = performance.now();
    const e = await failure(collect(0, SIZE, { stallTimeoutMs: 200, retries: 2 }));
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(e.code).toBe('network');
    expect(e.details).toMatchObject({ stalled: true, file: url, offset: 120_000 });
    expect(e.message).toMatch(/blob\.bin: no data for 0\.2 s at byte 120000 \(the server stalled\)/);
    expect(server.log.length).toBe(3);
  });

  it('a body that drips (bytes keep coming, too few of them) is stalled too, in words', async () => {
    // about 1 KiB every 100 ms: no read waits the 200 ms stall timeout, but 200 ms of waiting bring less than 16 KiB
    server.misbehave = { bytesPerSecond: 10_000 };
    const e = await failure(collect(0, SIZE, { stallTimeoutMs: 200, retries: 1, backoffMs: 1 }));
    expect(e.code).toBe('network');
    expect(e.details).toMatchObject({ stalled: true, file: url });
    expect(e.message).toMatch(/blob\.bin: less than 16 KiB in 0\.2 s at byte \d+ \(the server stalled\)/);
    expect(server.log.length).toBe(2);
  });

  it('a stall that passes is survived; time spent in onChunk is not a stall', async () => {
    server.misbehave = { stallAfterBytes: 40_000 };
    let n = 0;
    const out = new Uint8Array(SIZE);
    setTimeout(() => (server.misbehave = {}), 100);
    await read(url, { start: 0, end: SIZE }, { ...fast, stallTimeoutMs: 300 }, async (c, at) => {
      out.set(c, at);
      if (n++ === 0) await new Promise((r) => setTimeout(r, 600)); // a slow consumer, twice the stall timeout
    });
    expect(out).toEqual(data);
  });

  it('a request that is never answered is abandoned after the stall timeout (not unreachable: retried)', async () => {
    server.misbehave = { silent: true };
    const e = await failure(fetchJson(server.url + 'config.json', { retries: 1, backoffMs: 1, stallTimeoutMs: 200 }));
    expect(e.details).toMatchObject({ stalled: true });
    expect(e.message).toMatch(/config\.json: no answer within 0\.2 s \(the server stalled\)/);
    expect(isUnreachable(e)).toBe(false);
    expect(server.log.length).toBe(2);
  });

  it('a whole-file GET that stalls mid-body fails the same way', async () => {
    server.misbehave = { stallAfterBytes: 10_000 };
    const e = await failure(fetchBytes(url, { retries: 0, stallTimeoutMs: 200 }));
    expect(e.details).toMatchObject({ stalled: true, offset: 10_000 });
  });
});

describe('hub token', () => {
  it('goes to https://huggingface.co alone, as Authorization: Bearer, beside the other headers', () => {
    const o = { hubToken: 'hf_x' };
    expect(requestHeaders('https://huggingface.co/org/m/resolve/main/config.json', o, { Range: 'bytes=0-1' })).toEqual({
      Range: 'bytes=0-1',
      Authorization: 'Bearer hf_x',
    });
    for (const url of [
      'http://huggingface.co/org/m/resolve/main/config.json',
      'https://huggingface.co.evil.example/org/m/config.json',
      'https://cdn-lfs.hf.co/repos/ab/cd/file',
      'https://cas-bridge.xethub.hf.co/xet-bridge-us/file',
      'https://example.org/?u=https://huggingface.co/',
      'models/relative/config.json',
    ]) {
      expect(requestHeaders(url, o, { Range: 'bytes=0-1' }), url).toEqual({ Range: 'bytes=0-1' });
    }
    expect(requestHeaders('https://huggingface.co/org/m/resolve/main/config.json', {})).toEqual({});
  });
});
