// The int8 matmul kernel is one file; dot4() comes from one of two small files (WGSL cannot select a builtin that may
// not exist with an override constant). The fallback and the quantizers must use no packed_4x8 builtin.
import { describe, expect, it } from 'vitest';
import matmul from '../../shaders/int8_matmul.wgsl?raw';
import dot4Packed from '../../shaders/int8_dot4_packed.wgsl?raw';
import dot4Shifts from '../../shaders/int8_dot4_shifts.wgsl?raw';
import quantizeRows from '../../shaders/quantize_rows.wgsl?raw';
import quantizeX from '../../shaders/int8_quantize_x.wgsl?raw';

const PACKED_BUILTINS = /\b(dot4I8Packed|dot4U8Packed|pack4xI8|pack4xU8|pack4xI8Clamp|pack4xU8Clamp|unpack4xI8|unpack4xU8)\b/;
const code = (src: string) => src.replace(/\/\/.*$/gm, '');

describe('int8 matmul shaders', () => {
  it('the kernel calls dot4() and defines none; each dot4 file defines exactly one', () => {
    expect(code(matmul)).toMatch(/\bdot4\(/);
    expect(code(matmul)).not.toMatch(/fn dot4\b/);
    for (const f of [dot4Packed, dot4Shifts]) expect(code(f).match(/fn dot4\(a: u32, b: u32\) -> i32/g)).toHaveLength(1);
  });

  it('only the packed dot4 uses a packed_4x8 builtin', () => {
    for (const src of [matmul, dot4Shifts, quantizeRows, quantizeX]) expect(code(src)).not.toMatch(PACKED_BUILTINS);
    expect(code(dot4Packed)).toMatch(/dot4I8Packed\(a, b\)/);
  });
});
