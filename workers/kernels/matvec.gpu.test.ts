import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { packF16, roundToF16 } from '../gpu/half.ts';
import { allocateTensor, writeRows } from '../gpu/tensor.ts';
import { MatVecF16 } from './matvec.ts';
import { rand } from '../testing/kernel-harness.ts';

function cpuMatVec(w: Float32Array, x: Float32Array, rows: number, k: number): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let j = 0; j < k; j++) acc += roundToF16(w[r * k + j]) * x[j];
    y[r] = acc;
  }
  return y;
}

async function run(ctx: GpuContext, kernel: MatVecF16, rows: number, k: number, maxBindingBytes: number) {
  const group = ctx.ledger.group('test');
  try {
    const w = rand(rows * k, rows * 31 + k);
    const x = rand(k, 7);
    const t = allocateTensor(group, 'w', [rows, k], 'f16x2', { maxBindingBytes });
    const rowsPacked = new Uint32Array(rows * t.rowWords);
    for (let r = 0; r < rows; r++) rowsPacked.set(packF16(w.subarray(r * k, (r + 1) * k)), r * t.rowWords);
    writeRows(ctx.device.queue, t, 0, rowsPacked);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const xb = group.createBuffer({ label: 'x', size: k * 4, usage, category: 'activations' });
    const yb = group.createBuffer({ label: 'y', size: rows * 4, usage, category: 'activations' });
    ctx.device.queue.writeBuffer(xb, 0, x);
    const binding = kernel.bind(t, xb, yb, group);
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    kernel.encode(pass, binding);
    pass.end();
    ctx.device.queue.submit([enc.finish()]);
    const got = new Float32Array(await readBuffer(ctx, yb));
    return { got, want: cpuMatVec(w, x, rows, k), parts: t.parts.length };
  } finally {
    group.destroy();
  }
}

describe.each([
  { name: 'packed u32 + unpack2x16float', native: false, threadsPerRow: 64 as const },
  { name: 'packed u32, one thread per row', native: false, threadsPerRow: 1 as const },
  { name: 'packed u32, 8 threads per row', native: false, threadsPerRow: 8 as const },
  { name: 'native f16', native: true, threadsPerRow: 64 as const },
  { name: 'native f16, one thread per row', native: true, threadsPerRow: 1 as const },
])('matvec_f16 ($name)', ({ native, threadsPerRow }) => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext();
  });
  afterAll(() => {
    ctx?.device.destroy();
  });

  it.each([
    [1, 2],
    [37, 129],
    [256, 704],
    [1000, 64],
  ])('matches the CPU reference for %i × %i', async (rows, k) => {
    if (native && !ctx.features.shaderF16) {
      // The native variant exists only where the device has shader-f16 (lavapipe); SwiftShader must not have it.
      expect(process.env.EXPECT_ADAPTER).not.toBe('llvmpipe');
      return;
    }
    const kernel = new MatVecF16(ctx, { native, threadsPerRow });
    expect(kernel.native).toBe(native);
    const { got, want } = await run(ctx, kernel, rows, k, ctx.limits.maxStorageBufferBindingSize);
    for (let i = 0; i < rows; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
    expect(ctx.ledger.current).toBe(0);
  });

  it('splits a weight larger than one binding across buffers and still matches', async () => {
    if (native && !ctx.features.shaderF16) return;
    const kernel = new MatVecF16(ctx, { native, threadsPerRow });
    // 300 rows × 64 halves = 128 bytes per row; a 4 KiB binding holds 32 rows → 10 parts.
    const { got, want, parts } = await run(ctx, kernel, 300, 64, 4096);
    expect(parts).toBe(10);
    for (let i = 0; i < 300; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
  });
});
