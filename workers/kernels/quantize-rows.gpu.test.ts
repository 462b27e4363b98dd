import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { packF16 } from '../gpu/half.ts';
import { isInt8Weight } from '../model/int8-linear.ts';
import { int8WeightTransform, quantizeLinear } from '../load/quantize.ts';
import { quantizeRowsRef, roundHalfEven, unexplainedInt8Diffs, unpackI8Rows } from '../testing/int8-reference.ts';
import { allocateTensor, writeRows, type GpuTensor } from '../gpu/tensor.ts';
import { QuantizeRows } from './quantize-rows.ts';
import { randF16 } from '../testing/kernel-harness.ts';

function upload(ctx: GpuContext, group: BufferGroup, w: Float32Array, rows: number, k: number, maxBindingBytes: number, name = 'w.fp16'): GpuTensor {
  const t = allocateTensor(group, name, [rows, k], 'f16x2', { maxBindingBytes });
  const packed = new Uint32Array(rows * t.rowWords);
  for (let r = 0; r < rows; r++) packed.set(packF16(w.subarray(r * k, (r + 1) * k)), r * t.rowWords);
  writeRows(ctx.device.queue, t, 0, packed);
  return t;
}

async function readTensor(ctx: GpuContext, t: GpuTensor): Promise<Uint32Array> {
  const out = new Uint32Array(t.shape[0] * t.rowWords);
  for (const p of t.parts) out.set(new Uint32Array(await readBuffer(ctx, p.buffer)), p.rowStart * t.rowWords);
  return out;
}

