import { describe, expect, it } from 'vitest';
import { hasPeakHost, peakHostSourceText, peakHostText } from './peak-host.ts';

describe('peak host', () => {
  it('shows n/a, not 0 B, where nothing measured it', () => {
    expect(peakHostText({ hostMemorySource: 'none', peakHostBytes: 0 })).toBe('n/a');
    expect(hasPeakHost({ hostMemorySource: 'none' })).toBe(false);
    expect(peakHostSourceText({ hostMemorySource: 'none' })).toBe('not measured here');
  });
  it('shows bytes by their source', () => {
    expect(peakHostText({ hostMemorySource: 'loader-accounted', peakHostBytes: 3 * 2 ** 20 })).toBe('3.0 MiB');
    expect(peakHostText({ hostMemorySource: 'rss', peakHostBytes: 0 })).toBe('0 B');
    expect(peakHostSourceText({ hostMemorySource: 'loader-accounted' })).toMatch(/^JS buffers held by the loader/);
    expect(peakHostSourceText({ hostMemorySource: 'rss' })).toMatch(/^process RSS/);
  });
  it('treats an unknown source (an older report) as no measure', () => {
    const old = { hostMemorySource: 'none growth during the load', peakHostBytes: 0 } as never;
    expect(peakHostText(old)).toBe('n/a');
    expect(peakHostSourceText(old)).toBe('not measured here');
  });
});
