// The two int8 matmul shaders are one kernel in two files (WGSL cannot select a builtin that may not exist with an
// override constant): they must differ only in dot4(), and the fallback must use no packed_4x8 builtin.
import { describe, expect, it } from 'vitest';
import fallback from '../../shaders/int8_matmul.wgsl?raw';
import dp4a from '../../shaders/int8_matmul_dp4a.wgsl?raw';
import quantizeRows from '../../shaders/quantize_rows.wgsl?raw';
import quantizeX from '../../shaders/int8_quantize_x.wgsl?raw';

/** The code without its comments and without the body of fn dot4. */
function skeleton(src: string): string {
  const code = src.replace(/\/\/.*$/gm, '').replace(/\n\s*\n/g, '\n').trim();
  return code.replace(/fn dot4\([^)]*\) -> i32 \{[\s\S]*?\n\}/, 'fn dot4 {}');
}

const PACKED_BUILTINS = /\b(dot4I8Packed|dot4U8Packed|pack4xI8|pack4xU8|pack4xI8Clamp|pack4xU8Clamp|unpack4xI8|unpack4xU8)\b/;

describe('int8 matmul shaders', () => {
  it('differ only in dot4()', () => {
    expect(skeleton(dp4a)).toBe(skeleton(fallback));
    expect(skeleton(fallback)).toContain('fn dot4 {}');
  });

  it('the fallback and the shared quantizers use no packed_4x8 builtin; the dp4a twin uses dot4I8Packed', () => {
    for (const src of [fallback, quantizeRows, quantizeX]) expect(src.replace(/\/\/.*$/gm, '')).not.toMatch(PACKED_BUILTINS);
    expect(dp4a).toMatch(/dot4I8Packed\(a, b\)/);
  });
});
