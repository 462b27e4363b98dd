// The one-token products (matvec_f16.wgsl, matvec_int8.wgsl) with each input and epilogue of matvec_io.wgsl, in each
// kernel variant (one thread per pair as on CPU adapters; a workgroup per row group reducing with subgroups or in
// workgroup memory), against the CPU references of matvec-reference.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { roundToF16 } from '../gpu/half.ts';
import { quantizeRowsRef } from '../testing/int8-reference.ts';
import { allocateTensor, writeRows, type GpuTensor } from '../gpu/tensor.ts';
import { uniformData } from './dispatch.ts';
import { MatVecF16 } from './matvec.ts';
import { MatVecInt8 } from './matvec-int8.ts';
import type { MatVecEpilogue, MatVecOptions } from './matvec-io.ts';
import {
  geluTanhRef,
  gluRef,
  interleaveBlocks,
  nearQuantizationTie,
  productInt8Ref,
  productRef,
  rmsNormRef,
  ropeKvRef,
  siluRef,
} from '../testing/matvec-reference.ts';
import { ropeTable } from './rope.ts';
import { f16Tensor, rand, randF16, runPass, storage } from '../testing/kernel-harness.ts';

type Precision = 'fp16' | 'fp16-native' | 'int8' | 'int8-shifts';

interface Kernel {
  precision: Precision;
  f16?: MatVecF16;
  int8?: MatVecInt8;
}

const THRESHOLD = 6;

/** A weight [rows, k] on the GPU (fp16, or int8 quantized on the CPU) and the CPU reference of its product. */
function uploadWeight(ctx: GpuContext, group: BufferGroup, kernel: Kernel, values: Float32Array, rows: number, k: number, maxBindingBytes: number) {
  if (kernel.f16) {
    const t = f16Tensor(ctx, group, 'w', values, [rows, k], maxBindingBytes);
    return { tensor: t, scales: null, ref: (x: Float32Array) => productRef(values, rows, x) };
  }
  const q = quantizeRowsRef(values, rows, k);
  const t = allocateTensor(group, 'w', [rows, k], 'i8x4', { maxBindingBytes });
  const words = new Uint32Array(rows * t.rowWords);
  const bytes = new Int8Array(words.buffer);
  for (let r = 0; r < rows; r++) bytes.set(q.q.subarray(r * k, (r + 1) * k), r * t.rowWords * 4);
  writeRows(ctx.device.queue, t, 0, words);
  const scales = storage(ctx, group, 'scales', q.scales);
  return { tensor: t, scales, ref: (x: Float32Array) => productInt8Ref(q, rows, x, THRESHOLD) };
}

function bindAndRun(
  ctx: GpuContext,
  group: BufferGroup,
  kernel: Kernel,
  weight: { tensor: GpuTensor; scales: GPUBuffer | null },
  io: { x: GPUBuffer; norm: { weight: GpuTensor; eps: number; offset?: number } | null; bias: GpuTensor | null; epilogue: MatVecEpilogue },
  step: { pos: number; row: number },
) {
  const stepBuffer = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
  ctx.device.queue.writeBuffer(stepBuffer, 0, uniformData([['u32', 1], ['u32', step.pos], ['u32', step.pos + 1], ['u32', step.row]]));
  const full = { ...io, step: stepBuffer };
  runPass(ctx, (pass) => {
    if (kernel.f16) kernel.f16.encode(pass, kernel.f16.bind(weight.tensor, full, group));
    else kernel.int8!.encode(pass, kernel.int8!.bind(weight.tensor, weight.scales!, THRESHOLD, full, group));
  });
}

/** Activations for token row `row` of 3: values in [-2, 2), with large ones in columns 3 and 17 (int8 outliers). */
function activations(k: number, seed: number, row: number): { all: Float32Array; x: Float32Array } {
  const all = rand(3 * k, seed, 2);
  all[row * k + 3] = -6.5;
  all[row * k + 17] = 9.25;
  return { all, x: all.slice(row * k, (row + 1) * k) };
}

async function f32(ctx: GpuContext, b: GPUBuffer, offset = 0, size?: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(ctx, b, offset, size));
}

