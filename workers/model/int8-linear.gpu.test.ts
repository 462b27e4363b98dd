// The whole LLM.int8 linear layer (quantize at load; at run time, one token: one dispatch that finds the outliers,
// quantizes x and takes both products; several: outliers + per-token quantization + int8 product) against the CPU
// reference, with dot4I8Packed and with the fallback kernel; and layers bound to one x sharing one input stage against
// the same layers each with its own copy of x, bit for bit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { uniformData } from '../kernels/dispatch.ts';
import { packF16 } from '../gpu/half.ts';
import {
  int8LinearRef,
  int8ProductRef,
  int8TestActivations,
  outlierColumnsRef,
  quantizeRowsRef,
  quantizeTokensRef,
  unexplainedInt8Diffs,
  unpackI8Rows,
} from '../testing/int8-reference.ts';
import { Fp16Kernels, Fp16Linear } from './fp16-linear.ts';
import { Int8Kernels, type Int8Binding } from './int8-linear.ts';
import { quantizeLinear } from '../load/quantize.ts';
import type { LinearLayer } from './linear.ts';
import { nearQuantizationTie } from '../testing/matvec-reference.ts';
import { allocateTensor, writeRows } from '../gpu/tensor.ts';
import { f16Tensor, randF16, runPass, storage } from '../testing/kernel-harness.ts';

interface Case {
  n: number;
  k: number;
  tokens: number;
  maxTokens: number;
  threshold: number;
  bias?: boolean;
  /** Bytes per int8 part (forces a split when small). */
  maxBindingBytes?: number;
  /** Forwards with these token counts run first on the same binding (e.g. a prefill before a decode step). */
  before?: number[];
}

async function run(ctx: GpuContext, dp4a: boolean, c: Case) {
  const group = ctx.ledger.group('test');
  try {
    const w = randF16(c.n * c.k, c.n * 17 + c.k, 0.5);
    const src = allocateTensor(group, 'w', [c.n, c.k], 'f16x2', { maxBindingBytes: 1 << 30 });
    const packed = new Uint32Array(c.n * src.rowWords);
    for (let r = 0; r < c.n; r++) packed.set(packF16(w.subarray(r * c.k, (r + 1) * c.k)), r * src.rowWords);
    writeRows(ctx.device.queue, src, 0, packed);
    const biasValues = c.bias ? randF16(c.n, 99, 1) : null;
    let bias = null;
    if (biasValues) {
      bias = allocateTensor(group, 'b', [c.n], 'f16x2', { maxBindingBytes: 1 << 30 });
      writeRows(ctx.device.queue, bias, 0, packF16(biasValues));
    }
    const layer = await quantizeLinear(ctx, group, src, bias, { threshold: c.threshold, maxBindingBytes: c.maxBindingBytes, dp4a });
    for (const p of src.parts) group.release(p.buffer);

    const x = int8TestActivations(c.maxTokens, c.k, c.tokens * 5 + c.k);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const xb = group.createBuffer({ label: 'x', size: x.byteLength, usage, category: 'activations' });
    const yb = group.createBuffer({ label: 'y', size: c.maxTokens * c.n * 4, usage, category: 'activations' });
    const step = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
    ctx.device.queue.writeBuffer(xb, 0, x);
    const binding = layer.bind({ x: xb, norm: null, epilogue: { kind: 'store', y: yb }, step }, c.maxTokens, group);
    for (const tokens of [...(c.before ?? []), c.tokens]) {
      ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', tokens], ['u32', 0], ['u32', tokens], ['u32', 0]]));
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      layer.encode(pass, binding, tokens);
      pass.end();
      ctx.device.queue.submit([enc.finish()]);
    }
    const got = new Float32Array(await readBuffer(ctx, yb, 0, c.tokens * c.n * 4));
    const want = int8LinearRef(x, c.tokens, c.k, quantizeRowsRef(w, c.n, c.k), c.n, biasValues, c.threshold);

    // The intermediate int8 values, checked against the reference up to the adapter's f32 division (see
    // unexplainedInt8Diffs); the product is then checked tightly against the reference product of exactly these.
    const gpuW = { q: new Int8Array(c.n * c.k), scales: new Float32Array(await readBuffer(ctx, layer.scales)) };
    for (const p of layer.weight.parts) {
      const words = new Uint32Array(await readBuffer(ctx, p.buffer));
      gpuW.q.set(unpackI8Rows(words, p.rows, c.k, layer.weight.rowWords), p.rowStart * c.k);
    }
    expect(unexplainedInt8Diffs(gpuW.q, quantizeRowsRef(w, c.n, c.k), w, c.k, gpuW.scales)).toEqual([]);
    const cols = outlierColumnsRef(x, c.tokens, c.k, c.threshold);
    let gpuX = quantizeTokensRef(x, c.tokens, c.k, cols);
    if (c.tokens > 1) {
      // several tokens: the quantized x the product read is in the input stage's buffers
      const { xq, sx } = (binding as Int8Binding).prefill!.input.inputs;
      const words = new Uint32Array(await readBuffer(ctx, xq, 0, c.tokens * Math.ceil(c.k / 4) * 4));
      gpuX = { q: unpackI8Rows(words, c.tokens, c.k, Math.ceil(c.k / 4)), scales: new Float32Array(await readBuffer(ctx, sx, 0, c.tokens * 4)) };
      const inliers = x.slice(0, c.tokens * c.k).map((v, i) => (cols.includes(i % c.k) ? 0 : v));
      expect(unexplainedInt8Diffs(gpuX.q, quantizeTokensRef(x, c.tokens, c.k, cols), inliers, c.k, gpuX.scales)).toEqual([]);
    } else {
      // one token: x is quantized inside the product; the data has no value near a rounding tie, so the reference's
      // quantization is the kernel's
      expect(nearQuantizationTie(x.subarray(0, c.k), c.threshold)).toBe(false);
    }
    const wantProduct = int8ProductRef(x, c.tokens, c.k, gpuX, cols, gpuW, c.n, biasValues);
    return { got, want, wantProduct, layer, x, w };
  } finally {
    group.destroy();
  }
}

