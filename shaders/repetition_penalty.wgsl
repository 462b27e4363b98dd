// Hugging Face's repetition penalty (RepetitionPenaltyLogitsProcessor) on one logits row, in place, before sampling:
// every id whose bit is set in `seen` (the ids of the sequence so far) has its logit l replaced by
//   l < 0 ? l * penalty : l / penalty.
// One invocation per vocabulary id (workgroups folded into x, y past the per-dimension limit). logits: f32, `vocab`
// entries from `row_offset`; seen: id i is bit i % 32 of word i / 32.

override WG: u32 = 256u;

struct Params {
  vocab: u32,
  row_offset: u32,
  penalty: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> seen: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.vocab || (seen[i >> 5u] & (1u << (i & 31u))) == 0u) { return; }
  let l = logits[p.row_offset + i];
  logits[p.row_offset + i] = select(l / p.penalty, l * p.penalty, l < 0.0);
}
