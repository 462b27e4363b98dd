// dot4() for int8_matmul.wgsl with the WGSL language feature packed_4x8_integer_dot_product: one builtin (DP4A on
// most GPUs).
fn dot4(a: u32, b: u32) -> i32 {
  return dot4I8Packed(a, b);
}
