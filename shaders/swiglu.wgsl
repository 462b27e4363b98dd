// The gated MLP activation, in place: gate[i] = act(gate[i]) * up[i], with act chosen by the ACT override:
//   0: silu(g) = g / (1 + exp(-g)) (torch's F.silu; SwiGLU: Llama, Qwen, Phi-3, ...);
//   1: gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) (torch's gelu(approximate='tanh'); GeGLU: Gemma).
// tanh's argument is clamped to ±15, where tanh is ±1 in f32 already (some drivers overflow exp inside tanh).
// gate, up: f32 [tokens, hidden].

override WG: u32 = 64u;
override ACT: u32 = 0u;

struct Params { hidden: u32 }
// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read_write> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

fn act(g: f32) -> f32 {
  if (ACT == 1u) {
    return 0.5 * g * (1.0 + tanh(clamp(SQRT_2_OVER_PI * (g + 0.044715 * g * g * g), -15.0, 15.0)));
  }
  return g / (1.0 + exp(-g));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lid;
  if (i >= step.tokens * p.hidden) { return; }
  gate[i] = act(gate[i]) * up[i];
}
