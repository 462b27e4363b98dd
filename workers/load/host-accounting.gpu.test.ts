// The loader's host-bytes accounting (host-ledger.ts) on kjv-llama, by strategy: naive holds the whole checkpoint
// (and an f32 copy of a tensor), fp16 one whole file, streamed a few chunks; every hold is released when the load
// ends, after a failure too. The streamed load runs first: the converter's shared working buffers grow to the largest
// push of the process (a whole tensor in naive and fp16) and are counted while in use.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { NodeFsBackend } from '../cache/fs.node.ts';
import { CachedReader } from '../cache/reader.ts';
import { ByteCache } from '../cache/store.ts';
import type { LoadStrategy } from '../api.ts';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { HostLedger } from '../gpu/host-ledger.ts';
import type { Int8Weight } from '../model/int8-linear.ts';
import { int8WeightTransform } from './quantize.ts';
import { cachedInt8Weights } from './int8-cache.ts';
import { loadWeights, type LoadWeightsOptions } from './loader.ts';
import { readTensorMap, type TensorMap } from './safetensors.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

const ROOT = new URL('../../../shared/models/', import.meta.url).pathname;
const FILE = join(ROOT, 'kjv-llama/model.safetensors');
const CHUNK = 1 << 20;
/** Beyond the chunks: the bf16 → fp16 table (128 KiB) and network chunks in flight. */
const SMALL = 256 * 1024;
// a short backoff, but long enough that a loaded 2-core CI machine gets past a transient socket error
const fast = { retries: 3, backoffMs: 25 };

let ctx: GpuContext;
let server: ServeDirHandle;
let map: TensorMap;
let fileSize: number;
let largestTensor: number;

beforeAll(async () => {
  ctx = await nodeGpuContext();
  server = await serveDir(ROOT);
  map = await readTensorMap([`${server.url}kjv-llama/model.safetensors`], fast);
  fileSize = statSync(FILE).size;
  largestTensor = Math.max(...[...map.tensors.values()].map((r) => r.end - r.start));
});
afterAll(async () => {
  await server?.close();
  ctx?.device.destroy();
});

async function load(strategy: LoadStrategy, extra: Partial<LoadWeightsOptions<GpuTensor | Int8Weight>> = {}) {
  const host = extra.host ?? new HostLedger();
  const ledgerBefore = ctx.ledger.current;
  const loaded = await loadWeights<GpuTensor | Int8Weight>(ctx, map, { strategy, model: 'kjv-llama', http: fast, stream: { chunkBytes: CHUNK }, ...extra, host });
  loaded.group.destroy();
  expect(ctx.ledger.current).toBe(ledgerBefore);
  const r = loaded.report;
  // Node: peakHostBytes is rss growth; the accounted peak sits beside it.
  expect(r.hostMemorySource).toBe('rss');
  expect(r.peakHostBuffersBytes).toBe(host.peak);
  console.log(`${strategy}${extra.convertOn ? ` (convert on ${extra.convertOn})` : ''}: accounted peak ${host.peak} B, rss growth ${r.peakHostBytes} B`);
  return { host, report: r };
}

describe('host bytes the loader holds (kjv-llama)', () => {
  it('streamed: a few chunks, never the file, back to 0 (CPU and GPU conversion)', async () => {
    for (const convertOn of ['cpu', 'gpu'] as const) {
      const { host } = await load('streamed', { convertOn });
      expect(host.peak).toBeGreaterThanOrEqual(CHUNK); // the gather chunk at least
      expect(host.peak).toBeLessThanOrEqual(3 * CHUNK + SMALL);
      expect(host.current).toBe(0);
    }
  });

  it('fp16: the whole file (and a tensor being converted), back to 0', async () => {
    const { host } = await load('fp16');
    expect(host.peak).toBeGreaterThanOrEqual(fileSize);
    expect(host.peak).toBeLessThanOrEqual(fileSize + 3 * largestTensor + SMALL);
    expect(host.current).toBe(0);
  });

  it('naive: the whole checkpoint and an f32 copy of a tensor, back to 0', async () => {
    const { host } = await load('naive');
    // The largest tensor's f32 copy (its bytes copied, then widened: 3× its bf16 size) beside the file.
    expect(host.peak).toBeGreaterThanOrEqual(fileSize + 3 * largestTensor);
    expect(host.current).toBe(0);
  });

  it('streamed-int8 through the cache, cold (read-backs kept) then warm (cached weights read): bounded, back to 0', async () => {
    const cache = await ByteCache.open(new NodeFsBackend(mkdtempSync(join(tmpdir(), 'host-acct-'))), { blockBytes: 256 * 1024 });
    for (const pass of ['cold', 'warm']) {
      const host = new HostLedger();
      const reader = new CachedReader(cache, `${server.url}kjv-llama/`);
      const cachedInt8 = cachedInt8Weights(ctx, reader, { http: fast, host });
      const { report } = await load('streamed-int8', { host, cache: { reader }, cached: cachedInt8.tensors, transform: cachedInt8.storing(int8WeightTransform(ctx)) });
      expect(report.cache, pass).toBe(pass === 'cold' ? 'cold' : 'warm');
      expect(host.peak, pass).toBeGreaterThan(0);
      expect(host.peak, pass).toBeLessThan(fileSize / 2);
      expect(host.current, pass).toBe(0);
    }
  });

  it('releases every hold when a load fails midway', async () => {
    for (const strategy of ['naive', 'fp16', 'streamed'] as const) {
      const host = new HostLedger();
      let n = 0;
      const err = await loadWeights(ctx, map, {
        strategy,
        http: fast,
        stream: { chunkBytes: CHUNK },
        host,
        transform: async (t) => {
          if (++n === 3) throw new Error('the third tensor fails');
          return t;
        },
      }).then(() => null, (e: unknown) => e);
      expect(err, strategy).toMatchObject({ message: expect.stringContaining('the third tensor fails') });
      expect(host.peak, strategy).toBeGreaterThan(0);
      expect(host.current, strategy).toBe(0);
    }
  });
});
