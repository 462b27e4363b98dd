// half2() for matvec_f16.wgsl where the device has `shader-f16` (the owner puts `enable f16;` first): the same packed
// u32 reinterpreted as two f16 and widened. Arithmetic stays f32: activations rounded to f16 would cost the precision
// the model checks need, and a matrix-vector product is bound by memory, not by math.
fn half2(v: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<vec2<f16>>(v));
}
