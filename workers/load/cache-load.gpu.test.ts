// The streamed loader reading through the byte cache, over HTTP from serve-dir (whose request log is the witness):
// a warm load makes no weight requests and uploads the same words; a load cut by a dropped connection resumes at the
// first block not committed; a corrupted block is detected and fetched again; a warm streamed-int8 load takes the
// cached int8 weights without quantizing. The ledger returns to where it was after every failure.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { isInt8Weight, type Int8Weight } from '../model/int8-linear.ts';
import { int8WeightTransform } from './quantize.ts';
import { cachedInt8Weights } from './int8-cache.ts';
import { loadWeights, type LoadedWeights } from './loader.ts';
import { readTensorMap, type TensorMap } from './safetensors.ts';
import { NodeFsBackend } from '../cache/fs.node.ts';
import { CachedReader } from '../cache/reader.ts';
import { ByteCache } from '../cache/store.ts';

const ROOT = new URL('../../../shared/models/random/', import.meta.url).pathname;
const MODEL = 'llama-gqa-bf16';
const BLOCK = 64 * 1024; // ~20 blocks for this 1.26 MB file
// a short backoff, but long enough that a loaded 2-core CI machine gets past a transient socket error
const fast = { retries: 3, backoffMs: 25 };

let ctx: GpuContext;
let server: ServeDirHandle;
let map: TensorMap;
const fileUrl = () => `${server.url}${MODEL}/model.safetensors`;

beforeAll(async () => {
  ctx = await nodeGpuContext();
  server = await serveDir(ROOT);
  map = await readTensorMap([fileUrl()], fast);
});
afterAll(async () => {
  await server?.close();
  ctx?.device.destroy();
});
beforeEach(() => {
  server.misbehave = {};
});

function tmpCache(corrupt?: { url: string; block: number; reason: string }[]): Promise<{ cache: ByteCache; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cache-load-'));
  return ByteCache.open(new NodeFsBackend(dir), { blockBytes: BLOCK, onCorrupt: (c) => corrupt?.push(c) }).then((cache) => ({ cache, dir }));
}

/** The weight-data requests of the log since `from` (the one-byte validator probes left out). */
function weightRequests(from: number) {
  return server.log.slice(from).filter((r) => r.path.endsWith('.safetensors') && r.range !== 'bytes=0-1');
}

/** Every word of every loaded tensor (int8 weights: their i8x4 words, then their scales), by name. */
async function words(loaded: LoadedWeights<GpuTensor | Int8Weight>): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const [name, t] of loaded.tensors) {
    const parts = isInt8Weight(t) ? [...t.weight.parts.map((p) => p.buffer), t.scales] : (t as GpuTensor).parts.map((p) => p.buffer);
    const bytes = await Promise.all(parts.map(async (b) => new Uint8Array(await readBuffer(ctx, b))));
    out.set(name, Buffer.concat(bytes));
  }
  return out;
}

async function load(cache: ByteCache, opts: { int8?: boolean; retries?: number; quantized?: string[] } = {}) {
  const reader = new CachedReader(cache, `${server.url}${MODEL}/`);
  const cachedInt8 = opts.int8 ? cachedInt8Weights(ctx, reader) : null;
  const quantize = int8WeightTransform(ctx);
  const loaded = await loadWeights<GpuTensor | Int8Weight>(ctx, map, {
    strategy: opts.int8 ? 'streamed-int8' : 'streamed',
    model: MODEL,
    http: { ...fast, retries: opts.retries ?? fast.retries },
    stream: { chunkBytes: 50_000 },
    cache: { reader },
    cached: cachedInt8?.tensors,
    transform: cachedInt8
      ? cachedInt8.storing(async (t, r, g) => {
          const q = await quantize(t, r, g);
          if (isInt8Weight(q)) opts.quantized?.push(r.name);
          return q;
        })
      : undefined,
  });
  return { loaded, reader };
}

