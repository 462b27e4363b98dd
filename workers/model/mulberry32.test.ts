import { describe, expect, it } from 'vitest';
import { Mulberry32 } from './mulberry32.ts';

describe('Mulberry32', () => {
  it('produces the reference sequence (checked against an independent u32 implementation)', () => {
    const zero = new Mulberry32(0);
    expect([zero.next(), zero.next(), zero.next()]).toEqual([1144304738, 1416247, 958946056]);
    const max = new Mulberry32(0xffffffff);
    expect([max.next(), max.next()]).toEqual([3850105811, 813802916]);
    const r = new Mulberry32(42);
    expect([r.nextUniform(), r.nextUniform(), r.nextUniform()]).toEqual([
      0.6011037230491638, 0.44829052686691284, 0.8524657487869263,
    ]);
  });

  it('gives uniforms that are multiples of 2^-24 in [0, 1)', () => {
    const r = new Mulberry32(7);
    for (let i = 0; i < 1000; i++) {
      const u = r.nextUniform();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(Number.isInteger(u * 2 ** 24)).toBe(true);
      expect(Math.fround(u)).toBe(u);
    }
  });
});
