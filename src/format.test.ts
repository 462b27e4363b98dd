import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatEta, formatMs, formatRate, fraction } from './format.ts';

describe('formatters', () => {
  it('bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(13_054_480)).toBe('12.4 MiB');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.00 GiB');
    expect(formatBytes(NaN)).toBe('—');
  });
  it('durations', () => {
    expect(formatMs(849.6)).toBe('850 ms');
    expect(formatMs(2345)).toBe('2.35 s');
    expect(formatMs(65_000)).toBe('1 min 05 s');
  });
  it('ETA: unknown, sub-second, seconds, minutes', () => {
    expect(formatEta(NaN)).toBe('—');
    expect(formatEta(Infinity)).toBe('—');
    expect(formatEta(0.2)).toBe('< 1 s');
    expect(formatEta(12.4)).toBe('12 s');
    expect(formatEta(125)).toBe('2 min 05 s');
  });
  it('rates, counts and fractions', () => {
    expect(formatRate(12.345, 'MB/s')).toBe('12.3 MB/s');
    expect(formatRate(NaN, 'tok/s')).toBe('—');
    expect(formatCount(134_515_008)).toBe('134.5M');
    expect(formatCount(1_100_048_384)).toBe('1.10B');
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(5, 0)).toBe(0);
    expect(fraction(20, 10)).toBe(1);
  });
});
