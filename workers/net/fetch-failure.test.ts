// A rejected fetch() is told apart: a redirect loop and a server that refuses cross-origin reads (CORS) are answers,
// never "unreachable" (which would send a load to the cache alone, offline); only a server that cannot be reached at
// all is. The browser's case (one bare TypeError for all three) is played with a stubbed location and fetch.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { EngineError } from '../errors.ts';
import { probeValidator } from '../cache/validator.ts';
import { fetchFailure } from './fetch-failure.ts';
import { fetchJson, isUnreachable, streamRange } from './http.ts';

let server: ServeDirHandle;
beforeAll(async () => {
  server = await serveDir('../shared/models/random/llama-gqa-bf16');
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.misbehave = {};
  server.log.length = 0;
});
afterEach(() => {
  vi.unstubAllGlobals();
});

async function failure(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

describe('in Node', () => {
  it('a redirect loop is a redirect error, not unreachable, and is not retried', async () => {
    server.misbehave = { redirectLoop: true };
    const e = await failure(fetchJson(server.url + 'config.json', { retries: 3, backoffMs: 1 }));
    expect(e.code).toBe('network');
    expect(e.details).toMatchObject({ redirect: true, file: server.url + 'config.json' });
    expect(e.message).toMatch(/config\.json: the server answers with redirects that do not end \(a redirect loop\)/);
    expect(isUnreachable(e)).toBe(false);
    // one fetch (which followed 20 redirects), not four
    expect(server.log.length).toBe(21);
  });

  it("the cache's validator probe is retried like every request (a connection closed unanswered, a stale keep-alive)", async () => {
    server.misbehave = { hangUpTimes: 2 };
    const v = await probeValidator(server.url + 'model.safetensors', { retries: 2, backoffMs: 1 });
    expect(v?.size).toBeGreaterThan(1000);
    expect(server.log.map((l) => l.status)).toEqual([0, 0, 206]);
  });

  it('a connection refused is unreachable', async () => {
    const e = await failure(streamRange('http://127.0.0.1:1/x.bin', { start: 0, end: 1 }, { retries: 0 }, () => {}));
    expect(isUnreachable(e)).toBe(true);
  });
});

describe('in a page or worker (fetch says only "Failed to fetch")', () => {
  const page = 'https://app.example';
  const failed = () => new TypeError('Failed to fetch');

  /** Stubs location and fetch: `answer(init)` is what fetch does with each request. */
  function browser(answer: (init: RequestInit | undefined) => Response | Error) {
    const calls: RequestInit[] = [];
    vi.stubGlobal('location', { origin: page, href: page + '/' });
    vi.stubGlobal('fetch', async (_url: string, init?: RequestInit) => {
      calls.push(init ?? {});
      const a = answer(init);
      if (a instanceof Error) throw a;
      return a;
    });
    return calls;
  }

  it('a cross-origin server without CORS headers is cors (it answers a no-cors request), not unreachable', async () => {
    const calls = browser((init) => (init?.mode === 'no-cors' ? new Response(null, { status: 200 }) : failed()));
    const e = await fetchFailure('https://models.example/m/config.json', failed());
    expect(e.code).toBe('cors');
    expect(isUnreachable(e)).toBe(false);
    expect(e.message).toMatch(/config\.json from https:\/\/models\.example: the server answers, but does not allow/);
    expect(calls.map((c) => [c.method, c.mode ?? 'cors', c.redirect ?? 'follow'])).toEqual([
      ['HEAD', 'cors', 'manual'],
      ['HEAD', 'no-cors', 'follow'],
    ]);
  });

  it('a loaded model reached through fetchJson with the cache on stays a cors error (no offline fallback)', async () => {
    browser((init) => (init?.mode === 'no-cors' ? new Response(null, { status: 200 }) : failed()));
    const e = await failure(fetchJson('https://models.example/m/config.json', { retries: 3, backoffMs: 1 }));
    expect([e.code, isUnreachable(e)]).toEqual(['cors', false]);
  });

  it('a redirect loop (an opaque redirect to a manual HEAD) is a redirect error', async () => {
    const opaqueRedirect = Object.assign(new Response(null, { status: 200 }), {});
    Object.defineProperty(opaqueRedirect, 'type', { value: 'opaqueredirect' });
    browser((init) => (init?.redirect === 'manual' ? opaqueRedirect : failed()));
    const e = await fetchFailure(`${page}/models/m/config.json`, failed());
    expect(e.details).toMatchObject({ redirect: true });
    expect(isUnreachable(e)).toBe(false);
  });

  it('nothing answers: unreachable (what an offline load starts from), same-origin or not', async () => {
    browser(() => failed());
    expect(isUnreachable(await fetchFailure('https://models.example/m/config.json', failed()))).toBe(true);
    expect(isUnreachable(await fetchFailure(`${page}/models/m/config.json`, failed()))).toBe(true);
  });

  it('a same-origin server that answers a HEAD is reachable: a network error, not unreachable', async () => {
    browser((init) => (init?.method === 'HEAD' ? new Response(null, { status: 200 }) : failed()));
    const e = await fetchFailure(`${page}/models/m/config.json`, failed());
    expect([e.code, isUnreachable(e)]).toEqual(['network', false]);
  });
});
