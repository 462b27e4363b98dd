import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatEta, formatMs, formatRate, fraction } from './format.ts';

describe('formatters', () => {
  it('bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(13_054_480)).toBe('12.4 MiB');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.00 GiB');
    expect(formatBytes(NaN)).toBe('—');
    expect(formatBytes(-1536)).toBe('-1.5 KiB');
  });
  it('bytes at the unit boundaries: a value that rounds to 1024 of a unit is shown in the next', () => {
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1023.4)).toBe('1023 B');
    expect(formatBytes(1023.6)).toBe('1.0 KiB');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1024 * 1023.94)).toBe('1023.9 KiB');
    expect(formatBytes(1024 * 1023.96)).toBe('1.0 MiB');
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB');
    expect(formatBytes(1024 * 1024)).toBe('1.0 MiB');
    expect(formatBytes(2 ** 30 - 1)).toBe('1.00 GiB');
    expect(formatBytes(2 ** 30 * 1023.999)).toBe('1.00 TiB');
    expect(formatBytes(2 ** 40 * 2048)).toBe('2048.00 TiB');
  });
  it('durations', () => {
    expect(formatMs(849.6)).toBe('850 ms');
    expect(formatMs(2345)).toBe('2.35 s');
    expect(formatMs(65_000)).toBe('1 min 05 s');
    expect(formatMs(NaN)).toBe('—');
  });
  it('durations at the boundaries: never "1000 ms", "60.00 s" or "1 min 60 s"', () => {
    expect(formatMs(999.4)).toBe('999 ms');
    expect(formatMs(999.6)).toBe('1.00 s');
    expect(formatMs(59_994)).toBe('59.99 s');
    expect(formatMs(59_996)).toBe('1 min 00 s');
    expect(formatMs(59_600)).toBe('59.60 s');
    expect(formatMs(119_400)).toBe('1 min 59 s');
    expect(formatMs(119_600)).toBe('2 min 00 s');
    expect(formatMs(3_599_600)).toBe('1 h 00 min');
    expect(formatMs(3_725_000)).toBe('1 h 02 min');
  });
  it('ETA: unknown, sub-second, seconds, minutes', () => {
    expect(formatEta(NaN)).toBe('—');
    expect(formatEta(Infinity)).toBe('—');
    expect(formatEta(-1)).toBe('—');
    expect(formatEta(0.2)).toBe('< 1 s');
    expect(formatEta(12.4)).toBe('12 s');
    expect(formatEta(125)).toBe('2 min 05 s');
  });
  it('ETA at the boundaries: 59.6 s is a minute, 119.6 s two', () => {
    expect(formatEta(1)).toBe('1 s');
    expect(formatEta(59.4)).toBe('59 s');
    expect(formatEta(59.6)).toBe('1 min 00 s');
    expect(formatEta(60)).toBe('1 min 00 s');
    expect(formatEta(119.4)).toBe('1 min 59 s');
    expect(formatEta(119.6)).toBe('2 min 00 s');
    expect(formatEta(3599.4)).toBe('59 min 59 s');
    expect(formatEta(3599.6)).toBe('1 h 00 min');
    expect(formatEta(7290)).toBe('2 h 02 min');
  });
  it('rates, counts and fractions', () => {
    expect(formatRate(12.345, 'MB/s')).toBe('12.3 MB/s');
    expect(formatRate(1234.56, 'MB/s')).toBe('1,234.6 MB/s');
    expect(formatRate(0.04, 'tok/s')).toBe('0.0 tok/s');
    expect(formatRate(99.96, 'tok/s', 0)).toBe('100 tok/s');
    expect(formatRate(NaN, 'tok/s')).toBe('—');
    expect(formatCount(134_515_008)).toBe('135M');
    expect(formatCount(1_100_048_384)).toBe('1.1B');
    expect(formatCount(6_500_000)).toBe('6.5M');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(999_960)).toBe('1M');
    expect(formatCount(12_345)).toBe('12.3K');
    expect(formatCount(NaN)).toBe('—');
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(5, 0)).toBe(0);
    expect(fraction(20, 10)).toBe(1);
  });
});
