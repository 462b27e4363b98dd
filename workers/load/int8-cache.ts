// The streamed-int8 load with a cache: a quantized linear weight (plan.ts isQuantizedLinear, in the load's scope)
// kept by an earlier load (workers/load/int8-cache-store.ts) is uploaded as it was kept, before streaming, so its fp16
// bytes are never read and its quantize kernel never runs;
// one that is not kept yet is quantized as usual, then read back and kept for the next load. Kept copies are keyed by
// the source file's validator, so new weights on the server make them stale (int8-cache-store.ts says what else does).
import { storeInt8Weight, loadCachedInt8WeightsWeight } from './int8-cache-gpu.ts';
import { int8Layout, Int8Store } from './int8-cache-store.ts';
import type { CachedReader } from '../cache/reader.ts';
import type { Int8Scope } from '../api.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { HostLedger } from '../gpu/host-ledger.ts';
import type { HttpOptions } from '../net/http.ts';
import { isInt8Weight, type Int8Weight } from '../model/int8-linear.ts';
import type { CachedTensors, TensorTransform } from './loader.ts';
import { isQuantizedLinear } from './plan.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

type Loaded = GpuTensor | Int8Weight;

export interface CachedInt8Weights {
  /** For LoadWeightsOptions.cached: the cached weights of quantized linears. */
  tensors: CachedTensors<Loaded>;
  /** Wraps the quantize transform so that each weight it quantizes is stored in the cache. */
  storing(transform: TensorTransform<Loaded>): TensorTransform<Loaded>;
}

export function cachedInt8Weights(
  ctx: GpuContext,
  reader: CachedReader,
  opts: { http?: HttpOptions; host?: HostLedger; maxBindingBytes?: number; scope?: Int8Scope } = {},
): CachedInt8Weights {
  // The transform's rule (same scope): a cached lm_head is used only by a load that quantizes lm_head, and a load that
  // does not streams lm_head's fp16 bytes even where an earlier load kept an int8 copy.
  const scope = opts.scope ?? 'decoder';
  const stores = new Map<string, Promise<Int8Store | null>>();
  // One store per checkpoint file, at the file's current validator (null: the file is not cacheable).
  const storeFor = (url: string): Promise<Int8Store | null> => {
    let s = stores.get(url);
    if (!s) {
      s = reader.entryFor(url, opts.http).then((e) =>
        e ? new Int8Store(reader.cache, reader.model, { url, validator: e.manifest.validator }, reader.counters) : null,
      );
      stores.set(url, s);
    }
    return s;
  };
  return {
    tensors: {
      async load(r, group) {
        if (!isQuantizedLinear(r.name, r.shape, scope)) return null;
        const store = await storeFor(r.file);
        if (!store) return null;
        const w = await loadCachedInt8WeightsWeight(ctx, group, store, r.name, r.shape, opts.maxBindingBytes, opts.host);
        return w ? { tensor: w, bytes: int8Layout(r.shape).total } : null;
      },
    },
    storing: (transform) => {
      const store: TensorTransform<Loaded> = async (tensor, record, group) => {
        const out = await transform(tensor, record, group);
        if (isInt8Weight(out)) {
          const s = await storeFor(record.file);
          if (s) await storeInt8Weight(ctx, group, s, out, opts.host);
        }
        return out;
      };
      // the quantize transform's scratch hooks, unchanged
      return Object.assign(store, { begin: transform.begin?.bind(transform), target: transform.target?.bind(transform), end: transform.end?.bind(transform) });
    },
  };
}
