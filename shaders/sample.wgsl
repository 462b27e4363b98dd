// Picks the next token from one row of logits on the GPU, so decoding reads back one u32, not the logits.
//   temperature <= 0 or top_k == 1: argmax (the lowest id among equal maxima, as torch.argmax).
//   otherwise, as transformers' warpers in order: logits / temperature, keep the top_k largest (0 = all; ties at the
//   k-th value kept), keep the smallest set of largest probabilities whose mass reaches top_p (1 = all), then draw
//   with a uniform number from (seed, kv_len), so a seed replays the same text.
// Thresholds are found by bisection over the float's order-preserving u32 key (exact, 32 rounds each).
// One workgroup. logits: f32, `vocab` entries from `row_offset`; out[0]: the token id.

override WG: u32 = 256u;

struct Params {
  vocab: u32,
  top_k: u32,
  seed: u32,
  row_offset: u32,
  temperature: f32,
  top_p: f32,
}

struct Step { tokens: u32, pos: u32, kv_len: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> chosen: u32;

fn order_key(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn sum_f(v: f32, lid: u32) -> f32 {
  red_f[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red_f[lid] += red_f[lid + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red_f[0]);
}

fn sum_u(v: u32, lid: u32) -> u32 {
  red_u[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red_u[lid] += red_u[lid + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red_u[0]);
}

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// exp((l - max) / temperature): the unnormalised probability of one logit.
fn weight(l: f32, row_max: f32) -> f32 {
  return exp((l - row_max) / p.temperature);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = p.vocab;
  let base = p.row_offset;

  // Argmax: each thread scans a stride (ids increasing, so `>` keeps the lowest id), then a tree picks the best.
  var best = -3.4e38;
  var best_id = 0xffffffffu;
  for (var i = lid; i < n; i += WG) {
    let v = logits[base + i];
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
  let row_max = workgroupUniformLoad(&red_f[0]);
  let argmax = workgroupUniformLoad(&red_u[0]);
  if (p.temperature <= 0.0 || p.top_k == 1u) {
    if (lid == 0u) { out[0] = argmax; }
    return;
  }

  // Top-k: the largest key threshold that still keeps at least top_k logits.
  var k_lo = 0u;
  if (p.top_k > 0u && p.top_k < n) {
    var hi = 0xffffffffu;
    for (var r = 0u; r < 32u; r++) {
      let d = hi - k_lo;
      let mid = k_lo + d / 2u + (d & 1u);
      var c = 0u;
      for (var i = lid; i < n; i += WG) { c += select(0u, 1u, order_key(logits[base + i]) >= mid); }
      if (sum_u(c, lid) >= p.top_k) { k_lo = mid; } else { hi = mid - 1u; }
    }
  }

  // Top-p: the largest threshold (at least the top-k one) whose kept mass reaches top_p of the top-k mass.
  var mass_k = 0.0;
  for (var i = lid; i < n; i += WG) {
    let l = logits[base + i];
    if (order_key(l) >= k_lo) { mass_k += weight(l, row_max); }
  }
  let total_k = sum_f(mass_k, lid);
  var p_lo = k_lo;
  if (p.top_p < 1.0) {
    var hi = order_key(row_max);
    let need = p.top_p * total_k;
    for (var r = 0u; r < 32u; r++) {
      let d = hi - p_lo;
      let mid = p_lo + d / 2u + (d & 1u);
      var m = 0.0;
      for (var i = lid; i < n; i += WG) {
        let l = logits[base + i];
        if (order_key(l) >= mid) { m += weight(l, row_max); }
      }
      if (sum_f(m, lid) >= need) { p_lo = mid; } else { hi = mid - 1u; }
    }
  }

  // Draw: each thread owns a contiguous chunk of ids, so a prefix over threads orders the kept mass by id.
  let chunk = (n + WG - 1u) / WG;
  let start = min(lid * chunk, n);
  let end = min(start + chunk, n);
  var mine = 0.0;
  for (var i = start; i < end; i++) {
    let l = logits[base + i];
    if (order_key(l) >= p_lo) { mine += weight(l, row_max); }
  }
  red_f[lid] = mine;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var i = 0u; i < WG; i++) { total += red_f[i]; }
    let u = f32(pcg(p.seed ^ pcg(step.kv_len)) >> 8u) * (1.0 / 16777216.0);
    var goal = u * total;
    var owner = WG;
    for (var i = 0u; i < WG; i++) {
      if (goal < red_f[i]) { owner = i; break; }
      goal -= red_f[i];
    }
    red_u[0] = owner;
    red_f[0] = goal;
    chosen = argmax;  // fallback when rounding leaves the goal past the end
  }
  workgroupBarrier();
  if (lid == red_u[0]) {
    var goal = red_f[0];
    var last = 0xffffffffu;
    for (var i = start; i < end; i++) {
      let l = logits[base + i];
      if (order_key(l) >= p_lo) {
        last = i;
        let w = weight(l, row_max);
        if (goal < w) { break; }
        goal -= w;
      }
    }
    if (last != 0xffffffffu) { chosen = last; }
  }
  workgroupBarrier();
  if (lid == 0u) { out[0] = chosen; }
}
