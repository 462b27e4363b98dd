// half2() for matvec_f16.wgsl on every adapter: the two fp16 of a packed u32 (element 2i in the low half) as f32,
// with the core builtin unpack2x16float (exact).
fn half2(v: u32) -> vec2<f32> {
  return unpack2x16float(v);
}
