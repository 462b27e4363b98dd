import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeFsBackend } from '../cache/fs.node.ts';
import { int8Layout, Int8Store } from './int8-cache-store.ts';
import { newCounters } from '../cache/reader.ts';
import { ByteCache } from '../cache/store.ts';

const source = { url: 'https://example.org/m/model.safetensors', validator: { size: 1000, etag: '"a"', lastModified: null, sha256: null } };
const shape = [300, 130]; // rowWords = 33 (130 int8 padded to 132)

async function keep(store: Int8Store, bytes: Uint8Array): Promise<void> {
  const w = await store.writer('w', shape);
  for (let o = 0; o < bytes.length; o += 7000) await w.push(bytes.subarray(o, o + 7000));
  await w.finish();
}

async function readAll(store: Int8Store): Promise<Uint8Array | null> {
  const out = new Uint8Array(int8Layout(shape).total);
  const ok = await store.read('w', shape, (b, at) => void out.set(b, at));
  return ok ? out : null;
}

describe('Int8Store', () => {
  const layout = int8Layout(shape);
  const bytes = new Uint8Array(layout.total).map((_, i) => (i * 7) & 0xff);

  it('lays out words then scales', () => {
    expect(layout).toEqual({ rows: 300, rowWords: 33, weightBytes: 300 * 33 * 4, scaleBytes: 1200, total: 300 * 33 * 4 + 1200 });
  });

  it('keeps a tensor, reads it back, and is keyed by source validator, shape and format (not the threshold)', async () => {
    const cache = await ByteCache.open(new NodeFsBackend(mkdtempSync(join(tmpdir(), 'int8-'))), { blockBytes: 4096 });
    const counters = newCounters();
    const store = new Int8Store(cache, 'https://example.org/m/', source, counters);
    expect(await store.has('w', shape)).toBe(false);
    expect(await readAll(store)).toBeNull();
    await keep(store, bytes);
    expect(await store.has('w', shape)).toBe(true);
    expect(await readAll(store)).toEqual(bytes);
    expect(counters.cacheBytes).toBe(layout.total);
    expect((await cache.list())[0].files.map((f) => f.kind)).toContain('int8');
    // Another shape, or another version of the source file: no cached copy (and the stale one is discarded).
    expect(await store.has('w', [300, 128])).toBe(false);
    const changed = new Int8Store(cache, 'https://example.org/m/', { ...source, validator: { ...source.validator, etag: '"b"' } });
    expect(await changed.has('w', shape)).toBe(false);
    expect(await cache.list()).toEqual([]); // nothing stored any more: not listed
  });

  it('a half-written tensor is not used', async () => {
    const cache = await ByteCache.open(new NodeFsBackend(mkdtempSync(join(tmpdir(), 'int8-'))), { blockBytes: 4096 });
    const store = new Int8Store(cache, 'm', source);
    const w = await store.writer('w', shape);
    await w.push(bytes.subarray(0, 20_000));
    await expect(w.finish()).rejects.toThrow(/20000 of/);
    expect(await store.has('w', shape)).toBe(false);
    expect(await readAll(store)).toBeNull();
  });
});
