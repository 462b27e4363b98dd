// Diagnostic (not a test): where the streamed load's time and host memory go, stage by stage, on one byte range of a
// checkpoint served from a child process:
//   node --expose-gc --import tsx --import ./scripts/raw-hooks.mjs scripts/diag-stream.ts <dir> [--mib 512] [--stages …] [--chunk BYTES]
// Stages: raw (read and discard), gather (into a fixed chunk), convert (+ convert.ts), upload (+ writeBuffer, never
// waiting for the queue), uploadDrain (+ onSubmittedWorkDone every 16 MiB). Prints MB/s, time split and the peak
// growth of rss / JS heap / ArrayBuffers / external memory per stage.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { streamRange } from '../workers/net/http.ts';
import { F16x2Converter } from '../workers/load/convert.ts';
import { parseCliOrExit } from './cli.ts';
import { DIAG_STREAM } from './cli-specs.ts';

const { values, positionals } = parseCliOrExit(DIAG_STREAM, process.argv.slice(2));
const dir = positionals[0];
if (!dir || positionals.length > 1) {
  console.error(`one folder, not ${positionals.length}\n${DIAG_STREAM.usage}`);
  process.exit(2);
}
const mib = Number(values.mib);
const stages = values.stages.split(',');
if (!process.env.VK_ICD_FILENAMES && existsSync('/usr/lib/chromium/vk_swiftshader_icd.json'))
  process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
const { nodeGpuContext } = await import('../workers/gpu/node-gpu.ts');

const child = spawn(process.execPath, [...process.execArgv, new URL('./serve-dir.ts', import.meta.url).pathname, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
let base = '';
for await (const line of createInterface({ input: child.stdout! })) { const m = /^listening (\S+)/.exec(line); if (m) { base = m[1]; break; } }
const url = `${base}model.safetensors`;
const ctx = await nodeGpuContext();
const range = { start: 1 << 20, end: (1 << 20) + mib * 2 ** 20 };
const CHUNK = Number(values.chunk);

function sampler() {
  globalThis.gc?.();
  const b = process.memoryUsage();
  const peak = { rss: 0, heapUsed: 0, arrayBuffers: 0, external: 0 };
  const s = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss - b.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed - b.heapUsed);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers - b.arrayBuffers);
    peak.external = Math.max(peak.external, m.external - b.external);
  };
  const t = setInterval(s, 10);
  return { s, stop: () => { s(); clearInterval(t); const M = (x: number) => Math.round(x / 2 ** 20); return { rss: M(peak.rss), heap: M(peak.heapUsed), ab: M(peak.arrayBuffers), ext: M(peak.external) }; } };
}

const gpuBuf = ctx.device.createBuffer({ size: mib * 2 ** 20, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
await ctx.device.queue.onSubmittedWorkDone();

for (const stage of stages) {
  const smp = sampler();
  const t0 = performance.now();
  let convMs = 0, upMs = 0, waitMs = 0, n = 0, sizes = 0, pending = 0;
  const chunk = new Uint8Array(CHUNK);
  let fill = 0, gpuOff = 0;
  const conv = new F16x2Converter('x', 'BF16', [mib * 2 ** 19]);
  const flush = async () => {
    if (stage === 'gather') { fill = 0; return; }
    let t = performance.now();
    const { words } = conv.push(chunk.subarray(0, fill));
    convMs += performance.now() - t;
    t = performance.now();
    if (stage.startsWith('upload')) {
      ctx.device.queue.writeBuffer(gpuBuf, gpuOff, words.buffer, words.byteOffset, words.byteLength);
      gpuOff += words.byteLength; pending += words.byteLength;
      if (stage === 'uploadDrain' && pending >= 16 << 20) { await ctx.device.queue.onSubmittedWorkDone(); pending = 0; }
    }
    upMs += performance.now() - t;
    fill = 0;
  };
  let tw = performance.now();
  await streamRange(url, range, {}, async (c) => {
    waitMs += performance.now() - tw;
    n++; sizes += c.length; smp.s();
    if (stage !== 'raw') {
      let off = 0;
      while (off < c.length) {
        const k = Math.min(CHUNK - fill, c.length - off);
        chunk.set(c.subarray(off, off + k), fill); fill += k; off += k;
        if (fill === CHUNK) await flush();
      }
    }
    tw = performance.now();
  });
  if (fill) await flush();
  await ctx.device.queue.onSubmittedWorkDone();
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ stage, MBps: Math.round(range.end - range.start) / 1e3 / ms, ms: Math.round(ms), waitMs: Math.round(waitMs), convMs: Math.round(convMs), upMs: Math.round(upMs), reads: n, avgRead: Math.round(sizes / n), peakMiB: smp.stop() }));
}
child.kill();
process.exit(0);
