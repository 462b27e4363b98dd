// `bench load`: loads a checkpoint with a strategy and measures it against the raw fetch of the same bytes (read and
// discarded) in the same run. A local directory is served by scripts/serve-dir.ts in a child process, so serving
// does not share the JavaScript thread with the load.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { createInterface } from 'node:readline';
import { LOAD_STRATEGIES, type LoadStrategy } from '../workers/api.ts';
import { benchCache } from './bench-cache.ts';
import { badValue, numberOption, parseCli, UsageError } from './cli.ts';
import { BENCH_LOAD } from './cli-specs.ts';
import type { GpuContext } from '../workers/gpu/device.ts';
import { parseConfig } from '../workers/model/config.ts';
import { streamRange, type ByteRange } from '../workers/net/http.ts';
import { int8WeightTransform } from '../workers/load/quantize.ts';
import { defaultConvertOn, loadWeights } from '../workers/load/loader.ts';
import { checkpointTensors } from '../workers/load/checkpoint-layout.ts';
import { checkTensors, int8Scope, modelShape, planLoad } from '../workers/load/plan.ts';
import { readTensorMap, type TensorMap } from '../workers/load/safetensors.ts';
import { openModelSource } from '../workers/load/source.ts';
import { DEFAULT_STREAM_OPTIONS, planRequests } from '../workers/load/stream.ts';
import type { RangeReader } from '../workers/net/http.ts';
import { threadRangeReader, type ThreadReader } from '../workers/net/thread-reader.ts';
import { readSmaps, SMAPS_KINDS, smapsDelta, type SmapsBytes } from './smaps.ts';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

async function serveInChild(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...process.execArgv, new URL('./serve-dir.ts', import.meta.url).pathname, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const m = /^listening (\S+)/.exec(line);
    if (m) return { url: m[1], child };
  }
  throw new Error('serve-dir exited before listening');
}

/** The bytes a strategy fetches: the coalesced ranges (streamed) or whole files (naive, fp16). */
function fetchPlan(map: TensorMap, strategy: LoadStrategy): { url: string; range: ByteRange }[] {
  return map.files.flatMap((f) =>
    strategy === 'naive' || strategy === 'fp16'
      ? [{ url: f.url, range: { start: 0, end: f.size } }]
      : planRequests(f.tensors, DEFAULT_STREAM_OPTIONS).map((range) => ({ url: f.url, range })),
  );
}

/** Reads the plan's bytes and discards them: whole files with one fetch each, or ranges through `read`. */
async function rawFetch(plan: { url: string; range: ByteRange }[], whole: boolean, read: RangeReader = streamRange) {
  const t0 = performance.now();
  let bytes = 0;
  for (const { url, range } of plan) {
    if (whole) {
      const res = await fetch(url);
      const reader = res.body!.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
    } else {
      await read(url, range, {}, (c) => void (bytes += c.length));
    }
  }
  const ms = performance.now() - t0;
  return { bytes, ms, mbPerS: bytes / 1e6 / (ms / 1000) };
}

/**
 * Host memory beside the loader's own rss sampling: rss minus GPU buffers (CPU adapters) and JS-side bytes, with
 * the growth profile over the load: the highest growth in each tenth of the checkpoint's bytes (sampled on every
 * ledger change, every 10 ms and every progress report), and its slope over the second half in MiB per GB, where a
 * cost per tensor shows as a steady climb while fixed costs (pipelines, thread pools, chunks) are paid early. On Linux,
 * where the peak is: the growth of each kind of resident mapping (smaps.ts) at the sample that set it (read again
 * whenever the peak has grown by 1 MiB), and on a CPU adapter the GPU memory beyond the ledger (Dawn's own buffers).
 */
