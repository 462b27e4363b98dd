// Diagnostic (not a test): where streamed-int8's host memory goes, with each suspect of the quantize path on or off.
// Loads a checkpoint (served from a child process) with a per-tensor transform variant and samples rss − ledger after
// every tensor, then prints the growth, its slope per GB of checkpoint, and where the process's resident pages grew
// (/proc/self/smaps: [heap], small anonymous mappings (V8's 256 KiB heap pages among them), larger ones (thread
// arenas), files (code first run: dawn.node's and lavapipe's once a compute pass runs), and lavapipe's "allocation fd" memfds: the GPU buffers).
//   VK_ICD_FILENAMES=…lvp_icd.json node --expose-gc --import tsx --import ./scripts/raw-hooks.mjs \
//     scripts/diag-int8-host.ts <dir> --variant int8 [--reader thread] [--warm] [--rows N] [--maps]
// Variants: none (the tensors stay fp16), int8 (int8WeightTransform as the app runs it: its scratch), gc (int8, and a
// full GC after every tensor), release (each linear in buffers of its own, released: what freeing alone costs),
// alloc (int8 + scales buffers created and the fp16 released, no kernel), kernel (quantized, the fp16 kept: no frees).
// --reader thread reads HTTP on a worker thread (as bench load does); --warm reads every byte once first (as bench
// load's raw fetch does); --rows N prints the smaps breakdown every N tensors; --maps lists the memfds and small
// anonymous mappings by size at the end, beside the ledger's buffers.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseCliOrExit } from './cli.ts';
import { DIAG_INT8_HOST } from './cli-specs.ts';
import { readSmaps, smapsDelta, SMAPS_KINDS, type SmapsBytes } from './smaps.ts';
import type { BufferGroup } from '../workers/gpu/ledger.ts';
import type { TensorTransform } from '../workers/load/tensor-sink.ts';

const { values: cli, positionals } = parseCliOrExit(DIAG_INT8_HOST, process.argv.slice(2));
const dir = positionals[0];
const variant = cli.variant;
if (!dir || positionals.length > 1 || !['none', 'int8', 'gc', 'release', 'alloc', 'kernel'].includes(variant)) {
  console.error(DIAG_INT8_HOST.usage);
  process.exit(2);
}
const { nodeGpuContext } = await import('../workers/gpu/node-gpu.ts');
const { openModelSource } = await import('../workers/load/source.ts');
const { readTensorMap } = await import('../workers/load/safetensors.ts');
const { loadWeights } = await import('../workers/load/loader.ts');
const { int8WeightTransform } = await import('../workers/load/quantize.ts');
const { isQuantizedLinear } = await import('../workers/load/plan.ts');
const { allocateTensor } = await import('../workers/gpu/tensor.ts');

