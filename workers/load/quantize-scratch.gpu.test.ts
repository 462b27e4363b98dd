// streamed-int8 lands every quantized linear in one reusable fp16 scratch: the same int8 words as quantizing each
// linear from buffers of its own, nothing created per tensor but its int8 weight and scales, the scratch shrinking to
// the largest linear still to come, and nothing of it left when a load ends, however it ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { LedgerBufferDescriptor } from '../gpu/ledger.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { allocateTensor, type GpuTensor } from '../gpu/tensor.ts';
import { isInt8Weight, type Int8Weight } from '../model/int8-linear.ts';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { loadWeights } from './loader.ts';
import { isQuantizedLinear } from './plan.ts';
import { int8WeightTransform } from './quantize.ts';
import { quantizeScratchBytes } from './quantize-scratch.ts';
import { readTensorMap, type TensorMap } from './safetensors.ts';

const ROOT = new URL('../../../shared/models/random/', import.meta.url).pathname;
const fast = { retries: 3, backoffMs: 25 };

let ctx: GpuContext;
let server: ServeDirHandle;

beforeAll(async () => {
  ctx = await nodeGpuContext();
  server = await serveDir(ROOT);
});
afterAll(async () => {
  await server?.close();
  ctx?.device.destroy();
});

async function tensorMap(model: string): Promise<TensorMap> {
  return readTensorMap([`${server.url}${model}/model.safetensors`], fast);
}

async function bytesOf(t: GpuTensor): Promise<number[]> {
  const out: number[] = [];
  for (const p of t.parts) out.push(...new Uint8Array(await readBuffer(ctx, p.buffer, 0, p.rows * t.rowWords * 4)));
  return out;
}

/** Every buffer the ledger creates while `f` runs. */
async function created<R>(f: () => Promise<R>): Promise<{ result: R; buffers: LedgerBufferDescriptor[] }> {
  const buffers: LedgerBufferDescriptor[] = [];
  const create = ctx.ledger.createBuffer.bind(ctx.ledger);
  ctx.ledger.createBuffer = (desc, group) => {
    buffers.push(desc);
    return create(desc, group);
  };
  try {
    return { result: await f(), buffers };
  } finally {
    ctx.ledger.createBuffer = create;
  }
}

