// The recipe's last step on the logits, in place, for the first step.tokens rows:
//   y = cap * tanh(y * scale / cap)   (cap > 0: Gemma 2's final_logit_softcapping)
//   y = y * scale                     (otherwise; scale: Granite's 1 / logits_scaling)
// tanh's argument is clamped to ±15, where tanh is ±1 in f32 already (some drivers overflow exp inside tanh).
// logits: f32 [tokens, vocab].

override WG: u32 = 64u;

struct Params {
  vocab: u32,
  scale: f32,
  cap: f32,
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<uniform> step: Step;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lid;
  if (i >= step.tokens * p.vocab) { return; }
  let y = logits[i] * p.scale;
  logits[i] = select(y, p.cap * tanh(clamp(y / p.cap, -15.0, 15.0)), p.cap > 0.0);
}
