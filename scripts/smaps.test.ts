import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mappingKind, parseSmaps, readSmaps, SMAPS_KINDS, smapsDelta } from './smaps.ts';

const MiB = 2 ** 20;

// Three entries as the kernel writes them (fields trimmed to those the parser reads and a few it skips).
const SAMPLE = [
  '7f0000000000-7f0004000000 rw-s 00000000 00:01 1234                       /memfd:allocation fd (deleted)',
  'Size:              65536 kB',
  'Rss:               40960 kB',
  'Pss:               40960 kB',
  '55d000000000-55d000400000 rw-p 00000000 00:00 0                          [heap]',
  'Size:               4096 kB',
  'Rss:                3072 kB',
  '7f1000000000-7f1000040000 rw-p 00000000 00:00 0 ',
  'Size:                256 kB',
  'Rss:                 256 kB',
  '7f2000000000-7f2004000000 rw-p 00000000 00:00 0 ',
  'Size:              65536 kB',
  'Rss:                2048 kB',
  '7f3000000000-7f3000100000 r-xp 00000000 08:01 42                         /usr/lib/x86_64-linux-gnu/libLLVM.so.19.1',
  'Size:               1024 kB',
  'Rss:                 512 kB',
  '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]',
  'Rss:                 132 kB',
  'VmFlags: rd wr mr mw me gd ac',
].join('\n');

describe('smaps', () => {
  it('kinds a mapping by its name, then by its size', () => {
    expect(mappingKind(64 * MiB, '/memfd:allocation fd (deleted)')).toBe('gpu');
    expect(mappingKind(8 * MiB, '/memfd:jit-cage (deleted)')).toBe('other');
    expect(mappingKind(4 * MiB, '[heap]')).toBe('heap');
    expect(mappingKind(MiB, '/usr/lib/libLLVM.so')).toBe('file');
    expect(mappingKind(MiB - 4096, '')).toBe('anonSmall');
    expect(mappingKind(MiB, '')).toBe('anonMedium');
    expect(mappingKind(64 * MiB, '')).toBe('anonLarge');
    expect(mappingKind(4096, '[stack]')).toBe('other');
  });

  it('sums resident bytes by kind', () => {
    const s = parseSmaps(Buffer.from(SAMPLE));
    expect(s).toEqual({
      gpu: 40960 * 1024,
      heap: 3072 * 1024,
      anonSmall: 256 * 1024,
      anonLarge: 2048 * 1024,
      anonMedium: 0,
      file: 512 * 1024,
      other: 132 * 1024,
    });
    expect(smapsDelta(s, { ...s, heap: 1024 * 1024 }).heap).toBe(2048 * 1024);
    expect(smapsDelta(s, s).gpu).toBe(0);
  });

  it("this process's kinds add up to its resident total (smaps_rollup)", () => {
    const s = readSmaps()!;
    const total = SMAPS_KINDS.reduce((a, k) => a + s[k], 0);
    const rollup = Number(/^Rss:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))![1]) * 1024;
    expect(Math.abs(total - rollup)).toBeLessThan(4 * MiB);
    expect(s.file).toBeGreaterThan(MiB); // node's own code
    expect(s.heap + s.anonSmall + s.anonMedium).toBeGreaterThan(MiB); // V8's heap and malloc
  });
});
