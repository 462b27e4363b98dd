// Decode attention alone, single pass against split-K, on a model's attention shape: microseconds per layer for one
// query over a cache of T positions, every layer with its own KV cache (as in a decode step), many layers per submit.
//   tsx --import ./scripts/raw-hooks.mjs scripts/bench-attention.ts [--heads 32] [--kv-heads 4] [--head-dim 64]
//       [--layers 22] [--context 2048] [--lengths 16,128,512,2048] [--variants single,split,split:16:2048[:wg]]
//       [--ms 40] [--json]
// A variant is `single` (the single pass), `split` (the defaults the engine uses on a GPU) or
// `split:<minChunk>:<splitWorkgroups>[:<workgroupSize>]`. One JSON object per (variant, T), with the largest
// difference of layer 0's output from the single pass's (maxRelDiff).
import { nodeGpuContext } from '../workers/gpu/node-gpu.ts';
import { readBuffer } from '../workers/gpu/node-gpu.ts';
import { Attention, attentionScratchBytes, decodeChunkLength, DEFAULT_MIN_CHUNK, type AttentionOptions } from '../workers/kernels/attention.ts';
import { uniformData } from '../workers/kernels/dispatch.ts';
import { parseCli, runCli } from './cli.ts';
import { BENCH_ATTENTION } from './cli-specs.ts';

function variantOptions(v: string): AttentionOptions {
  if (v === 'single') return { splitDecode: 'never' };
  if (v === 'split') return { splitDecode: 'always' };
  const m = /^split:(\d+):(\d+)(?::(\d+))?$/.exec(v);
  if (!m) throw new Error(`bench attention: unknown variant '${v}'`);
  return { splitDecode: 'always', minChunk: Number(m[1]), splitWorkgroups: Number(m[2]), workgroupSize: m[3] ? Number(m[3]) : undefined };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseCli(BENCH_ATTENTION, argv);
  const shape = { nHeads: Number(values.heads), nKvHeads: Number(values['kv-heads']), headDim: Number(values['head-dim']), context: Number(values.context) };
  const layers = Number(values.layers);
  const targetMs = Number(values.ms);
  const ctx = await nodeGpuContext();
  const adapter = `${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.device}`.trim();
  const group = ctx.ledger.group('bench-attention');
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const buf = (label: string, size: number) => group.createBuffer({ label, size, usage, category: 'activations' });
  const kvBytes = shape.context * shape.nKvHeads * shape.headDim * 4;
  const fill = (b: GPUBuffer, n: number, seed: number) => {
    const a = new Float32Array(n);
    let s = seed;
    for (let i = 0; i < n; i++) a[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1) * 2;
    ctx.device.queue.writeBuffer(b, 0, a);
  };
  const q = buf('q', shape.nHeads * shape.headDim * 4);
  fill(q, shape.nHeads * shape.headDim, 1);
  const caches = Array.from({ length: layers }, (_, l) => {
    const k = buf(`k${l}`, kvBytes);
    const v = buf(`v${l}`, kvBytes);
    fill(k, kvBytes / 4, 2 + l);
    fill(v, kvBytes / 4, 100 + l);
    return { k, v };
  });
  const scores = buf('scores', attentionScratchBytes(shape, 1));
  const out = group.createBuffer({ label: 'out', size: shape.nHeads * shape.headDim * 4, usage: usage | GPUBufferUsage.COPY_SRC, category: 'activations' });
  const step = group.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, category: 'uniforms' });
  const reference = new Attention(ctx, { splitDecode: 'never' });
  const refBinding = reference.bind('ref', shape, { q, kCache: caches[0].k, vCache: caches[0].v, scores, out }, step, group);
  const layer0 = async (kernel: Attention, b: ReturnType<Attention['bind']>) => {
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    kernel.encode(pass, b, 1);
    pass.end();
    ctx.device.queue.submit([enc.finish()]);
    return new Float32Array(await readBuffer(ctx, out));
  };
  try {
    for (const variant of values.variants.split(',')) {
      const opts = variantOptions(variant);
      const kernel = new Attention(ctx, opts);
      const bindings = caches.map((c, l) => kernel.bind(`l${l}`, shape, { q, kCache: c.k, vCache: c.v, scores, out }, step, group));
      for (const T of values.lengths.split(',').map(Number)) {
        ctx.device.queue.writeBuffer(step, 0, uniformData([['u32', 1], ['u32', T - 1], ['u32', T], ['u32', 0]]));
        const run = async (n: number) => {
          const enc = ctx.device.createCommandEncoder();
          const pass = enc.beginComputePass();
          for (let r = 0; r < n; r++) for (const b of bindings) kernel.encode(pass, b, 1);
          pass.end();
          const t0 = performance.now();
          ctx.device.queue.submit([enc.finish()]);
          await ctx.device.queue.onSubmittedWorkDone();
          return performance.now() - t0;
        };
        const once = Math.max(await run(1), await run(1));
        const reps = Math.max(1, Math.min(100, Math.ceil(targetMs / once)));
        const times: number[] = [];
        for (let i = 0; i < 5; i++) times.push(await run(reps));
        const got = await layer0(kernel, bindings[0]);
        const want = await layer0(reference, refBinding);
        let maxRelDiff = 0;
        for (let i = 0; i < want.length; i++) maxRelDiff = Math.max(maxRelDiff, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])) || (got[i] === want[i] ? 0 : Infinity));
        times.sort((a, b) => a - b);
        const chunks = bindings[0].split?.chunks ?? 1;
        const minChunk = opts.minChunk ?? DEFAULT_MIN_CHUNK;
        const row = {
          bench: 'attention',
          adapter,
          variant,
          ...shape,
          T,
          chunks,
          activeChunks: chunks > 1 ? Math.ceil(T / decodeChunkLength(T, chunks, minChunk)) : 1,
          usPerLayer: (times[2] * 1000) / (reps * layers),
          usPerLayerMin: (times[0] * 1000) / (reps * layers),
          reps,
          maxRelDiff,
        };
        console.log(values.json ? JSON.stringify(row) : `${variant.padEnd(18)} T=${String(T).padStart(5)} chunks ${row.activeChunks}/${chunks}: ${row.usPerLayer.toFixed(1)} µs/layer, Δ ${maxRelDiff.toExponential(1)}`);
      }
    }
  } finally {
    group.destroy();
  }
}

runCli(() => main(process.argv.slice(2)));
