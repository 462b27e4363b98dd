import { describe, expect, it } from 'vitest';
import type { LoadProgress } from '../workers/api.ts';
import { describeProgress } from './load-progress.ts';

const p = (over: Partial<LoadProgress>): LoadProgress => ({
  phase: 'download', bytesDone: 0, bytesTotal: 0, tensorsDone: 0, tensorsTotal: 0, mbPerS: 0, etaS: NaN, ...over,
});

describe('describeProgress', () => {
  it('while kernels compile: says so, with no byte or tensor counts', () => {
    const line = describeProgress(p({ phase: 'compile' }));
    expect(line).toEqual({ title: 'Compiling kernels', figures: [], fraction: null });
    expect(describeProgress(p({ phase: 'resolve' })).figures).toEqual([]);
    expect(describeProgress(p({ phase: 'plan' })).figures).toEqual([]);
  });
  it('a load served from the cache reads from the cache, not "Downloading"', () => {
    const line = describeProgress(p({ bytesDone: 6 << 20, bytesTotal: 12 << 20, bytesFetched: 0, bytesFromCache: 6 << 20, tensorsDone: 3, tensorsTotal: 9, mbPerS: 80, etaS: 0.5 }));
    expect(line.title).toBe('Reading from the cache');
    expect(line.figures).toEqual(['6.0 MiB / 12.0 MiB', '3 / 9 tensors', '80.0 MB/s', 'ETA < 1 s']);
    expect(line.fraction).toBe(0.5);
  });
  it('mixed: both figures', () => {
    const line = describeProgress(p({ bytesDone: 3 << 20, bytesTotal: 4 << 20, bytesFetched: 1 << 20, bytesFromCache: 2 << 20, tensorsDone: 1, tensorsTotal: 2, mbPerS: 10, etaS: 61 }));
    expect(line.title).toBe('Downloading and reading from the cache');
    expect(line.figures).toEqual(['3.0 MiB / 4.0 MiB', 'network 1.0 MiB · cache 2.0 MiB', '1 / 2 tensors', '10.0 MB/s', 'ETA 1 min 01 s']);
  });
  it('from the network; cancelling; before the first event', () => {
    expect(describeProgress(p({ bytesDone: 1, bytesTotal: 2, bytesFetched: 1, bytesFromCache: 0 })).title).toBe('Downloading');
    expect(describeProgress(p({ bytesDone: 1, bytesTotal: 2 })).title).toBe('Downloading'); // an engine that does not split
    expect(describeProgress(p({ bytesDone: 1, bytesTotal: 2 }), true)).toEqual({ title: 'Cancelling…', figures: [], fraction: 0.5 });
    expect(describeProgress(null)).toEqual({ title: 'Starting…', figures: [], fraction: null });
  });
});
