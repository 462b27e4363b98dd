// The one per-device cache of kernel owners: an owner compiles its pipelines when constructed, so each is made once
// per device (and per variant, which the key names) and shared by every layer, model and load on that device. A lost
// device's context is a new GpuContext, whose owners are made anew; the old ones go with it (WeakMap).
import type { GpuContext } from '../gpu/device.ts';

const byDevice = new WeakMap<GpuContext, Map<string, unknown>>();

/** What `create` makes for `key` on `ctx`, made on the first call and the same object after. */
export function perDevice<T>(ctx: GpuContext, key: string, create: (ctx: GpuContext) => T): T {
  let cache = byDevice.get(ctx);
  if (!cache) byDevice.set(ctx, (cache = new Map()));
  if (!cache.has(key)) cache.set(key, create(ctx));
  return cache.get(key) as T;
}
