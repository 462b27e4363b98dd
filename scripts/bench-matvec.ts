// The one-token products alone (matvec_f16.wgsl, matvec_int8.wgsl with their epilogues) on a model's shapes, per
// kernel variant: GPU microseconds per dispatch from timestamp queries and the weight bytes read per second, so the
// variant a GPU should use can be chosen from one run (the device script runs it before decode).
//   tsx --import ./scripts/raw-hooks.mjs scripts/bench-matvec.ts [--dim 2048] [--hidden 5632] [--heads 32]
//       [--kv-heads 4] [--head-dim 64] [--vocab 32000] [--precision fp16,int8] [--variants 64:2:sg,128:2:sg,...]
//       [--reps 30] [--rotate-mib 160] [--json]
// Each dispatch reads another copy of the weight, cycling over enough copies (--rotate-mib in all) that the GPU's
// last-level cache cannot hold them, as a decode step reads every layer's weights once.
// A variant is `<workgroupSize>:<pairs>:<sg|wg>` (lanes over the whole workgroup, reduced with subgroups or in
// workgroup memory) or `thread:<pairs>` (one thread per row pair, the CPU adapters' kind). One JSON object per
// (precision, variant, shape), then one {best} object: per precision the variant with the least total time.
import { nodeGpuContext } from '../workers/gpu/node-gpu.ts';
import { PassRecorder } from '../workers/gpu/pass-recorder.ts';
import { allocateTensor, type GpuTensor } from '../workers/gpu/tensor.ts';
import { uniformData } from '../workers/kernels/dispatch.ts';
import { MatVecF16 } from '../workers/kernels/matvec.ts';
import { MatVecInt8 } from '../workers/kernels/matvec-int8.ts';
import { parseMatVecVariant, type MatVecEpilogue } from '../workers/kernels/matvec-io.ts';
import { gluBlock } from '../workers/model/linear.ts';
import { parseCli, runCli } from './cli.ts';
import { BENCH_MATVEC } from './cli-specs.ts';

