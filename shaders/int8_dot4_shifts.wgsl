// dot4() for int8_matmul.wgsl where the WGSL language feature packed_4x8_integer_dot_product is missing: the i32 dot
// product of two words of four int8 (byte 0 lowest), each byte sign-extended with shifts.
fn dot4(a: u32, b: u32) -> i32 {
  let ai = bitcast<i32>(a);
  let bi = bitcast<i32>(b);
  return ((ai << 24u) >> 24u) * ((bi << 24u) >> 24u) + ((ai << 16u) >> 24u) * ((bi << 16u) >> 24u) +
         ((ai << 8u) >> 24u) * ((bi << 8u) >> 24u) + (ai >> 24u) * (bi >> 24u);
}