describe('streamed-int8 through the quantize scratch', () => {
  // 4096 bytes a binding splits the linears by rows (and the scratch with them)
  it.each([
    ['cpu', undefined],
    ['gpu', undefined],
    ['cpu', 4096],
    ['gpu', 4096],
  ] as const)('convert on %s, binding %s: the per-tensor quantizer\'s words, no fp16 buffer per linear, uniforms once per shape', async (convertOn, maxBindingBytes) => {
    const map = await tensorMap('llama-gqa-bf16');
    const linears = [...map.tensors.values()].filter((r) => isQuantizedLinear(r.name, r.shape));
    const shapes = new Set(linears.map((r) => r.shape.join('x')));
    expect(shapes.size).toBeGreaterThan(1);
    const opts = { strategy: 'streamed-int8' as const, convertOn, http: fast, maxBindingBytes, stream: { chunkBytes: 10_007 } };

    // the reference: each linear in buffers of its own, quantized and released (the transform without its hooks)
    const own = int8WeightTransform(ctx, { maxBindingBytes });
    const ref = await loadWeights(ctx, map, { ...opts, transform: (t, r, g) => own(t, r, g) });
    const scratch = int8WeightTransform(ctx, { maxBindingBytes });
    ctx.ledger.resetPeak();
    const { result: loaded, buffers } = await created(() => loadWeights(ctx, map, { ...opts, transform: scratch }));
    try {
      for (const r of linears) {
        const a = ref.tensors.get(r.name) as Int8Weight;
        const b = loaded.tensors.get(r.name) as Int8Weight;
        expect(isInt8Weight(b), r.name).toBe(true);
        expect(await bytesOf(b.weight), r.name).toEqual(await bytesOf(a.weight));
        expect(new Uint8Array(await readBuffer(ctx, b.scales)), r.name).toEqual(new Uint8Array(await readBuffer(ctx, a.scales)));
      }
      // per linear, only its int8 parts and its scales were created; fp16 linears landed in the scratch
      for (const r of linears) {
        const mine = buffers.filter((d) => d.label === r.name || d.label.startsWith(`${r.name}[`) || d.label === `${r.name}.scales`);
        const w = loaded.tensors.get(r.name) as Int8Weight;
        expect(mine.map((d) => d.category).sort(), r.name).toEqual([...w.weight.parts.map(() => 'weights'), 'scales'].sort());
      }
      const scratchBuffers = buffers.filter((d) => d.label.startsWith('load.quantizeScratch.'));
      // made once (part 0 begins each allocation), and again only where it shrank (at most once per shape), never
      // once per linear
      const allocations = scratchBuffers.filter((d) => d.label === 'load.quantizeScratch.0').length;
      expect(allocations).toBeGreaterThanOrEqual(1);
      expect(allocations).toBeLessThanOrEqual(shapes.size);
      expect(allocations).toBeLessThan(linears.length);
      // the uniforms of each shape's dispatches made once for the load
      const uniforms = buffers.filter((d) => d.category === 'uniforms').map((d) => d.label);
      expect(uniforms.length).toBeGreaterThan(0);
      expect(new Set(uniforms).size).toBe(uniforms.length);
      expect(new Set(uniforms.map((l) => /scratch\.(\d+x\d+)\./.exec(l)?.[1])).size).toBe(shapes.size);
      // the scratch never exceeded the plan's staging, and nothing of it is left
      const plan = quantizeScratchBytes(linears, maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize);
      expect(Math.max(...scratchBuffers.map((d) => d.size))).toBeLessThanOrEqual(plan);
      expect(ctx.ledger.byCategory().staging).toBe(0);
      expect(ctx.ledger.byCategory().uniforms).toBe(0);
      expect(loaded.report.finalGpuBytes).toBe(ref.report.finalGpuBytes);
      // the peak: the final weights plus the scratch (and the conversion's staging ring on the GPU path)
      const ring = convertOn === 'gpu' ? 3 * (10_008 + 16) + 64 * 256 : 0;
      expect(loaded.report.peakGpuBytes).toBeLessThanOrEqual(loaded.report.finalGpuBytes + plan + ring);
    } finally {
      loaded.group.destroy();
      ref.group.destroy();
    }
    expect(ctx.ledger.current).toBe(0);
  });

  it('shrinks to the largest linear still to come and is gone after the last', async () => {
    const group = ctx.ledger.group('scratch-test');
    try {
      const q = int8WeightTransform(ctx);
      const rec = (name: string, shape: number[]) => ({ name, shape, dtype: 'F16' as const, file: 'f', start: 0, end: 0 });
      const big = rec('model.layers.0.mlp.up_proj.weight', [96, 64]);
      const small = [rec('model.layers.0.self_attn.q_proj.weight', [64, 64]), rec('model.layers.1.self_attn.q_proj.weight', [64, 64])];
      q.begin([big, ...small]);
      const staging = () => ctx.ledger.byCategory().staging;
      const land = async (r: ReturnType<typeof rec>) => {
        const view = q.target(r, group)!;
        expect(view.shape).toEqual(r.shape);
        const seen = staging();
        await q(view, r, group);
        return seen;
      };
      expect(await land(big)).toBe(96 * 64 * 2);
      expect(staging()).toBe(0); // let go (and freed) once the largest is done
      expect(await land(small[0])).toBe(64 * 64 * 2);
      expect(staging()).toBe(64 * 64 * 2); // the same scratch serves the next linear of that shape
      expect(await land(small[1])).toBe(64 * 64 * 2);
      expect(staging()).toBe(0);
      expect(ctx.ledger.byCategory().uniforms).toBe(0);
      // not a linear in scope: no scratch
      expect(q.target(rec('model.embed_tokens.weight', [100, 64]), group)).toBeNull();
      await q.end();
    } finally {
      group.destroy();
    }
    expect(ctx.ledger.current).toBe(0);
  });

  it('a load that fails midway leaves nothing of the scratch', async () => {
    const map = await tensorMap('llama-outliers-fp16');
    const q = int8WeightTransform(ctx);
    let quantized = 0;
    let scratchAtFailure = 0;
    const transform = Object.assign(
      async (...a: Parameters<typeof q>) => {
        const r = await q(...a);
        if (isInt8Weight(r) && ++quantized === 3) {
          scratchAtFailure = ctx.ledger.byCategory().staging;
          throw new Error('the third linear fails');
        }
        return r;
      },
      { begin: q.begin, target: q.target, end: q.end },
    );
    const e = await loadWeights(ctx, map, { strategy: 'streamed-int8', http: fast, transform }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).message).toMatch(/third linear fails/);
    expect((e as EngineError).details.tensor).toMatch(/_proj\.weight$/);
    expect(scratchAtFailure).toBeGreaterThan(0); // the scratch was there when the load failed
    expect(ctx.ledger.current).toBe(0);
    // and the transform serves a new load afterwards
    const loaded = await loadWeights(ctx, map, { strategy: 'streamed-int8', http: fast, transform: q });
    expect([...loaded.tensors.values()].filter(isInt8Weight).length).toBeGreaterThan(3);
    loaded.group.destroy();
    expect(ctx.ledger.current).toBe(0);
  });

  it('an int8 weight quantized from buffers of its own still works outside a load (and releases them)', async () => {
    const group = ctx.ledger.group('own');
    try {
      const src = allocateTensor(group, 'model.layers.0.mlp.up_proj.weight', [8, 8], 'f16x2', { maxBindingBytes: 1 << 20 });
      const q = await int8WeightTransform(ctx)(src, { name: src.name, shape: src.shape }, group);
      expect(isInt8Weight(q)).toBe(true);
      expect(ctx.ledger.byCategory().weights).toBe(8 * 8); // the fp16 source is gone
    } finally {
      group.destroy();
    }
  });
});
