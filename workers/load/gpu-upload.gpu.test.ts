import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { F16x2Converter } from './convert.ts';
import { GpuTensorWriter, GpuUploader } from './gpu-upload.ts';
import { LoadMeter } from './load-meter.ts';
import { QueueBackpressure } from './queue-backpressure.ts';
import type { TensorDtype } from '../gpu/dtypes.ts';
import type { TensorRecord } from './safetensors.ts';
import { allocateTensor, rowCount, type GpuTensor } from '../gpu/tensor.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.device.destroy());

function randomBytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

async function gpuWords(t: GpuTensor): Promise<Uint32Array> {
  const out = new Uint32Array(rowCount(t.shape) * t.rowWords);
  for (const p of t.parts) out.set(new Uint32Array(await readBuffer(ctx, p.buffer)), p.rowStart * t.rowWords);
  return out;
}

/** The words convert.ts makes of the same bytes (itself checked against half.ts element by element). */
function cpuWords(r: TensorRecord, bytes: Uint8Array, total: number): Uint32Array {
  const c = new F16x2Converter(r.name, r.dtype, r.shape);
  const out = new Uint32Array(total);
  const a = c.push(bytes);
  out.set(a.words, a.wordOffset);
  const b = c.finish();
  out.set(b.words, b.wordOffset);
  return out;
}

describe('GpuTensorWriter', () => {
  const cases: [TensorDtype, number[]][] = [
    ['BF16', [7, 5]], ['BF16', [6, 8]], ['F32', [5, 3]], ['F32', [4, 6]], ['F16', [6, 10]], ['F16', [5, 7]], ['BF16', [9]], ['F32', []],
  ];
  it.each(cases)('%s %j: pieces that split elements, words, rows, slots and parts give the CPU converter\'s words', async (dtype, shape) => {
    const eb = dtype === 'F32' ? 4 : 2;
    const elements = shape.reduce((a, b) => a * b, 1);
    const bytes = randomBytes(elements * eb, elements * 31 + eb);
    // Special values so every class goes through the split paths too.
    if (dtype === 'BF16') new Uint16Array(bytes.buffer).set([0x7f80, 0xff81, 0x0001, 0x8040, 0x477f, 0x3380].slice(0, elements));
    const record: TensorRecord = { name: `t.${dtype}.${shape.join('x')}`, file: '', dtype, shape, start: 0, end: bytes.length };
    const meter = new LoadMeter(ctx.ledger, 0, 0);
    const group = ctx.ledger.group('test.writer');
    try {
      for (const [slotBytes, seed] of [[16, 1], [12, 2], [64, 3], [1 << 16, 4]]) {
        const backpressure = new QueueBackpressure(ctx.device.queue, meter, { fenceBytes: 32, maxFences: 1 });
        const up = new GpuUploader(ctx, group, backpressure, { slotBytes, slots: 2 });
        const shape1 = shape.length === 0 ? [1] : shape;
        const rowBytes = Math.ceil(shape1.slice(1).reduce((a, b) => a * b, shape1.length > 1 ? 1 : shape1[0]) / 2) * 4;
        const t = allocateTensor(group, record.name, shape1, 'f16x2', { maxBindingBytes: 2 * rowBytes }); // parts of 2 rows
        const w = new GpuTensorWriter(record, up);
        let s = seed;
        for (let off = 0; off < bytes.length; ) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const n = Math.min(bytes.length - off, 1 + (s >>> 16) % 23);
          w.push(t, bytes.subarray(off, off + n));
          off += n;
          await backpressure.throttle();
        }
        w.finish();
        await backpressure.drain();
        up.release();
        const want = cpuWords(record, bytes, rowCount(shape1) * t.rowWords);
        expect(Array.from(await gpuWords(t)), `slot ${slotBytes}`).toEqual(Array.from(want));
        for (const p of t.parts) group.release(p.buffer);
      }
      const w = new GpuTensorWriter(record, new GpuUploader(ctx, group, new QueueBackpressure(ctx.device.queue, meter, { fenceBytes: 64, maxFences: 2 }), { slotBytes: 64 }));
      const t = allocateTensor(group, record.name, shape.length ? shape : [1], 'f16x2', { maxBindingBytes: 1 << 20 });
      w.push(t, bytes.subarray(0, bytes.length - 1));
      expect(() => w.finish()).toThrow(/elements arrived/);
      expect(() => w.push(t, new Uint8Array(eb + 1))).toThrow(/more bytes than its shape/);
    } finally {
      group.destroy();
      meter.stop();
    }
    expect(ctx.ledger.current).toBe(0);
  });
});
