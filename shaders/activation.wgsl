// The gated MLP's activations, shared by glu.wgsl (several tokens) and matvec_io.wgsl's glu epilogue (one token);
// their owners put this file in front. kind 0: silu(v) = v / (1 + exp(-v)) (torch's F.silu, SwiGLU: Llama, Mistral,
// Qwen); kind 1: gelu with the tanh approximation (torch's gelu(approximate='tanh'), GeGLU: Gemma), tanh's argument
// clamped where tanh is ±1 in f32 anyway (some tanh implementations overflow past it).
fn activation(v: f32, kind: u32) -> f32 {
  if (kind == 1u) {
    let t = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
    return 0.5 * v * (1.0 + tanh(t));
  }
  return v / (1.0 + exp(-v));
}