function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rel = 1e-4) {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= rel * (1 + scale))) expect.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]} (|Δ| ${err}, scale ${scale})`);
  }
}

// Every precision with the CPU adapters' variant; the others (each compiles its pipelines: CPU adapters are slow at
// that) with one fp16 and one int8 kernel each, between them every weight decoding and dot4.
const variants: { name: string; opts: MatVecOptions; precisions: Precision[] }[] = [
  { name: 'one thread per pair', opts: { lanes: 'thread', pairs: 1 }, precisions: ['fp16', 'fp16-native', 'int8', 'int8-shifts'] },
  { name: 'one thread per 3 pairs, 32 threads', opts: { lanes: 'thread', pairs: 3, workgroupSize: 32 }, precisions: ['fp16', 'int8'] },
  { name: 'a workgroup per 2 pairs, subgroupAdd', opts: { lanes: 'workgroup', pairs: 2, workgroupSize: 64, subgroups: true }, precisions: ['fp16', 'int8'] },
  {
    name: 'a workgroup per 8 pairs, tree in workgroup memory',
    opts: { lanes: 'workgroup', pairs: 8, workgroupSize: 32, subgroups: false },
    precisions: ['fp16-native', 'int8-shifts'],
  },
];

describe.each(variants)('one-token product, $name', ({ opts, precisions }) => {
  let ctx: GpuContext;
  let ctxShifts: GpuContext;
  const kernels = new Map<Precision, Kernel>();
  beforeAll(async () => {
    ctx = await nodeGpuContext();
    ctxShifts = await nodeGpuContext({ disableFeatures: ['dot4I8Packed'] });
  });
  afterAll(() => {
    ctx?.device.destroy();
    ctxShifts?.device.destroy();
  });

  /** The kernel of a precision (null: fp16-native where the device has no shader-f16). */
  function kernelFor(precision: Precision): { kernel: Kernel; ctx: GpuContext } | null {
    const c = precision === 'int8-shifts' ? ctxShifts : ctx;
    if (precision === 'fp16-native' && !c.features.shaderF16) {
      // lavapipe has shader-f16 and must run this variant; SwiftShader has not
      expect(process.env.EXPECT_ADAPTER).not.toBe('llvmpipe');
      return null;
    }
    let kernel = kernels.get(precision);
    if (!kernel) {
      kernel = precision.startsWith('fp16')
        ? { precision, f16: new MatVecF16(c, { ...opts, native: precision === 'fp16-native' }) }
        : { precision, int8: new MatVecInt8(c, { ...opts, dp4a: precision === 'int8' }) };
      if (kernel.f16) expect(kernel.f16.native).toBe(precision === 'fp16-native');
      if (kernel.int8) expect(kernel.int8.dp4a).toBe(precision === 'int8');
      kernels.set(precision, kernel);
    }
    return { kernel, ctx: c };
  }

  describe.each(precisions)('%s', (precision) => {
    it.each([
      { name: 'store, x row 1 of 3, bias, odd rows', rows: 37, k: 64, norm: null, bias: true, partRows: 0 },
      { name: 'store through RMSNorm, split in parts of 7 rows', rows: 45, k: 128, norm: 0, bias: false, partRows: 7 },
      { name: "store through RMSNorm with Gemma's (1 + w)", rows: 24, k: 96, norm: 1, bias: true, partRows: 0 },
    ])('$name', async ({ rows, k, norm, bias, partRows }) => {
      const run = kernelFor(precision);
      if (!run) return;
      const { kernel, ctx } = run;
      const group = ctx.ledger.group('test');
      try {
        const values = randF16(rows * k, rows * 7 + k, 0.5);
        const rowBytes = (kernel.f16 ? k / 2 : k / 4) * 4;
        const w = uploadWeight(ctx, group, kernel, values, rows, k, partRows ? partRows * rowBytes : 1 << 30);
        if (partRows) expect(w.tensor.parts.length).toBe(Math.ceil(rows / partRows));
        const { all, x } = activations(k, k + rows, 1);
        const g = randF16(k, 3, 0.5).map((v) => roundToF16(v + 1));
        const xn = norm === null ? x : rmsNormRef(x, g, 1e-5, norm);
        if (kernel.int8) expect(nearQuantizationTie(xn, THRESHOLD)).toBe(false);
        const b = bias ? randF16(rows, 5) : null;
        const y = storage(ctx, group, 'y', rows * 4);
        bindAndRun(
          ctx,
          group,
          kernel,
          w,
          {
            x: storage(ctx, group, 'x', all),
            norm: norm === null ? null : { weight: f16Tensor(ctx, group, 'g', g, [k]), eps: 1e-5, offset: norm },
            bias: b ? f16Tensor(ctx, group, 'b', b, [rows]) : null,
            epilogue: { kind: 'store', y },
          },
          { pos: 0, row: 1 },
        );
        const want = w.ref(xn).map((v, i) => v + (b ? b[i] : 0));
        expectNear(await f32(ctx, y), want, 'y', kernel.int8 ? 2e-5 : 1e-4);
      } finally {
        group.destroy();
      }
      expect(ctx.ledger.current).toBe(0);
    });

    it('residual: x += 0.5 · (W x + b), o_proj-like (no norm)', async () => {
      const run = kernelFor(precision);
      if (!run) return;
      const { kernel, ctx } = run;
      const group = ctx.ledger.group('test');
      try {
        const [rows, k] = [40, 64];
        const values = randF16(rows * k, 11, 0.5);
        const w = uploadWeight(ctx, group, kernel, values, rows, k, 1 << 30);
        const { all, x } = activations(k, 12, 0);
        if (kernel.int8) expect(nearQuantizationTie(x, THRESHOLD)).toBe(false);
        const resid = rand(rows, 13, 3);
        const residBuf = storage(ctx, group, 'resid', resid);
        const b = randF16(rows, 14);
        bindAndRun(
          ctx,
          group,
          kernel,
          w,
          { x: storage(ctx, group, 'x', all), norm: null, bias: f16Tensor(ctx, group, 'b', b, [rows]), epilogue: { kind: 'residual', x: residBuf, scale: 0.5 } },
          { pos: 0, row: 0 },
        );
        const want = w.ref(x).map((v, i) => resid[i] + 0.5 * (v + b[i]));
        expectNear(await f32(ctx, residBuf), want, 'x', kernel.int8 ? 2e-5 : 1e-4);
      } finally {
        group.destroy();
      }
    });

    it.each([
      { name: 'silu, blocks of 8, through RMSNorm, bias', block: 8, act: 'silu' as const, norm: true, bias: true },
      { name: 'gelu (tanh), blocks of 4', block: 4, act: 'gelu_tanh' as const, norm: false, bias: false },
    ])('glu: $name', async ({ block, act, norm, bias }) => {
      const run = kernelFor(precision);
      if (!run) return;
      const { kernel, ctx } = run;
      const group = ctx.ledger.group('test');
      try {
        const [hidden, k] = [24, 64];
        const values = interleaveBlocks(randF16(hidden * k, 21, 0.5), randF16(hidden * k, 22, 0.5), hidden, k, block);
        const w = uploadWeight(ctx, group, kernel, values, 2 * hidden, k, 1 << 30);
        const { all, x } = activations(k, 23, 2);
        const g = randF16(k, 24, 0.5).map((v) => roundToF16(v + 1));
        const xn = norm ? rmsNormRef(x, g, 1e-6) : x;
        if (kernel.int8) expect(nearQuantizationTie(xn, THRESHOLD)).toBe(false);
        const b = bias ? randF16(2 * hidden, 25) : null;
        const out = storage(ctx, group, 'out', hidden * 4);
        bindAndRun(
          ctx,
          group,
          kernel,
          w,
          {
            x: storage(ctx, group, 'x', all),
            norm: norm ? { weight: f16Tensor(ctx, group, 'g', g, [k]), eps: 1e-6 } : null,
            bias: b ? f16Tensor(ctx, group, 'b', b, [2 * hidden]) : null,
            epilogue: { kind: 'glu', out, block, activation: act },
          },
          { pos: 0, row: 2 },
        );
        const y = w.ref(xn).map((v, i) => v + (b ? b[i] : 0));
        const want = gluRef(y, block, act === 'silu' ? siluRef : geluTanhRef);
        expectNear(await f32(ctx, out), want, 'out', kernel.int8 ? 2e-5 : 1e-4);
      } finally {
        group.destroy();
      }
    });

    it.each([
      { name: 'full rotary, through RMSNorm, bias, split at 2 heads', ropeHalf: 8, bias: true, partHeads: 2, cacheRows: 8 },
      { name: 'partial rotary (6 of 16 dims), a sliding-window ring of 3 rows', ropeHalf: 3, bias: false, partHeads: 0, cacheRows: 3 },
      { name: 'no rotation (a NoPE layer)', ropeHalf: 0, bias: false, partHeads: 0, cacheRows: 8 },
    ])('rope_kv: $name', async ({ ropeHalf, bias, partHeads, cacheRows }) => {
      const run = kernelFor(precision);
      if (!run) return;
      const { kernel, ctx } = run;
      const group = ctx.ledger.group('test');
      try {
        const shape = { nHeads: 4, nKvHeads: 2, headDim: 16, ropeHalf, cacheRows };
        const [k, context, pos] = [64, 8, 5];
        const rows = (shape.nHeads + 2 * shape.nKvHeads) * shape.headDim;
        const kvDim = shape.nKvHeads * shape.headDim;
        const values = randF16(rows * k, 31, 0.5);
        const rowBytes = (kernel.f16 ? k / 2 : k / 4) * 4;
        const w = uploadWeight(ctx, group, kernel, values, rows, k, partHeads ? partHeads * shape.headDim * rowBytes : 1 << 30);
        if (partHeads) expect(w.tensor.parts.length).toBe(rows / (partHeads * shape.headDim));
        const { all, x } = activations(k, 32, 0);
        const g = randF16(k, 33, 0.5).map((v) => roundToF16(v + 1));
        const xn = rmsNormRef(x, g, 1e-5);
        if (kernel.int8) expect(nearQuantizationTie(xn, THRESHOLD)).toBe(false);
        const b = bias ? randF16(rows, 34) : null;
        const invFreq = Float32Array.from({ length: ropeHalf }, (_, i) => 1 / 10000 ** ((2 * i) / (2 * ropeHalf)));
        const table = ropeTable(invFreq, context);
        const sentinel = new Float32Array(3 * cacheRows * kvDim).fill(1234.5);
        const vOffset = 2 * cacheRows * kvDim * 4; // a gap between the two caches, as alignment may leave
        const at = pos % cacheRows; // the cache row of position pos
        const kv = storage(ctx, group, 'kv', sentinel);
        const q = storage(ctx, group, 'q', shape.nHeads * shape.headDim * 4);
        bindAndRun(
          ctx,
          group,
          kernel,
          w,
          {
            x: storage(ctx, group, 'x', all),
            norm: { weight: f16Tensor(ctx, group, 'g', g, [k]), eps: 1e-5 },
            bias: b ? f16Tensor(ctx, group, 'b', b, [rows]) : null,
            epilogue: { kind: 'rope_kv', q, kv: { buffer: kv, vOffset }, table: storage(ctx, group, 'table', table.length ? table : new Float32Array(4)), ...shape },
          },
          { pos, row: 0 },
        );
        const y = w.ref(xn).map((v, i) => v + (b ? b[i] : 0));
        const want = ropeKvRef(y, shape, table.subarray(pos * ropeHalf * 2, (pos + 1) * ropeHalf * 2));
        const rel = kernel.int8 ? 2e-5 : 1e-4;
        expectNear(await f32(ctx, q), want.q, 'q', rel);
        const cache = await f32(ctx, kv);
        expectNear(cache.subarray(at * kvDim, (at + 1) * kvDim), want.k, 'k cache', rel);
        expectNear(cache.subarray(vOffset / 4 + at * kvDim, vOffset / 4 + (at + 1) * kvDim), want.v, 'v cache', rel);
        // nothing else of the cache was written
        const untouched = cache.filter((_, i) => !(i >= at * kvDim && i < (at + 1) * kvDim) && !(i >= vOffset / 4 + at * kvDim && i < vOffset / 4 + (at + 1) * kvDim));
        expect(untouched.every((v) => v === 1234.5)).toBe(true);
      } finally {
        group.destroy();
      }
    });
  });

  it('int8: threshold 0 quantizes every column (no outliers), and the outliers change the result', async () => {
    const run = kernelFor('int8');
    if (!run) return;
    const { kernel, ctx } = run;
    const group = ctx.ledger.group('test');
    try {
      const [rows, k] = [16, 64];
      const values = randF16(rows * k, 41, 0.5);
      const q = quantizeRowsRef(values, rows, k);
      const w = uploadWeight(ctx, group, kernel, values, rows, k, 1 << 30);
      const { all, x } = activations(k, 42, 0);
      const xb = storage(ctx, group, 'x', all);
      const got: Float32Array[] = [];
      for (const threshold of [0, THRESHOLD]) {
        const y = storage(ctx, group, `y${threshold}`, rows * 4);
        const step = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
        ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', 1], ['u32', 0], ['u32', 1], ['u32', 0]]));
        const b = kernel.int8!.bind(w.tensor, w.scales!, threshold, { x: xb, norm: null, bias: null, epilogue: { kind: 'store', y }, step }, group);
        runPass(ctx, (pass) => kernel.int8!.encode(pass, b));
        got.push(await f32(ctx, y));
      }
      expect(nearQuantizationTie(x, 0)).toBe(false);
      expectNear(got[0], productInt8Ref(q, rows, x, 0), 'y (threshold 0)', 2e-5);
      expectNear(got[1], productInt8Ref(q, rows, x, THRESHOLD), 'y (threshold 6)', 2e-5);
      expect(Math.max(...got[0].map((v, i) => Math.abs(v - got[1][i])))).toBeGreaterThan(1e-3);
    } finally {
      group.destroy();
    }
  });
});