/** y within `rel` (default 2e-5: f32 rescaling and float sums) of the largest |y|, element by element. */
function expectClose(got: Float32Array, want: Float64Array, rel = 2e-5) {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThanOrEqual(rel * scale);
}

/** Counts what a pass records, forwarding to the real pass. */
function countingPass(pass: GPUComputePassEncoder): { pass: GPUComputePassEncoder; dispatches: () => number } {
  let n = 0;
  const counted = {
    setPipeline: (p: GPUComputePipeline) => pass.setPipeline(p),
    setBindGroup: (i: number, g: GPUBindGroup) => pass.setBindGroup(i, g),
    dispatchWorkgroups: (x: number, y?: number, z?: number) => {
      n++;
      pass.dispatchWorkgroups(x, y, z);
    },
  };
  return { pass: counted as unknown as GPUComputePassEncoder, dispatches: () => n };
}

/**
 * Layers bound to one x (sharing its input stage for several tokens) against the same layers each bound to its own
 * copy of x: every y must be bit-identical, forward after forward, with a new x each time (other outlier columns,
 * several tokens and one), so a stage recorded for the wrong tokens or left over from an earlier x would show.
 */
async function sharedVsAlone(ctx: GpuContext, dp4a: boolean) {
  const group = ctx.ledger.group('test');
  try {
    const k = 64;
    const maxTokens = 5;
    const specs = [
      { name: 'q', n: 40, threshold: 6, bias: true },
      { name: 'k', n: 24, threshold: 6, bias: false },
      { name: 'v', n: 24, threshold: 6, bias: true },
      { name: 'no-outliers', n: 16, threshold: 0, bias: false },
    ];
    const layers: LinearLayer[] = [];
    for (const [i, sp] of specs.entries()) {
      const src = f16Tensor(ctx, group, sp.name, randF16(sp.n * k, 31 + i, 0.5), [sp.n, k]);
      const bias = sp.bias ? f16Tensor(ctx, group, `${sp.name}.bias`, randF16(sp.n, 77 + i), [sp.n]) : null;
      layers.push(await quantizeLinear(ctx, group, src, bias, { threshold: sp.threshold, dp4a }));
      for (const p of src.parts) group.release(p.buffer);
    }
    // an fp16 layer in the same group: no input stage
    const fp16W = f16Tensor(ctx, group, 'fp16', randF16(12 * k, 5, 0.5), [12, k]);
    layers.push(new Fp16Linear(ctx, Fp16Kernels.for(ctx), 'fp16', fp16W, null));

    const step = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
    const bindTo = (x: GPUBuffer, l: LinearLayer, label: string) => {
      const y = storage(ctx, group, `y.${label}.${l.name}`, maxTokens * l.outFeatures * 4);
      return { layer: l, x, y, binding: l.bind({ x, norm: null, epilogue: { kind: 'store', y }, step }, maxTokens, group) };
    };
    const xShared = storage(ctx, group, 'x.shared', maxTokens * k * 4);
    const shared = layers.map((l) => bindTo(xShared, l, 'shared'));
    const alone = layers.map((l) => bindTo(storage(ctx, group, `x.${l.name}`, maxTokens * k * 4), l, 'alone'));

    // one stage (buffers) for the three threshold-6 layers on the shared x, one for threshold 0; alone, each its own
    const stage = (b: { binding: unknown }) => (b.binding as Int8Binding).prefill?.input;
    const [q, kk, v, off] = shared.map(stage);
    expect(kk).toBe(q);
    expect(v).toBe(q);
    expect(off).not.toBe(q);
    expect(new Set(alone.slice(0, 4).map(stage)).size).toBe(4);

    const forwards = [5, 1, 3, 1, 1];
    const dispatches: number[] = [];
    for (const [f, tokens] of forwards.entries()) {
      const x = int8TestActivations(maxTokens, k, 1000 + f);
      x[(5 + 11 * f) % k] = 7.5 - f; // another outlier column in token 0 each forward
      for (const b of [xShared, ...alone.map((a) => a.x)]) ctx.device.queue.writeBuffer(b, 0, x);
      ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', tokens], ['u32', 0], ['u32', tokens], ['u32', 0]]));
      runPass(ctx, (pass) => {
        const counting = countingPass(pass);
        for (const a of shared) a.layer.encode(counting.pass, a.binding, tokens);
        dispatches.push(counting.dispatches());
        for (const a of alone) a.layer.encode(pass, a.binding, tokens);
      });
      for (const [i, a] of alone.entries()) {
        const bytes = tokens * a.layer.outFeatures * 4;
        const got = new Uint32Array(await readBuffer(ctx, shared[i].y, 0, bytes));
        const want = new Uint32Array(await readBuffer(ctx, a.y, 0, bytes));
        expect(got, `forward ${f} (${tokens} tokens), layer ${a.layer.name}`).toEqual(want);
      }
    }
    return { dispatches, forwards, int8: specs.length };
  } finally {
    group.destroy();
  }
}

