// The load progress line in words: what the load is doing (reading from the cache, downloading, compiling kernels)
// and only the figures that mean something in that phase (no "0 B / 0 B | 0 / 0 tensors" while kernels compile).
import type { LoadProgress } from '../workers/api.ts';
import { formatBytes, formatEta, formatRate, fraction } from './format.ts';

export interface ProgressLine {
  title: string;
  figures: string[];
  /** 0..1 of the bytes, or null while no byte count applies (the bar then shows no figure). */
  fraction: number | null;
}

/** What the weights are coming from, once bytes arrive. */
function source(p: LoadProgress): 'network' | 'cache' | 'both' {
  const net = p.bytesFetched ?? p.bytesDone;
  const cache = p.bytesFromCache ?? 0;
  return cache > 0 ? (net > 0 ? 'both' : 'cache') : 'network';
}

const TITLE = {
  network: 'Downloading',
  cache: 'Reading from the cache',
  both: 'Downloading and reading from the cache',
} as const;

export function describeProgress(p: LoadProgress | null, cancelling = false): ProgressLine {
  if (cancelling) return { title: 'Cancelling…', figures: [], fraction: p && p.bytesTotal > 0 ? fraction(p.bytesDone, p.bytesTotal) : null };
  if (!p) return { title: 'Starting…', figures: [], fraction: null };
  switch (p.phase) {
    case 'resolve':
      return { title: 'Reading config.json and the tokenizer', figures: [], fraction: null };
    case 'plan':
      return { title: 'Reading the safetensors headers and planning memory', figures: [], fraction: null };
    case 'compile':
      return { title: 'Compiling kernels', figures: [], fraction: p.bytesTotal > 0 ? fraction(p.bytesDone, p.bytesTotal) : null };
    case 'done':
      return { title: 'Done', figures: [], fraction: 1 };
    case 'download':
    case 'quantize': {
      if (!(p.bytesTotal > 0)) return { title: p.phase === 'quantize' ? 'Quantizing' : 'Starting the download', figures: [], fraction: null };
      const from = source(p);
      const figures = [`${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`];
      if (from === 'both') figures.push(`network ${formatBytes(p.bytesFetched ?? 0)} · cache ${formatBytes(p.bytesFromCache ?? 0)}`);
      figures.push(`${p.tensorsDone} / ${p.tensorsTotal} tensors`, formatRate(p.mbPerS, 'MB/s'), `ETA ${formatEta(p.etaS)}`);
      return { title: p.phase === 'quantize' ? `Quantizing · ${TITLE[from].toLowerCase()}` : TITLE[from], figures, fraction: fraction(p.bytesDone, p.bytesTotal) };
    }
  }
}
