// The seed's load table from what scripts/device/run.sh wrote: one markdown row per `bench load` result of the
// steps whose name starts with the prefix (default load-7b-): load time, MB/s, peak GPU (ledger), host growth (rss
// on a GPU; rss minus the ledger on a CPU adapter), its slope per GB over the load's second half, and the loader's own
// host buffers.   node scripts/device/load-table.mjs <all.jsonl> [step prefix]
import { readFileSync } from 'node:fs';

const [file, prefix = 'load-7b-'] = process.argv.slice(2);
if (!file) throw new Error('usage: load-table.mjs <all.jsonl> [step prefix]');
const GB = (b) => `${(b / 1e9).toFixed(2)} GB`;
const MiB = (b) => `${Math.round(b / 2 ** 20)} MiB`;
console.log('| strategy | load time | MB/s | peak GPU (ledger) | final GPU | host growth | slope (MiB/GB, 2nd half) | loader host buffers |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue;
  const { step, r } = JSON.parse(line);
  if (!step.startsWith(prefix) || !r?.timings) continue;
  const h = r.hostGrowth;
  const host = h.measure === 'rss' ? h.rss : h.rssMinusGpu;
  console.log(
    `| \`${r.strategy}\` | ${(r.timings.totalMs / 1000).toFixed(2)} s | ${Math.round(r.mbPerS)} | ${GB(r.peakGpuBytes)} | ${GB(r.finalGpuBytes)} | ` +
      `${MiB(host)} (${h.measure}) | ${h.perGB.slopeMiB ?? '–'} | ${MiB(r.peakHostBuffersBytes)} |`,
  );
}