const child = spawn(process.execPath, [...process.execArgv, new URL('./serve-dir.ts', import.meta.url).pathname, dir], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let url = '';
for await (const line of createInterface({ input: child.stdout! })) {
  const m = /^listening (\S+)/.exec(line);
  if (m) {
    url = m[1];
    break;
  }
}
const ctx = await nodeGpuContext();
const source = await openModelSource(url);
const map = await readTensorMap(source.weightFiles, {}, source.weightMap ?? undefined);
const total = [...map.tensors.values()].reduce((a, r) => a + r.end - r.start, 0);
// --reader thread reads HTTP on a worker thread as `bench load` does; --warm first reads every byte once and discards
// it (as bench load's raw fetch does), so the fetch path's own growth is in the baseline
const { threadRangeReader } = await import('../workers/net/thread-reader.ts');
const { streamRange } = await import('../workers/net/http.ts');
const { DEFAULT_STREAM_OPTIONS, planRequests } = await import('../workers/load/stream.ts');
const thread = cli.reader === 'thread' ? threadRangeReader({ chunkBytes: 4 << 20, buffers: 4 }) : null;
const read = thread?.read ?? streamRange;
if (cli.warm) {
  for (const f of map.files) for (const range of planRequests(f.tensors, DEFAULT_STREAM_OPTIONS)) await read(f.url, range, {}, () => {});
}

const MiB = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

globalThis.gc?.();
const base = process.memoryUsage();
const baseOut = base.rss - ctx.ledger.current;
const smaps = (): SmapsBytes => {
  const s = readSmaps();
  if (!s) throw new Error('diag-int8-host: /proc/self/smaps is missing (Linux only)');
  return s;
};
const smaps0 = smaps();
let done = 0;
const trace: { gb: number; out: number; heap: number; ab: number; ext: number }[] = [];
const rows: string[] = [];
let n = 0;
const sample = () => {
  const m = process.memoryUsage();
  if (cli.rows && n++ % Number(cli.rows) === 0) {
    const d = smapsDelta(smaps(), smaps0);
    const kinds = SMAPS_KINDS.filter((k) => k !== 'gpu').map((k) => `${k} ${MiB(d[k])}`).join('  ');
    rows.push(`${(done / 1e9).toFixed(2)} GB: out ${MiB(m.rss - ctx.ledger.current - baseOut)}  gpu−ledger ${MiB(d.gpu - ctx.ledger.current)}  ${kinds}  jsheap ${MiB(m.heapUsed - base.heapUsed)}/${MiB(m.heapTotal - base.heapTotal)} ab ${MiB(m.arrayBuffers - base.arrayBuffers)}`);
  }
  trace.push({
    gb: done / 1e9,
    out: m.rss - ctx.ledger.current - baseOut,
    heap: m.heapUsed - base.heapUsed,
    ab: m.arrayBuffers - base.arrayBuffers,
    ext: m.external - base.external,
  });
};
const int8 = int8WeightTransform(ctx);
const keep: unknown[] = [];
const transform: TensorTransform<unknown> = async (tensor, record, group) => {
  done += record.end - record.start;
  let r: unknown = tensor;
  const q = isQuantizedLinear(record.name, tensor.shape, 'decoder');
  if (q && (variant === 'int8' || variant === 'gc')) r = await int8(tensor, record, group);
  if (q && variant === 'release') {
    await ctx.device.queue.onSubmittedWorkDone();
    for (const p of tensor.parts) group.release(p.buffer);
    r = { kind: 'dropped' };
  }
  if (q && variant === 'alloc') {
    const w = allocateTensor(group, tensor.name, tensor.shape, 'i8x4', { maxBindingBytes: ctx.limits.maxStorageBufferBindingSize });
    const scales = group.createBuffer({ label: 's', size: tensor.shape[0] * 4, usage: GPUBufferUsage.STORAGE, category: 'scales' });
    await ctx.device.queue.onSubmittedWorkDone();
    for (const p of tensor.parts) group.release(p.buffer);
    r = { kind: 'int8-weight', weight: w, scales };
  }
  if (q && variant === 'kernel') {
    keep.push(tensor);
    r = await int8(tensor, record, { release: () => {}, createBuffer: group.createBuffer.bind(group) } as unknown as BufferGroup);
  }
  if (variant === 'gc') globalThis.gc?.();
  sample();
  return r;
};
const t0 = performance.now();
// int8 and gc land the linears in the transform's scratch (as the app does); the other variants in buffers of their own
const scratch = variant === 'int8' || variant === 'gc';
Object.assign(transform, scratch ? { begin: int8.begin, target: int8.target, end: int8.end } : {});
const loaded = await loadWeights(ctx, map, { strategy: 'streamed-int8', model: dir, transform, stream: thread ? { read: thread.read } : {} });
const ms = performance.now() - t0;
sample();
const smaps1 = smaps();
const last = trace[trace.length - 1];
// slope of rss − ledger per GB over the second half of the load (past the start-up costs)
const half = trace.filter((s) => s.gb >= total / 2e9);
const fit = (ys: number[], xs: number[]) => {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxy / sxx;
};
const delta = Object.fromEntries(Object.entries(smapsDelta(smaps1, smaps0)).map(([k, v]) => [k, MiB(v)]));
console.log(
  JSON.stringify({
    variant,
    checkpointGB: total / 1e9,
    ms: Math.round(ms),
    ledgerMiB: MiB(loaded.group.bytes),
    growthMiB: { rssMinusLedger: MiB(last.out), peak: MiB(Math.max(...trace.map((s) => s.out))), heap: MiB(last.heap), arrayBuffers: MiB(last.ab), external: MiB(last.ext) },
    slopeMiBPerGB: { rssMinusLedger: MiB(fit(half.map((s) => s.out), half.map((s) => s.gb))), heap: MiB(fit(half.map((s) => s.heap), half.map((s) => s.gb))) },
    smapsDeltaMiB: delta,
    at: [0.25, 0.5, 0.75, 1].map((f) => MiB(trace[Math.min(trace.length - 1, Math.floor(f * (trace.length - 1)))].out)),
  }),
);
if (rows.length) console.log(rows.join('\n'));
if (cli.maps) {
  // memfd mappings (one per VkDeviceMemory on lavapipe) by size, beside the ledger's live buffers by size
  const maps = new Map<number, { n: number; rss: number }>();
  let size = 0;
  let memfd = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const h = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (h) {
      size = (parseInt(h[2], 16) - parseInt(h[1], 16)) / 1024;
      memfd = h[3].startsWith('/memfd:allocation');
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r && memfd) {
      const e = maps.get(size) ?? { n: 0, rss: 0 };
      e.n++;
      e.rss += Number(r[1]);
      maps.set(size, e);
    }
  }
  const led = new Map<number, number>();
  for (const b of ctx.ledger.live()) { const k = Math.ceil(b.size / 4096) * 4; led.set(k, (led.get(k) ?? 0) + 1); }
  console.log('memfd by size KiB: ' + [...maps].sort((a, b) => b[0] - a[0]).map(([k, e]) => `${k}:${e.n}×(rss ${Math.round(e.rss / 1024)}M)`).join(' '));
  const small = new Map<number, { n: number; rss: number }>();
  let sz = 0;
  let anon = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const h = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (h) {
      sz = (parseInt(h[2], 16) - parseInt(h[1], 16)) / 1024;
      anon = !h[4] && sz < 1024;
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r && anon && Number(r[1]) > 0) {
      const e = small.get(sz) ?? { n: 0, rss: 0 };
      e.n++;
      e.rss += Number(r[1]);
      small.set(sz, e);
    }
  }
  console.log('anon<1M resident by size KiB: ' + [...small].sort((a, b) => b[1].rss - a[1].rss).slice(0, 12).map(([k, e]) => `${k}:${e.n}×(rss ${Math.round(e.rss / 1024)}M)`).join(' '));
  console.log('ledger by size KiB: ' + [...led].sort((a, b) => b[0] - a[0]).map(([k, n]) => `${k}:${n}`).join(' '));
}
loaded.group.destroy();
await thread?.close();
child.kill();
process.exit(0);
