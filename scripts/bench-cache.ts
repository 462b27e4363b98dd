// `bench load --cache <dir>`: each strategy loaded twice through a byte cache in <dir>/<strategy>: cold (the folder
// emptied first) and warm (the same folder). Reports time, the bytes received from the network (0 when warm) and read
// from the cache, and for streamed-int8 the warm bytes over the fp16 bytes (cached int8 weights: about half).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Int8Scope, LoadStrategy } from '../workers/api.ts';
import { NodeFsBackend } from '../workers/cache/fs.node.ts';
import { CachedReader } from '../workers/cache/reader.ts';
import { ByteCache } from '../workers/cache/store.ts';
import type { GpuContext } from '../workers/gpu/device.ts';
import { int8WeightTransform } from '../workers/load/quantize.ts';
import { cachedInt8Weights } from '../workers/load/int8-cache.ts';
import { loadWeights } from '../workers/load/loader.ts';
import type { TensorMap } from '../workers/load/safetensors.ts';

export async function benchCache(
  ctx: GpuContext,
  map: TensorMap,
  o: {
    model: string; baseUrl: string; strategies: LoadStrategy[]; dir: string; convertOn: 'gpu' | 'cpu'; json: boolean;
    /** streamed-int8's scope (plan.ts int8Scope; default 'decoder'). */
    scope?: Int8Scope;
  },
): Promise<void> {
  const fp16Bytes = [...map.tensors.values()].reduce((a, r) => a + r.end - r.start, 0);
  for (const strategy of o.strategies) {
    if (strategy !== 'streamed' && strategy !== 'streamed-int8') throw new Error(`--cache: only the streamed strategies use the cache, not '${strategy}'`);
    const path = join(o.dir, strategy);
    rmSync(path, { recursive: true, force: true });
    for (const run of ['cold', 'warm'] as const) {
      const cache = await ByteCache.open(new NodeFsBackend(path));
      const reader = new CachedReader(cache, o.baseUrl);
      const int8 = strategy === 'streamed-int8';
      const scope = o.scope ?? 'decoder';
      const cachedInt8 = int8 ? cachedInt8Weights(ctx, reader, { scope }) : null;
      const loaded = await loadWeights(ctx, map, {
        strategy,
        model: o.model,
        convertOn: o.convertOn,
        cache: { reader },
        cached: cachedInt8?.tensors,
        transform: cachedInt8 ? cachedInt8.storing(int8WeightTransform(ctx, { scope })) : undefined,
      });
      const r = loaded.report;
      loaded.group.destroy();
      await ctx.device.queue.onSubmittedWorkDone();
      const out = {
        model: o.model,
        strategy,
        ...(int8 ? { int8Scope: scope } : {}),
        run,
        cache: r.cache,
        totalMs: Math.round(r.timings.totalMs),
        networkMs: Math.round(r.timings.networkMs),
        cacheMs: Math.round(r.timings.cacheMs),
        quantizeMs: Math.round(r.timings.quantizeMs),
        networkBytes: r.bytesFetched,
        cacheBytes: r.bytesFromCache,
        networkRequests: reader.counters.networkRequests,
        fp16Bytes,
        /** Bytes this load read (network + cache) over the checkpoint's 16-bit weight bytes. */
        readRatio: (r.bytesFetched + r.bytesFromCache) / fp16Bytes,
        storedBytes: (await cache.list()).reduce((a, m) => a + m.bytes, 0),
        adapter: `${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.description}`.trim(),
        checks:
          run === 'warm'
            ? { zeroNetworkBytes: r.bytesFetched === 0, ...(int8 ? { readAtMost055OfFp16: r.bytesFromCache <= 0.55 * fp16Bytes, noQuantize: r.timings.quantizeMs === 0 } : {}) }
            : {},
      };
      console.log(o.json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
    }
  }
}
