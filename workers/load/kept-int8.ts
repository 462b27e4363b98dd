// The streamed-int8 load with a cache: a quantized linear weight (plan.ts isQuantizedLinear, in the load's scope)
// kept by an earlier load (workers/load/kept-int8-store.ts) is uploaded as it was kept, before streaming, so its fp16
// bytes are never read and its quantize kernel never runs;
// one that is not kept yet is quantized as usual, then read back and kept for the next load. Kept copies are keyed by
// the source file's validator, so new weights on the server make them stale (kept-int8-store.ts says what else does).
import { keepInt8Weight, loadKeptInt8Weight } from './kept-int8-gpu.ts';
import { int8Layout, Int8Store } from './kept-int8-store.ts';
import type { CachedReader } from '../cache/reader.ts';
import type { Int8Scope } from '../api.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { HostLedger } from '../gpu/host-ledger.ts';
import type { HttpOptions } from '../net/http.ts';
import { isInt8Weight, type Int8Weight } from '../model/int8-linear.ts';
import type { KeptTensors, TensorTransform } from './loader.ts';
import { isQuantizedLinear } from './plan.ts';
import type { GpuTensor } from '../gpu/tensor.ts';

type Loaded = GpuTensor | Int8Weight;

export interface KeptInt8 {
  /** For LoadWeightsOptions.kept: the kept weights of quantized linears. */
  kept: KeptTensors<Loaded>;
  /** Wraps the quantize transform so each weight it quantizes is kept. */
  keeping(transform: TensorTransform<Loaded>): TensorTransform<Loaded>;
}

export function keptInt8Weights(
  ctx: GpuContext,
  reader: CachedReader,
  opts: { http?: HttpOptions; host?: HostLedger; maxBindingBytes?: number; scope?: Int8Scope } = {},
): KeptInt8 {
  // The transform's rule (same scope): a kept lm_head is used only by a load that quantizes lm_head, and a load that
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
    kept: {
      async load(r, group) {
        if (!isQuantizedLinear(r.name, r.shape, scope)) return null;
        const store = await storeFor(r.file);
        if (!store) return null;
        const w = await loadKeptInt8Weight(ctx, group, store, r.name, r.shape, opts.maxBindingBytes, opts.host);
        return w ? { tensor: w, bytes: int8Layout(r.shape).total } : null;
      },
    },
    keeping: (transform) => async (tensor, record, group) => {
      const out = await transform(tensor, record, group);
      if (isInt8Weight(out)) {
        const store = await storeFor(record.file);
        if (store) await keepInt8Weight(ctx, group, store, out, opts.host);
      }
      return out;
    },
  };
}
