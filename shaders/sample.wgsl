// Picks the next token from one row of logits on the GPU, so decoding reads back one u32, not the logits.
// The rules are workers/model/sampler-cpu.ts's (the CPU reference), with the caller's uniform draw u:
//   1. temperature <= 0 or top_k == 1: argmax, the lowest id among equal maxima.
//   2. w[i] = exp((l[i] - max) / temperature); order ids by w descending, the lower id first on ties;
//   3. keep the first top_k (0 = all); 4. of those, the shortest prefix whose mass reaches top_p of theirs;
//   5. return the first kept id (in that order) whose running mass exceeds u × (kept mass).
// Every "prefix of the order" is a cut (t, c): ids whose order key is > t, or == t with id <= c (the order key of a
// float is a u32 that sorts like the float). Cuts are found by bisection, first over t (32 rounds), then over c.
// One workgroup. logits: f32, `vocab` entries from `row_offset`; out[0]: the token id.

override WG: u32 = 256u;

struct Params {
  vocab: u32,
  top_k: u32,
  row_offset: u32,
  _pad: u32,
  temperature: f32,
  top_p: f32,
  u: f32,     // uniform draw in [0, 1)
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

const ALL = 0xffffffffu;

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<private> row_max: f32;
var<private> k_cut: vec2<u32>;  // the top-k prefix
var<private> p_cut: vec2<u32>;  // the top-p prefix

fn order_key(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn in_cut(key: u32, id: u32, cut: vec2<u32>) -> bool {
  return key > cut.x || (key == cut.x && id <= cut.y);
}

// Over the ids inside `cut` and inside both current cuts: how many (count) or their mass (sum of w).
fn measure(cut: vec2<u32>, count: bool, lid: u32) -> f32 {
  var acc = 0.0;
  for (var i = lid; i < p.vocab; i += WG) {
    let l = logits[p.row_offset + i];
    let key = order_key(l);
    if (in_cut(key, i, cut) && in_cut(key, i, k_cut) && in_cut(key, i, p_cut)) {
      acc += select(exp((l - row_max) / p.temperature), 1.0, count);
    }
  }
  red_f[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red_f[lid] += red_f[lid + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red_f[0]);
}

fn meets(v: f32, goal: f32, strict: bool) -> bool {
  return select(v >= goal, v > goal, strict);
}

// The shortest prefix of the order (within the current cuts) whose count or mass reaches `goal` (exceeds, if strict).
fn find_cut(goal: f32, count: bool, strict: bool, lid: u32) -> vec2<u32> {
  var lo = 0u;
  var hi = ALL;
  for (var r = 0u; r < 32u; r++) {
    let d = hi - lo;
    let mid = lo + d / 2u + (d & 1u);
    if (meets(measure(vec2<u32>(mid, ALL), count, lid), goal, strict)) { lo = mid; } else { hi = mid - 1u; }
  }
  var clo = 0u;
  var chi = p.vocab - 1u;
  for (var r = 0u; r < 32u; r++) {
    let mid = clo + (chi - clo) / 2u;
    if (meets(measure(vec2<u32>(lo, mid), count, lid), goal, strict)) { chi = mid; } else { clo = mid + 1u; }
  }
  return vec2<u32>(lo, chi);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  // Argmax: each thread scans a stride (ids increasing, so `>` keeps the lowest id), then a tree picks the best.
  var best = -3.4e38;
  var best_id = 0u;
  for (var i = lid; i < p.vocab; i += WG) {
    let v = logits[p.row_offset + i];
    if (v > best) { best = v; best_id = i; }
  }
  red_f[lid] = best;
  red_u[lid] = best_id;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let ov = red_f[lid + s];
      let oi = red_u[lid + s];
      if (ov > red_f[lid] || (ov == red_f[lid] && oi < red_u[lid])) { red_f[lid] = ov; red_u[lid] = oi; }
    }
    workgroupBarrier();
  }
  row_max = workgroupUniformLoad(&red_f[0]);
  let argmax = workgroupUniformLoad(&red_u[0]);
  if (p.temperature <= 0.0 || p.top_k == 1u) {
    if (lid == 0u) { out[0] = argmax; }
    return;
  }

  let everything = vec2<u32>(0u, ALL);
  k_cut = everything;
  p_cut = everything;
  if (p.top_k > 0u && p.top_k < p.vocab) { k_cut = find_cut(f32(p.top_k), true, false, lid); }
  if (p.top_p < 1.0) { p_cut = find_cut(p.top_p * measure(everything, false, lid), false, false, lid); }
  let total = measure(everything, false, lid);
  // u < 1, but u × total may round up to total: then take the last kept id (the reference's rounding fallback).
  let goal = min(p.u * total, total * (1.0 - 1.0 / 8388608.0));
  let pick = find_cut(goal, false, true, lid);
  if (lid == 0u) { out[0] = pick.y; }
}
