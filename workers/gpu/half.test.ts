import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToF16Bits, packF16 } from './half.ts';

describe('half precision conversions', () => {
  it('round-trips every finite fp16 value exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >>> 10) & 0x1f;
      if (exp === 0x1f) continue;
      const v = f16BitsToF32(h);
      const back = f32ToF16Bits(v);
      // -0 and +0 keep their sign bit
      expect(back).toBe(h);
    }
  });

  it('rounds to nearest even, overflows to infinity, underflows to subnormals', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (1.0)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -26)).toBe(0);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('decodes bfloat16', () => {
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc040)).toBe(-3);
  });

  it('packs two per u32, low half first, odd counts padded', () => {
    const p = packF16([1, -2, 0.5]);
    expect([...p]).toEqual([(0x3c00 | (0xc000 << 16)) >>> 0, 0x3800]);
  });
});