function hostSampler(ctx: GpuContext, checkpointBytes: number) {
  const base = process.memoryUsage();
  const baseRssMinusGpu = base.rss - ctx.ledger.current;
  const peak = { rss: 0, rssMinusGpu: 0, jsHeapAndArrayBuffers: 0 };
  // the host side: rss minus the ledger on CPU adapters (GPU buffers live in this process), rss itself on a GPU
  const tenths = new Array<number>(10).fill(-Infinity);
  let bytesDone = 0;
  const baseSmaps = readSmaps();
  const baseLedger = ctx.ledger.current;
  // V8's young generation (new space), committed: grown by garbage made at a high rate (README, "Host memory of
  // streamed-int8"); its pages are among the small anonymous mappings
  const newSpace = () => getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
  const baseNewSpace = newSpace();
  let atPeak: AtPeak | null = null;
  const sample = () => {
    const m = process.memoryUsage();
    const rss = m.rss - base.rss;
    const rssMinusGpu = m.rss - ctx.ledger.current - baseRssMinusGpu;
    peak.rss = Math.max(peak.rss, rss);
    peak.rssMinusGpu = Math.max(peak.rssMinusGpu, rssMinusGpu);
    const growth = ctx.software ? rssMinusGpu : rss;
    if (baseSmaps && growth >= (atPeak?.growth ?? 0) + 2 ** 20) {
      atPeak = { growth, smaps: smapsDelta(readSmaps()!, baseSmaps), ledger: ctx.ledger.current - baseLedger, newSpace: newSpace() - baseNewSpace, bytesDone };
    }
    peak.jsHeapAndArrayBuffers = Math.max(peak.jsHeapAndArrayBuffers, m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
    const i = Math.min(9, Math.floor((bytesDone / Math.max(1, checkpointBytes)) * 10));
    tenths[i] = Math.max(tenths[i], ctx.software ? rssMinusGpu : rss);
  };
  const unsubscribe = ctx.ledger.subscribe(sample);
  const timer = setInterval(sample, 10);
  return {
    /** A progress report: the bytes read so far place the samples that follow. */
    progress(done: number) {
      bytesDone = done;
      sample();
    },
    stop() {
      sample();
      clearInterval(timer);
      unsubscribe();
      const MiB = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
      const gb = checkpointBytes / 1e9;
      // least squares over the second half's tenths (x: GB read at the tenth's middle)
      const pts = tenths.map((y, i) => ({ x: ((i + 0.5) / 10) * gb, y })).slice(5).filter((p) => Number.isFinite(p.y));
      let slope: number | null = null;
      if (pts.length >= 3) {
        const mx = pts.reduce((a, p) => a + p.x, 0) / pts.length;
        const my = pts.reduce((a, p) => a + p.y, 0) / pts.length;
        slope = pts.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / pts.reduce((a, p) => a + (p.x - mx) ** 2, 0);
      }
      const host = ctx.software ? peak.rssMinusGpu : peak.rss;
      return {
        ...peak,
        measure: ctx.software ? ('rssMinusGpu' as const) : ('rss' as const),
        checkpointGB: Math.round(gb * 1000) / 1000,
        perGB: {
          /** the peak growth divided by the checkpoint's size (fixed costs included) */
          peakMiB: MiB(host / gb),
          /** MiB per GB read over the second half: ~0 when host memory is bounded, a leak's rate otherwise */
          slopeMiB: slope === null ? null : MiB(slope),
        },
        /** the highest growth (MiB) in each tenth of the bytes read */
        tenthsMiB: tenths.map((v) => (Number.isFinite(v) ? MiB(v) : null)),
        /** Linux: growth (MiB) of each kind of resident mapping when the peak was last raised by 1 MiB (smaps.ts) */
        atPeakMiB: atPeakBreakdown(atPeak, ctx.software, MiB),
      };
    },
  };
}

/**
 * The smaps growth at the peak by kind; on a CPU adapter (its GPU buffers in this process) the GPU mappings' growth
 * beside the ledger's, and their difference: Dawn's own buffers (upload staging) and memory it has not let go yet.
 */
function atPeakBreakdown(p: AtPeak | null, software: boolean, MiB: (b: number) => number) {
  if (!p) return null;
  const kinds = Object.fromEntries(SMAPS_KINDS.map((k) => [k, MiB(p.smaps[k])]));
  return {
    growth: MiB(p.growth),
    atGB: Math.round(p.bytesDone / 1e7) / 100,
    ...kinds,
    ...(software ? { ledger: MiB(p.ledger), gpuBeyondLedger: MiB(p.smaps.gpu - p.ledger) } : {}),
    v8NewSpace: MiB(p.newSpace),
  };
}

interface AtPeak {
  growth: number;
  smaps: SmapsBytes;
  ledger: number;
  newSpace: number;
  bytesDone: number;
}

/** Whether the highest growth in the last five tenths stays within `slackMiB` of the highest in the first five. */
function secondHalfNotAbove(tenths: (number | null)[], slackMiB: number): boolean {
  const max = (xs: (number | null)[]) => Math.max(...xs.filter((x): x is number => x !== null));
  return max(tenths.slice(5)) <= max(tenths.slice(0, 5)) + slackMiB;
}

export async function benchLoad(argv: string[]): Promise<void> {
  const { values } = parseCli(BENCH_LOAD, argv);
  const model = values.model;
  if (!model) throw new UsageError(`--model <url-or-dir> is required\n${BENCH_LOAD.usage}`);
  const strategies = values.strategy.split(',') as LoadStrategy[];
  for (const s of strategies) if (!LOAD_STRATEGIES.includes(s)) throw badValue(BENCH_LOAD, 'strategy', s, LOAD_STRATEGIES.join(', '));
  const repeat = numberOption(BENCH_LOAD, 'repeat', values.repeat, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1');
  const json = values.json;
  const convertOnArg = values['convert-on'] as 'gpu' | 'cpu' | undefined;
  // streamed-int8 quantizes lm_head too (the app's LoadRequest.int8LmHead; ignored with a note for tied embeddings)
  const int8LmHead = values['int8-lm-head'];
  if (convertOnArg && convertOnArg !== 'gpu' && convertOnArg !== 'cpu') throw badValue(BENCH_LOAD, 'convert-on', convertOnArg, 'gpu or cpu');
  // Where the streamed strategies read HTTP: on a worker thread (default; the browser's fetch runs in its network
  // process, not on the worker that uploads) or on this JavaScript thread, taking turns with conversion and upload.
  const readerArg = values.reader;
  if (readerArg !== 'thread' && readerArg !== 'main') throw badValue(BENCH_LOAD, 'reader', readerArg, 'thread or main');
  // The stream's chunk (gather, staging slot, reader-thread chunk) and the reader thread's ring, for tuning runs.
  const chunkBytes = numberOption(BENCH_LOAD, 'chunk-mib', values['chunk-mib'] ?? String(DEFAULT_STREAM_OPTIONS.chunkBytes / 2 ** 20), (n) => n >= 1 / 16, 'MiB ≥ 1/16') * 2 ** 20;
  const ring = numberOption(BENCH_LOAD, 'ring', values.ring, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1');
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  const { nodeGpuContext } = await import('../workers/gpu/node-gpu.ts');

  let server: { url: string; child: ChildProcess } | null = null;
  let url = model;
  if (existsSync(model) && statSync(model).isDirectory()) {
    server = await serveInChild(model);
    url = server.url;
  }
  let thread: ThreadReader | null = null;
  try {
    const ctx = await nodeGpuContext();
    const source = await openModelSource(url);
    const config = parseConfig(source.config);
    const { map, notes: layoutNotes } = checkpointTensors(config, await readTensorMap(source.weightFiles, {}, source.weightMap ?? undefined));
    const shape = modelShape(config);
    const unused = new Set(checkTensors(shape, map.tensors));
    const used = [...map.tensors.values()].filter((r) => !unused.has(r.name));
    const scopeFor = (strategy: LoadStrategy) => {
      const r = int8Scope({ strategy, int8LmHead }, shape.tiedEmbeddings);
      if (r.note && strategy === 'streamed-int8') console.error(`note: ${r.note}`);
      return r.scope;
    };
    const cacheDir = values.cache;
    if (cacheDir) {
      await benchCache(ctx, map, {
        model, baseUrl: source.baseUrl, strategies, dir: cacheDir, convertOn: convertOnArg ?? defaultConvertOn(ctx), json,
        scope: scopeFor('streamed-int8'),
      });
      return;
    }
    for (let i = 0; i < repeat; i++) {
      for (const strategy of strategies) {
        const plan = planLoad({
          model, architecture: config.architecture, shape, tensors: used, strategy,
          limits: ctx.limits, int8LmHead, unused: [...unused], layoutNotes,
        });
        const scope = plan.int8Scope ?? 'decoder';
        const whole = strategy === 'naive' || strategy === 'fp16';
        // The limit to compare with: the raw read of the same bytes, on this thread and (streamed) on a reader
        // thread; the ratio is taken against the faster of the two.
        const raw = await rawFetch(fetchPlan(map, strategy), whole);
        const useThread = !whole && readerArg === 'thread';
        if (useThread) thread ??= threadRangeReader({ chunkBytes, buffers: ring, workerUrl: threadWorkerUrl() });
        const rawThread = whole || !thread ? null : await rawFetch(fetchPlan(map, strategy), false, thread.read);
        const rawBest = rawThread && rawThread.mbPerS > raw.mbPerS ? rawThread : raw;
        const checkpointBytes = [...map.tensors.values()].reduce((a, t) => a + t.end - t.start, 0);
        const sampler = hostSampler(ctx, checkpointBytes);
        const convertOn = convertOnArg ?? defaultConvertOn(ctx);
        const int8 = strategy === 'streamed-int8';
        const loaded = await loadWeights(ctx, map, {
          strategy,
          model,
          convertOn,
          transform: int8 ? int8WeightTransform(ctx, { scope }) : undefined,
          stream: { chunkBytes, ...(useThread ? { read: thread!.read } : {}) },
          onProgress: (p) => sampler.progress(p.bytesDone),
          only: (name) => !unused.has(name),
        });
        const host = sampler.stop();
        const r = loaded.report;
        loaded.group.destroy();
        await ctx.device.queue.onSubmittedWorkDone();
        const largest = plan.largestTensor.bytes;
        const out = {
          ...r,
          adapter: `${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.description}`.trim(),
          // where streamed strategies converted to fp16 (naive and fp16 always convert on the CPU)
          convertOn: strategy === 'naive' || strategy === 'fp16' ? 'cpu' : convertOn,
          ...(int8 ? { int8Scope: scope } : {}),
          reader: whole ? 'fetch' : readerArg,
          ...(whole ? {} : { chunkBytes, ...(useThread ? { ring } : {}) }),
          raw,
          ...(rawThread ? { rawThread } : {}),
          throughputRatio: r.mbPerS / rawBest.mbPerS,
          hostGrowth: host,
          plan: { totalBytes: plan.totalBytes, weights: plan.bytes.weights, scales: plan.bytes.scales, largestTensor: plan.largestTensor, fits: plan.fits, notes: plan.notes },
          checks: {
            // streamed: fp16 weights + one tensor; streamed-int8: what stays (int8 + scales + fp16 rest) + one fp16 tensor
            peakGpuWithinWeightsPlusLargest: r.peakGpuBytes <= (int8 ? r.finalGpuBytes : r.weightBytes) + largest,
            // On CPU adapters (SwiftShader, lavapipe) GPU buffers live in this process: rss minus the ledger is the host side.
            // On a real GPU the buffers are not in rss: the growth is rss itself.
            hostGrowthMiB: (ctx.software ? host.rssMinusGpu : host.rss) / 2 ** 20,
            // bounded host memory: the second half of the load grows the host side no further than the first did (a
            // cost per tensor or per byte would climb all along; fixed costs are paid early), within 16 MiB of noise
            // (garbage collection timing, writes in flight)
            hostBoundedOverLoad: secondHalfNotAbove(host.tenthsMiB, 16),
            // What the loader itself held at once (JS buffers for weights): the browser's measure, beside rss here.
            loaderHostBuffersMiB: r.peakHostBuffersBytes / 2 ** 20,
            throughputAtLeast80PctOfRaw: r.mbPerS >= 0.8 * rawBest.mbPerS,
          },
        };
        console.log(json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
        if (globalThis.gc) globalThis.gc();
      }
    }
  } finally {
    await thread?.close();
    server?.child.kill();
  }
}

/** The reader thread's script: the TypeScript source, or the bundle beside this one (scripts/device/pack.mjs). */
function threadWorkerUrl(): URL | undefined {
  const bundled = new URL('./thread-reader.worker.mjs', import.meta.url);
  return import.meta.url.endsWith('.mjs') && existsSync(bundled) ? bundled : undefined;
}
