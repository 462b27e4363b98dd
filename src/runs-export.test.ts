import { describe, expect, it } from 'vitest';
import { runLabel, runLabelLines, runsExport, runsFileName, type RunRecord } from './runs-export.ts';

const run: RunRecord = {
  id: 2,
  finishedAt: 1000,
  request: { model: 'models/kjv-llama/', strategy: 'streamed-int8', int8Threshold: 6 },
  report: {
    model: 'models/kjv-llama/', strategy: 'streamed-int8',
    timings: { totalMs: 900, networkMs: 400, convertMs: 100, uploadMs: 200, quantizeMs: 150, compileMs: 50, cacheMs: 0 },
    bytesFetched: 13_000_000, bytesFromCache: 0, cache: 'off', mbPerS: 30, tensors: 57, peakGpuBytes: 8e6, finalGpuBytes: 7e6, weightBytes: 6e6, peakHostBytes: 2e6, hostMemorySource: 'loader-accounted', peakHostBuffersBytes: 2e6, notes: [],
  },
};

describe('runs export', () => {
  it('is plain JSON that round-trips, with the adapter', () => {
    const e = runsExport([run], { adapter: { vendor: 'google', architecture: 'swiftshader', description: '', device: '' } } as never, new Date('2025-01-02T03:04:05Z'));
    expect(JSON.parse(JSON.stringify(e))).toEqual(e);
    expect(e).toMatchObject({ app: 'webgpu-llm', version: 1, exportedAt: '2025-01-02T03:04:05.000Z', runs: [run] });
    expect(e.adapter).toMatchObject({ vendor: 'google' });
    expect(runsExport([], null).adapter).toBeNull();
  });
  it('names files and runs', () => {
    expect(runsFileName(new Date('2025-01-02T03:04:05Z'))).toBe('webgpu-llm-runs-2025-01-02T03-04-05.json');
    expect(runLabel(run)).toBe('#2 kjv-llama · streamed-int8');
    expect(runLabelLines(run)).toEqual(['#2 streamed-int8', 'kjv-llama']);
    const hub = { ...run, id: 3, report: { ...run.report, model: 'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/resolve/main/', strategy: 'streamed' as const } };
    expect(runLabel(hub)).toBe('#3 Qwen/Qwen2.5-0.5B-Instruct · streamed');
  });
});