describe('quantize_rows (fp16 → int8 rows + absmax/127 scales)', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => {
    ctx?.device.destroy();
  });

  it('rounds half to even like torch.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, -2, 2, 3].map((v, i) => (i === 3 ? -0 : v)));
  });

  it.each([1, 64] as const)('%i thread(s) per row: the same words and scales as the reference, split parts included', async (threadsPerRow) => {
    const kernel = new QuantizeRows(ctx, { threadsPerRow });
    const group = ctx.ledger.group('test');
    try {
      const [rows, k] = [23, 130];
      const w = randF16(rows * k, 99, 3);
      const src = upload(ctx, group, w, rows, k, 1040); // 4 fp16 rows per part
      const dst = allocateTensor(group, 'w.int8', [rows, k], 'i8x4', { maxBindingBytes: 660 }); // 5 int8 rows per part
      const scales = group.createBuffer({ label: 'scales', size: rows * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, category: 'scales' });
      const binding = kernel.bind(src, dst, scales, group);
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      kernel.encode(pass, binding);
      pass.end();
      ctx.device.queue.submit([enc.finish()]);
      const got = unpackI8Rows(await readTensor(ctx, dst), rows, k, dst.rowWords);
      const gotScales = new Float32Array(await readBuffer(ctx, scales));
      expect(unexplainedInt8Diffs(got, quantizeRowsRef(w, rows, k), w, k, gotScales)).toEqual([]);
    } finally {
      group.destroy();
    }
  });

  it.each([
    // rows, k, source binding bytes, int8 binding bytes
    [1, 2, 1 << 30, 1 << 30],
    [5, 37, 1 << 30, 1 << 30],
    [64, 130, 1 << 30, 1 << 30],
    // split: fp16 rows of 260 B in 1040 B parts (4 rows), int8 rows of 132 B in 660 B parts (5 rows): pairs overlap
    [23, 130, 1040, 660],
  ])('%i × %i (parts of ≤ %i B → ≤ %i B) gives the reference int8 values and scales', async (rows, k, srcBytes, dstBytes) => {
    const group = ctx.ledger.group('test');
    try {
      const w = randF16(rows * k, rows * 7 + k, 3);
      // an all-zero row, and a row with exact ties: absmax 127 → scale 1, so x.5 values land halfway
      if (rows >= 5) {
        w.fill(0, 2 * k, 3 * k);
        for (let c = 0; c < k; c++) w[3 * k + c] = [127, -2.5, 3.5, -0.5, 1.5, 126.5][c % 6];
      }
      const src = upload(ctx, group, w, rows, k, srcBytes);
      const layer = await quantizeLinear(ctx, group, src, null, { maxBindingBytes: dstBytes });
      if (srcBytes < 1 << 30) expect(layer.weight.parts.length).toBeGreaterThan(1);
      const want = quantizeRowsRef(w, rows, k);
      const got = unpackI8Rows(await readTensor(ctx, layer.weight), rows, k, layer.weight.rowWords);
      const gotScales = new Float32Array(await readBuffer(ctx, layer.scales));
      expect(unexplainedInt8Diffs(got, want, w, k, gotScales)).toEqual([]);
      if (rows >= 5) expect(Array.from(got.subarray(3 * k, 3 * k + 6))).toEqual([127, -2, 4, 0, 2, 126]);
      // padding bytes of each int8 row are zero
      const words = await readTensor(ctx, layer.weight);
      const bytes = new Uint8Array(words.buffer);
      for (let r = 0; r < rows; r++) for (let b = k; b < layer.weight.rowWords * 4; b++) expect(bytes[r * layer.weight.rowWords * 4 + b]).toBe(0);
    } finally {
      group.destroy();
    }
    expect(ctx.ledger.current).toBe(0);
  });

  it('int8 weights + scales take ≤ 0.53 × the fp16 bytes, and the fp16 source can go right after', async () => {
    const group = ctx.ledger.group('test');
    try {
      const [rows, k] = [96, 128];
      const src = upload(ctx, group, randF16(rows * k, 5), rows, k, 1 << 30);
      const fp16Bytes = src.parts.reduce((n, p) => n + p.buffer.size, 0);
      const layer = await quantizeLinear(ctx, group, src, null, { threshold: 6 });
      for (const p of src.parts) group.release(p.buffer);
      expect(layer.weightBytes).toBeLessThanOrEqual(0.53 * fp16Bytes);
      expect(ctx.ledger.byCategory().weights).toBe(rows * k);
      expect(ctx.ledger.byCategory().scales).toBe(rows * 4);
      expect(ctx.ledger.byCategory().uniforms).toBe(0);
    } finally {
      group.destroy();
    }
  });

  it('as the loader transform: linears become int8 one at a time, the peak stays ≤ int8 + scales + largest fp16', async () => {
    const group = ctx.ledger.group('weights');
    try {
      const transform = int8WeightTransform(ctx, { maxBindingBytes: 2048 });
      const shapes: [string, number, number][] = [
        ['model.layers.0.self_attn.q_proj.weight', 64, 64],
        ['model.layers.0.mlp.up_proj.weight', 176, 64],
        ['model.layers.0.mlp.down_proj.weight', 64, 176],
        ['model.embed_tokens.weight', 100, 64],
      ];
      ctx.ledger.resetPeak();
      const base = ctx.ledger.current;
      let largestFp16 = 0;
      const out = [];
      for (const [name, rows, k] of shapes) {
        const t = upload(ctx, group, randF16(rows * k, rows + k), rows, k, 2048, name);
        const fp16Bytes = t.parts.reduce((n, p) => n + p.buffer.size, 0);
        const r = await transform(t, { name, shape: [rows, k] }, group);
        if (name.includes('_proj')) largestFp16 = Math.max(largestFp16, fp16Bytes);
        out.push(r);
      }
      expect(out.map(isInt8Weight)).toEqual([true, true, true, false]);
      const cats = ctx.ledger.byCategory();
      const embedBytes = 100 * 32 * 4;
      expect(cats.weights).toBe((64 * 64 + 176 * 64 + 64 * 176) + embedBytes);
      expect(cats.scales).toBe((64 + 176 + 64) * 4);
      // what stays (int8 + scales of the linears, the fp16 embedding) plus one fp16 linear in flight
      const int8Bytes = cats.weights - embedBytes;
      expect(ctx.ledger.peak - base).toBeLessThanOrEqual(int8Bytes + cats.scales + embedBytes + largestFp16);
      const q = out[2];
      if (!isInt8Weight(q)) throw new Error('down_proj was not quantized');
      expect(q.weight.parts.length).toBeGreaterThan(1); // 176 B rows in 2 KiB parts
      const words = await readTensor(ctx, q.weight);
      const want = quantizeRowsRef(randF16(64 * 176, 64 + 176), 64, 176);
      expect(unexplainedInt8Diffs(unpackI8Rows(words, 64, 176, q.weight.rowWords), want, randF16(64 * 176, 64 + 176), 176)).toEqual([]);
    } finally {
      group.destroy();
    }
  });
});