describe('streamed loads through the byte cache', () => {
  it('a warm load makes no weight requests and uploads the same words', async () => {
    const { cache } = await tmpCache();
    const before = ctx.ledger.current;
    const at = server.log.length;
    const cold = await load(cache);
    expect(cold.loaded.report.cache).toBe('cold');
    expect(cold.loaded.report.bytesFetched).toBeGreaterThanOrEqual(map.files[0].size - map.files[0].dataStart);
    expect(weightRequests(at).length).toBeGreaterThan(0);
    const coldWords = await words(cold.loaded);
    cold.loaded.group.destroy();

    const at2 = server.log.length;
    const warm = await load(cache);
    expect(weightRequests(at2)).toEqual([]);
    expect(warm.loaded.report).toMatchObject({ cache: 'warm', bytesFetched: 0 });
    expect(warm.loaded.report.bytesFromCache).toBe([...map.tensors.values()].reduce((a, r) => a + r.end - r.start, 0));
    expect(warm.reader.counters.networkBytes).toBe(0);
    expect(await words(warm.loaded)).toEqual(coldWords);
    warm.loaded.group.destroy();
    expect(ctx.ledger.current).toBe(before);
    const [listed] = await cache.list();
    expect(listed).toMatchObject({ complete: true, bytes: map.files[0].size });
  });

  it('a load cut by a dropped connection resumes at the first block not committed', async () => {
    const { cache } = await tmpCache();
    const before = ctx.ledger.current;
    const ref = await load(cache);
    const refWords = await words(ref.loaded);
    ref.loaded.group.destroy();
    await cache.clear();

    server.misbehave = { dropAfterBytes: 600_000 }; // every response longer than that (the 1-byte probe is not)
    const err = await load(cache, { retries: 0 }).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'network' });
    expect(ctx.ledger.current).toBe(before);
    const m = (await cache.peek(fileUrl()))!;
    const committed = Object.keys(m.blocks).map(Number).sort((a, b) => a - b);
    // everything received before the cut, whole blocks only: ~600 KB is 9 blocks of 64 KiB
    expect(committed.length).toBeGreaterThanOrEqual(8);
    expect(committed).toEqual(committed.map((_, i) => i));

    server.misbehave = {};
    const at = server.log.length;
    const resumed = await load(cache);
    const reqs = weightRequests(at);
    expect(reqs.length).toBeGreaterThan(0);
    for (const r of reqs) {
      const start = Number(/^bytes=(\d+)-/.exec(r.range ?? '')![1]);
      expect(start).toBe(committed.length * BLOCK); // nothing committed is fetched again
    }
    expect(reqs.reduce((a, r) => a + r.bytesSent, 0)).toBe(map.files[0].size - committed.length * BLOCK);
    expect(resumed.loaded.report.cache).toBe('partial');
    expect(await words(resumed.loaded)).toEqual(refWords);
    resumed.loaded.group.destroy();
    expect(ctx.ledger.current).toBe(before);
  });

  it('detects corrupted and truncated blocks and fetches only those again', async () => {
    const corrupt: { url: string; block: number; reason: string }[] = [];
    const { cache, dir } = await tmpCache(corrupt);
    const cold = await load(cache);
    const coldWords = await words(cold.loaded);
    cold.loaded.group.destroy();

    const [entryDir] = readdirSync(join(dir, 'v1')).map((e) => join(dir, 'v1', e));
    const flipped = join(entryDir, 'b000003');
    const bytes = readFileSync(flipped);
    bytes[1000] ^= 0xff;
    writeFileSync(flipped, bytes);
    writeFileSync(join(entryDir, 'b000007'), readFileSync(join(entryDir, 'b000007')).subarray(0, 100));

    const at = server.log.length;
    const warm = await load(cache);
    expect(corrupt.map((c) => [c.block, c.reason]).sort()).toEqual([
      [3, 'sha256'],
      [7, 'size'],
    ]);
    const reqs = weightRequests(at);
    expect(reqs.map((r) => r.range).sort()).toEqual([`bytes=${3 * BLOCK}-${4 * BLOCK - 1}`, `bytes=${7 * BLOCK}-${8 * BLOCK - 1}`]);
    expect(warm.loaded.report.bytesFetched).toBe(2 * BLOCK);
    expect(await words(warm.loaded)).toEqual(coldWords);
    warm.loaded.group.destroy();

    const again = await load(cache); // repaired: warm again
    expect(again.loaded.report.cache).toBe('warm');
    again.loaded.group.destroy();
  });

  it('a warm streamed-int8 load takes the cached int8 weights: no quantize, no fp16 bytes, the same words', async () => {
    const { cache } = await tmpCache();
    const before = ctx.ledger.current;
    const quantizedCold: string[] = [];
    const cold = await load(cache, { int8: true, quantized: quantizedCold });
    expect(quantizedCold.length).toBeGreaterThan(0);
    const coldWords = await words(cold.loaded);
    cold.loaded.group.destroy();

    const quantizedWarm: string[] = [];
    const at = server.log.length;
    const warm = await load(cache, { int8: true, quantized: quantizedWarm });
    expect(quantizedWarm).toEqual([]);
    expect(warm.loaded.report.timings.quantizeMs).toBe(0);
    expect(weightRequests(at)).toEqual([]);
    expect(warm.loaded.report).toMatchObject({ cache: 'warm', bytesFetched: 0 });
    expect(await words(warm.loaded)).toEqual(coldWords);
    const fp16Bytes = [...map.tensors.values()].reduce((a, r) => a + r.end - r.start, 0);
    const ratio = warm.loaded.report.bytesFromCache / fp16Bytes;
    // this toy model's embeddings and lm_head (kept in fp16) are a large share; the linears read half
    const linear = [...map.tensors.values()].filter((r) => quantizedCold.includes(r.name)).reduce((a, r) => a + r.end - r.start, 0);
    expect(warm.loaded.report.bytesFromCache).toBeLessThan(fp16Bytes - linear / 2 + linear * 0.02);
    console.log(`warm int8 reads ${(ratio * 100).toFixed(1)}% of the fp16 bytes (linears: ${((linear / fp16Bytes) * 100).toFixed(0)}%)`);
    warm.loaded.group.destroy();
    expect(ctx.ledger.current).toBe(before);
  });

  it('a cached int8 weight that fails its check is quantized again from fp16', async () => {
    const corrupt: { url: string; block: number; reason: string }[] = [];
    const { cache, dir } = await tmpCache(corrupt);
    const cold = await load(cache, { int8: true });
    const coldWords = await words(cold.loaded);
    cold.loaded.group.destroy();
    // damage one cached int8 tensor (an entry whose url names '#int8/')
    const entries = readdirSync(join(dir, 'v1')).map((e) => join(dir, 'v1', e));
    const names = (d: string) => readdirSync(d).filter((f) => f.startsWith('manifest.'));
    const int8Dir = entries.find((d) => names(d).some((f) => readFileSync(join(d, f), 'utf8').includes('#int8/model.layers.0.mlp.up_proj.weight')))!;
    const b0 = readFileSync(join(int8Dir, 'b000000'));
    b0[5] ^= 0x55;
    writeFileSync(join(int8Dir, 'b000000'), b0);
    const quantized: string[] = [];
    const warm = await load(cache, { int8: true, quantized });
    expect(quantized).toEqual(['model.layers.0.mlp.up_proj.weight']);
    expect(corrupt.some((c) => c.url.endsWith('#int8/model.layers.0.mlp.up_proj.weight') && c.reason === 'sha256')).toBe(true);
    expect(await words(warm.loaded)).toEqual(coldWords);
    warm.loaded.group.destroy();
  });

  it('a full storage fails the load with a storage error that says what to do, and frees the GPU', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cache-full-'));
    const cache = await ByteCache.open(new NodeFsBackend(dir, 400_000), { blockBytes: BLOCK });
    const before = ctx.ledger.current;
    const err = await load(cache).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'storage' });
    expect((err as Error).message).toMatch(/Delete cached models/);
    expect(ctx.ledger.current).toBe(before);
  });
});
