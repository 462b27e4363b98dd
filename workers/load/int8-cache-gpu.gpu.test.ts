// A quantized weight kept after a cold load and uploaded on a warm one is the same bytes, split across parts too.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { packF16 } from '../gpu/half.ts';
import { quantizeWeight } from './quantize.ts';
import { allocateTensor, writeRows } from '../gpu/tensor.ts';
import { NodeFsBackend } from '../cache/fs.node.ts';
import { storeInt8Weight, loadCachedInt8WeightsWeight } from './int8-cache-gpu.ts';
import { Int8Store } from './int8-cache-store.ts';
import { ByteCache } from '../cache/store.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => {
  ctx?.ledger.destroyAll();
  ctx?.device.destroy();
});

describe('cached int8 weights', () => {
  it('round-trips i8x4 words and scales through the store', async () => {
    const [n, k] = [70, 132];
    const values = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
    const group = ctx.ledger.group('int8-store-test');
    const fp16 = allocateTensor(group, 'w', [n, k], 'f16x2', { maxBindingBytes: 1 << 30 });
    writeRows(ctx.device.queue, fp16, 0, packF16(values));
    const maxBindingBytes = 20 * (k / 4) * 4; // 20 rows per part: 4 parts
    const q = await quantizeWeight(ctx, group, fp16, { maxBindingBytes });
    const cache = await ByteCache.open(new NodeFsBackend(mkdtempSync(join(tmpdir(), 'int8-gpu-'))), { blockBytes: 1024 });
    const store = new Int8Store(cache, 'm', { url: 'http://x/model.safetensors', validator: { size: 1, etag: 'e', lastModified: null, sha256: null } });
    await storeInt8Weight(ctx, group, store, q);
    const warm = await loadCachedInt8WeightsWeight(ctx, group, store, 'w', [n, k], maxBindingBytes);
    expect(warm).not.toBeNull();
    expect(warm!.weight.parts.length).toBe(4);
    for (let p = 0; p < 4; p++) {
      const a = new Uint8Array(await readBuffer(ctx, q.weight.parts[p].buffer));
      const b = new Uint8Array(await readBuffer(ctx, warm!.weight.parts[p].buffer));
      expect(Buffer.compare(a, b)).toBe(0);
    }
    expect(new Float32Array(await readBuffer(ctx, warm!.scales))).toEqual(new Float32Array(await readBuffer(ctx, q.scales)));
    expect(ctx.ledger.live().filter((b) => b.category === 'staging')).toEqual([]);
    group.destroy();
  });
});
