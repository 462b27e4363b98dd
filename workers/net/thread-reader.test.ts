// The reader thread's cancellation order (the streamRange cases it shares run in http.test.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { EngineError } from '../errors.ts';
import { threadRangeReader } from './thread-reader.ts';

let server: ServeDirHandle;
const thread = threadRangeReader({ chunkBytes: 8192, buffers: 3 });

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'thread-reader-'));
  writeFileSync(join(dir, 'blob.bin'), new Uint8Array(1 << 20));
  server = await serveDir(dir);
});
afterAll(async () => {
  await thread.close();
  await server.close();
});

it('a cancelled read rejects only after the onChunk in progress returns, and calls onChunk no more', async () => {
  const ac = new AbortController();
  const events: string[] = [];
  const p = thread.read(server.url + 'blob.bin', { start: 0, end: 1 << 20 }, { signal: ac.signal }, async (_c, at) => {
    events.push(`start ${at}`);
    if (at === 2 * 8192) {
      ac.abort();
      await new Promise((r) => setTimeout(r, 100)); // still writing when the abort comes
    }
    events.push(`end ${at}`);
  });
  const e = await p.then(() => null, (x: unknown) => x);
  events.push('rejected');
  expect(e).toBeInstanceOf(EngineError);
  expect((e as EngineError).code).toBe('cancelled');
  expect(events.slice(-3)).toEqual([`start ${2 * 8192}`, `end ${2 * 8192}`, 'rejected']);
  // the ring came back: the next read gets every byte
  let n = 0;
  await thread.read(server.url + 'blob.bin', { start: 0, end: 100_000 }, {}, (c) => void (n += c.length));
  expect(n).toBe(100_000);
});