async function main(argv: string[]): Promise<void> {
  const { values } = parseCli(BENCH_MATVEC, argv);
  const [dim, hidden, heads, kvHeads, hd, vocab] = ['dim', 'hidden', 'heads', 'kv-heads', 'head-dim', 'vocab'].map((k) => Number(values[k as keyof typeof values]));
  const reps = Number(values.reps);
  const ctx = await nodeGpuContext();
  const adapter = `${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.device}`.trim();
  const group = ctx.ledger.group('bench-matvec');
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const buf = (label: string, size: number) => group.createBuffer({ label, size, usage, category: 'activations' });
  const random = (b: GPUBuffer, words: number, seed: number, halves: boolean) => {
    const a = new Uint32Array(words);
    let s = seed;
    // fp16 halves in ±0.5 (exponent 0x38xx/0xb8xx), or any int8 bytes
    for (let i = 0; i < words; i++) a[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) & (halves ? 0xb7ffb7ff : 0xffffffff);
    ctx.device.queue.writeBuffer(b, 0, a);
  };
  const qkvRows = (heads + 2 * kvHeads) * hd;
  const x = buf('x', Math.max(dim, hidden) * 4);
  ctx.device.queue.writeBuffer(x, 0, new Float32Array(Math.max(dim, hidden)).map((_, i) => Math.sin(i) * 2));
  const norm = allocateTensor(group, 'norm', [dim], 'f16x2', { maxBindingBytes: 1 << 30 });
  random(norm.parts[0].buffer, dim / 2, 3, true);
  const step = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
  ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', 1], ['u32', 5], ['u32', 6], ['u32', 0]]));
  const out = buf('out', Math.max(vocab, 2 * hidden, qkvRows) * 4);
  const kv = buf('kv', 2 * 64 * kvHeads * hd * 4);
  const table = buf('table', 64 * (hd / 2) * 8);
  // the decode step's products: [name, rows, k, epilogue, x read through the norm]
  const shapes: [string, number, number, MatVecEpilogue, boolean][] = [
    ['qkv', qkvRows, dim, { kind: 'rope_kv', q: out, kv: { buffer: kv, vOffset: 64 * kvHeads * hd * 4 }, table, nHeads: heads, nKvHeads: kvHeads, headDim: hd, ropeHalf: hd / 2, cacheRows: 64 }, true],
    ['o', dim, dim, { kind: 'residual', x: out }, false],
    ['gate_up', 2 * hidden, dim, { kind: 'glu', out, block: gluBlock(hidden) }, true],
    ['down', dim, hidden, { kind: 'residual', x: out }, false],
    ['lm_head', vocab, dim, { kind: 'store', y: out }, true],
  ];
  const rotate = Number(values['rotate-mib']) * 2 ** 20;
  const precisions = values.precision.split(',');
  const weights = new Map<string, { f16: GpuTensor[]; i8: GpuTensor[]; scales: GPUBuffer }>();
  for (const [name, rows, k] of shapes) {
    const max = ctx.limits.maxStorageBufferBindingSize;
    const copies = (bytes: number) => Math.max(1, Math.min(reps, Math.ceil(rotate / bytes)));
    const make = (format: 'f16x2' | 'i8x4', n: number) =>
      Array.from({ length: n }, (_, c) => {
        const t = allocateTensor(group, `${name}.${format}.${c}`, [rows, k], format, { maxBindingBytes: max });
        for (const p of t.parts) random(p.buffer, p.rows * t.rowWords, rows + c, format === 'f16x2');
        return t;
      });
    const f16 = precisions.includes('fp16') ? make('f16x2', copies(rows * k * 2)) : [];
    const i8 = precisions.includes('int8') ? make('i8x4', copies(rows * k)) : [];
    const scales = buf(`${name}.scales`, rows * 4);
    ctx.device.queue.writeBuffer(scales, 0, new Float32Array(rows).fill(0.01));
    weights.set(name, { f16, i8, scales });
  }
  const recorder = new PassRecorder(ctx);
  const totals: Record<string, Record<string, number>> = {};
  for (const precision of values.precision.split(',')) {
    for (const variant of values.variants.split(',')) {
      const opts = parseMatVecVariant(variant);
      const f16 = precision === 'fp16' ? new MatVecF16(ctx, opts) : null;
      const i8 = precision === 'int8' ? new MatVecInt8(ctx, opts) : null;
      let total = 0;
      for (const [name, rows, k, epilogue, normed] of shapes) {
        const w = weights.get(name)!;
        const io = { x, norm: normed ? { weight: norm, eps: 1e-5 } : null, bias: null, epilogue, step };
        const bindings = f16 ? w.f16.map((t) => f16.bind(t, io, group)) : w.i8.map((t) => i8!.bind(t, w.scales, 6, io, group));
        recorder.startProfiling(reps);
        const enc = ctx.device.createCommandEncoder({ label: 'bench-matvec' });
        const pass = recorder.begin(enc, name);
        for (let r = 0; r < reps; r++) (f16 ?? i8)!.encode(pass, bindings[r % bindings.length]);
        pass.end();
        recorder.finish(enc);
        ctx.device.queue.submit([enc.finish()]);
        await recorder.collect();
        const times = recorder.takeTimes();
        recorder.stopProfiling();
        const [kind] = Object.values(times);
        const us = kind ? (kind.gpuMs * 1000) / kind.dispatches : NaN;
        const bytes = rows * (precision === 'fp16' ? 2 * k : k + 4);
        total += us;
        const row = { bench: 'matvec', adapter, precision, variant, shape: name, rows, k, us, gbPerS: bytes / us / 1e3 };
        console.log(values.json ? JSON.stringify(row) : `${precision} ${variant.padEnd(10)} ${name.padEnd(8)} ${us.toFixed(1)} µs, ${row.gbPerS.toFixed(0)} GB/s`);
      }
      (totals[precision] ??= {})[variant] = total;
    }
  }
  const best = Object.fromEntries(Object.entries(totals).map(([p, byVariant]) => [p, Object.entries(byVariant).sort((a, b) => a[1] - b[1])[0][0]]));
  console.log(values.json ? JSON.stringify({ bench: 'matvec-best', adapter, best, totalsUs: totals }) : `best: ${JSON.stringify(best)}`);
}

runCli(() => main(process.argv.slice(2)));
