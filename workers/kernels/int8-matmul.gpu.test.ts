// LLM.int8 run-time step 3 alone (Int8MatMul) against the CPU reference product, in both variants on every adapter:
// one thread per output row without barriers (CPU adapters' default) and 64 threads per row with a reduction (GPUs'),
// each with dot4I8Packed and with the shifts fallback. The inputs (int8 weight and x, scales, outlier list) come from
// the CPU reference, so only the product is under test; int8-linear.gpu.test.ts runs the whole layer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { int8ProductRef, int8TestActivations, outlierColumnsRef, quantizeRowsRef, quantizeTokensRef } from '../testing/int8-reference.ts';
import { allocateTensor, writeRows } from '../gpu/tensor.ts';
import { packF16 } from '../gpu/half.ts';
import { uniformData } from './dispatch.ts';
import { Int8MatMul } from './int8-matmul.ts';
import { randF16 } from '../testing/kernel-harness.ts';

/** int8 rows [rows, k] packed four per u32, rowWords u32 per row (zero padded). */
function packI8(q: Int8Array, rows: number, k: number): Uint32Array {
  const rowWords = Math.ceil(k / 4);
  const words = new Uint32Array(rows * rowWords);
  const bytes = new Int8Array(words.buffer);
  for (let r = 0; r < rows; r++) bytes.set(q.subarray(r * k, (r + 1) * k), r * rowWords * 4);
  return words;
}

interface Case {
  n: number;
  k: number;
  tokens: number;
  threshold: number;
  bias?: boolean;
  /** Bytes per int8 part (forces a split when small). */
  maxBindingBytes?: number;
}

const cases: [string, Case][] = [
  ['decode, outliers, rows not a multiple of 64', { n: 70, k: 64, tokens: 1, threshold: 6 }],
  ['decode, threshold 0, odd k', { n: 33, k: 75, tokens: 1, threshold: 0 }],
  ['decode, split weight, bias', { n: 45, k: 128, tokens: 1, threshold: 6, bias: true, maxBindingBytes: 1280 }],
  ['prefill of 7 (a partial block of 4), outliers, bias, odd k', { n: 33, k: 75, tokens: 7, threshold: 6, bias: true }],
  ['prefill of 9 over 130 rows (several row groups and token blocks)', { n: 130, k: 300, tokens: 9, threshold: 6 }],
  ['prefill of 5, split weight (int8 parts of 10 rows)', { n: 45, k: 128, tokens: 5, threshold: 6, maxBindingBytes: 1280 }],
];

describe.each([
  { variant: 'one thread per row, no barriers', threadsPerRow: 1 as const },
  { variant: '64 threads per row, reduction', threadsPerRow: 64 as const },
])('Int8MatMul ($variant)', ({ threadsPerRow }) => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => {
    ctx?.device.destroy();
  });

  it.each(cases.flatMap(([name, c]) => [true, false].map((dp4a) => [`${name}, ${dp4a ? 'dot4I8Packed' : 'shifts'}`, c, dp4a] as const)))(
    '%s matches the reference product',
    async (_name, c, dp4a) => {
      const group = ctx.ledger.group('test');
      try {
        const matmul = new Int8MatMul(ctx, { dp4a, threadsPerRow });
        expect(matmul.threadsPerRow).toBe(threadsPerRow);
        const { n, k, tokens } = c;
        const w = quantizeRowsRef(randF16(n * k, n * 31 + k, 0.5), n, k);
        const x = int8TestActivations(tokens, k, tokens * 7 + k);
        const cols = outlierColumnsRef(x, tokens, k, c.threshold);
        const xq = quantizeTokensRef(x, tokens, k, cols);
        const biasValues = c.bias ? randF16(n, 5, 1) : null;

        const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
        const upload = (label: string, data: ArrayBufferView) => {
          const bytes = new Uint8Array(data.byteLength);
          bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
          const b = group.createBuffer({ label, size: Math.max(16, bytes.byteLength), usage: storage, category: 'activations' });
          ctx.device.queue.writeBuffer(b, 0, bytes);
          return b;
        };
        const weight = allocateTensor(group, 'w', [n, k], 'i8x4', { maxBindingBytes: c.maxBindingBytes ?? 1 << 30, category: 'weights' });
        writeRows(ctx.device.queue, weight, 0, packI8(w.q, n, k));
        let bias = null;
        if (biasValues) {
          bias = allocateTensor(group, 'b', [n], 'f16x2', { maxBindingBytes: 1 << 30 });
          writeRows(ctx.device.queue, bias, 0, packF16(biasValues));
        }
        const inputs = {
          x: upload('x', x),
          xq: upload('xq', packI8(xq.q, tokens, k)),
          sx: upload('sx', xq.scales),
          outlierList: upload('list', new Uint32Array([cols.length, ...cols])),
        };
        const y = group.createBuffer({ label: 'y', size: tokens * n * 4, usage: storage, category: 'activations' });
        const step = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
        ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', tokens], ['u32', 0], ['u32', tokens], ['u32', 0]]));
        const binding = matmul.bind(weight, upload('scales', w.scales), bias, inputs, y, step, group);
        if (c.maxBindingBytes) expect(binding.parts.length).toBeGreaterThan(1);

        const enc = ctx.device.createCommandEncoder();
        const pass = enc.beginComputePass();
        matmul.encode(pass, binding, tokens);
        pass.end();
        ctx.device.queue.submit([enc.finish()]);
        const got = new Float32Array(await readBuffer(ctx, y));
        const want = int8ProductRef(x, tokens, k, xq, cols, w, n, biasValues);
        let scale = 0;
        let worst = 0;
        for (let i = 0; i < want.length; i++) {
          scale = Math.max(scale, Math.abs(want[i]));
          worst = Math.max(worst, Math.abs(got[i] - want[i]));
        }
        // f32 rescaling and the f32 sum over the outlier columns, against the exact product
        expect(worst).toBeLessThanOrEqual(2e-5 * scale);
      } finally {
        group.destroy();
      }
      expect(ctx.ledger.current).toBe(0);
    },
  );
});