const cases: [string, Case][] = [
  ['decode, outliers', { n: 40, k: 64, tokens: 1, maxTokens: 4, threshold: 6 }],
  ['decode, threshold 0', { n: 40, k: 64, tokens: 1, maxTokens: 1, threshold: 0 }],
  ['prefill of 7 (a partial block of 4), outliers, bias, k 76 (int8 rows padded to whole vec4)', { n: 33, k: 76, tokens: 7, maxTokens: 8, threshold: 6, bias: true }],
  ['prefill of 6, threshold 0', { n: 33, k: 300, tokens: 6, maxTokens: 6, threshold: 0 }],
  ['prefill of 5, split weight (int8 parts of 10 rows)', { n: 45, k: 128, tokens: 5, maxTokens: 5, threshold: 6, maxBindingBytes: 1280 }],
  // the prefill's outlier list holds column k-1 (token 1 only): the decode step must not reuse it
  ['decode after a prefill of 5 on the same binding', { n: 24, k: 64, tokens: 1, maxTokens: 5, threshold: 6, before: [5] }],
  ['decode, split weight, bias', { n: 45, k: 128, tokens: 1, maxTokens: 5, threshold: 6, bias: true, maxBindingBytes: 1280 }],
];

describe.each([
  { name: 'dot4I8Packed', disable: false },
  { name: 'fallback without packed_4x8 builtins', disable: true },
])('Int8Linear ($name)', ({ disable }) => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await nodeGpuContext(disable ? { disableFeatures: ['dot4I8Packed'] } : {});
  });
  afterAll(() => {
    ctx?.device.destroy();
  });

  it('uses the kernel variant it should', () => {
    // every adapter here has the WGSL feature; the fallback context turned it off
    expect(ctx.features.dot4I8Packed).toBe(!disable);
    expect(Int8Kernels.for(ctx).matmul.dp4a).toBe(!disable);
  });

  it.each(cases)('%s matches the CPU reference', async (_name, c) => {
    const { got, want, wantProduct, layer } = await run(ctx, !disable, c);
    expectClose(got, wantProduct);
    // against the reference end to end: exact-tie rounding of a division off by an ulp may move one int8 value by 1
    expectClose(got, want, 2e-2);
    if (c.maxBindingBytes) expect(layer.weight.parts.length).toBeGreaterThan(1);
    expect(ctx.ledger.current).toBe(0);
  });

  it('layers bound to one x share its input stage and give bit-identical y to each quantizing its own x', async () => {
    const { dispatches, forwards, int8 } = await sharedVsAlone(ctx, !disable);
    // one token: one dispatch per layer (x quantized inside the product); several: outliers + quantize_x + int8
    // matmul per int8 layer, and the fp16 layer's matmul
    expect(dispatches).toEqual(forwards.map((t) => (t > 1 ? 3 * int8 + 1 : int8 + 1)));
    expect(ctx.ledger.current).toBe(0);
  });

  it('the outlier columns change the result (the decomposition is really on)', async () => {
    const c: Case = { n: 16, k: 64, tokens: 3, maxTokens: 3, threshold: 6 };
    const on = await run(ctx, !disable, c);
    const off = await run(ctx, !disable, { ...c, threshold: 0 });
    expectClose(off.got, off.wantProduct);
    let diff = 0;
    for (let i = 0; i < on.got.length; i++) diff = Math.max(diff, Math.abs(on.got[i] - off.got[i]));
    expect(diff).toBeGreaterThan(1e-3);
    // and the decomposed result is closer to the float product with the dequantized weight
    const q = quantizeRowsRef(on.w, c.n, c.k);
    let errOn = 0;
    let errOff = 0;
    for (let t = 0; t < c.tokens; t++) {
      for (let r = 0; r < c.n; r++) {
        let f = 0;
        for (let j = 0; j < c.k; j++) f += on.x[t * c.k + j] * on.w[r * c.k + j];
        errOn += Math.abs(on.got[t * c.n + r] - f);
        errOff += Math.abs(off.got[t * c.n + r] - f);
      }
    }
    expect(errOn).toBeLessThan(errOff);
    expect(q.q.length).toBe(c.n * c.k);
  });
});
