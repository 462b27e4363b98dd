// The test server itself: it must not be the flaky part of a test. Why workers/load/cache-load.gpu.test.ts (then workers/cache/) once failed
// with "fetch failed" on a busy machine and passed alone: the server runs on the test's own thread, and Node closes an
// idle keep-alive connection after 5 s; a test whose thread was blocked longer than that (Dawn compiling pipelines on
// a loaded CPU adapter) sent its next request on a pooled connection the server closed at that very moment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from './http-server.ts';

let server: ServeDirHandle;
beforeAll(async () => {
  server = await serveDir('../shared/models/random/llama-gqa-bf16');
});
afterAll(async () => {
  await server.close();
});

function blockThread(ms: number): void {
  const t = Date.now();
  while (Date.now() - t < ms) {
    // busy: what a long synchronous GPU call does to this thread
  }
}

describe('serveDir', () => {
  it('keeps idle connections open: a request right after the thread was blocked past 5 s is answered', async () => {
    const url = server.url + 'config.json';
    for (let i = 0; i < 3; i++) {
      const first = await fetch(url);
      expect(first.status).toBe(200);
      await first.arrayBuffer(); // the connection goes back to the pool, idle
      blockThread(6500);
      const res = await fetch(url, { headers: { Range: 'bytes=0-1' } });
      expect(res.status).toBe(206);
      await res.arrayBuffer();
    }
  }, 60_000);
});
