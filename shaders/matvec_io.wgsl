// What the one-token products (matvec_f16.wgsl, matvec_int8.wgsl) share: how x is read (optionally through RMSNorm),
// which weight rows a thread pairs, and the epilogues that turn a pair of finished rows into the layer's output, one
// entry point per epilogue (so each pipeline binds only what its epilogue writes). Not a kernel by itself: the owner
// (workers/kernels/matvec-io.ts) puts it after the kernel's preludes (and Step, shaders/step.wgsl) and before the kernel, which defines
//   fn product(flat: u32, lid: u32) -> Pairs   (the finished rows of this thread's pairs, bias not yet added).
//
// Rows come in pairs, so that an epilogue that needs two rows has both in one thread:
//   span 2           rows (2u, 2u + 1)                          plain products (store, residual)
//   span 2B (glu)    rows (b·2B + i, b·2B + B + i): gate row bB + i and up row bB + i of a weight concatenated in
//                    blocks of B gate rows then B up rows, so out[bB + i] = act(gate) · up
//   span head_dim    rows (h·hd + i, h·hd + i + rot_half) for i < rot_half: the two halves RoPE rotates together;
//   (rope_kv)        the dims past 2·rot_half (partial rotary; all of them for a NoPE layer) pair up unrotated.
// A part of a split weight starts at a multiple of the span, so pairs never straddle parts.

struct Params {
  rows: u32,            // weight rows in this part
  row_words: u32,       // u32 words per weight row (a multiple of 4: rows start on a vec4)
  row0: u32,            // first row of this part in the whole weight (bias, scales and outputs use whole rows)
  k: u32,               // input features
  span: u32,            // pair layout (above)
  rot_half: u32,        // rotated pairs per span (span / 2 except in rope_kv: partial rotary, 0 for NoPE)
  has_bias: u32,
  norm: u32,            // 1: x is read through RMSNorm
  norm_eps: f32,
  norm_offset: f32,     // 0, or 1 where the model scales by (1 + w) (Gemma)
  residual_scale: f32,  // residual: x += residual_scale · (W x + b)
  activation: u32,      // glu: 0 silu, 1 gelu (tanh approximation)
  n_heads: u32,         // rope_kv: query heads, then n_kv_heads key heads, then n_kv_heads value heads
  n_kv_heads: u32,
  head_dim: u32,
  v_offset: u32,        // rope_kv: floats from the start of kv to the value cache
  threshold: f32,       // int8: |x| >= threshold makes an outlier column (0: none)
  cache_rows: u32,      // rope_kv: rows of each cache (position p in row p mod cache_rows: a sliding-window ring)
  _b: u32,
  _c: u32,
}

override WG: u32 = 64u;     // threads per workgroup
override LANES: u32 = 64u;  // threads sharing a group of rows: 1 (CPU adapters: no reduction at all) or WG
override PAIRS: u32 = 2u;   // row pairs per lane group, at most MAX_PAIRS
const MAX_PAIRS = 8u;

// What lanes_sum_if (the reduce preludes) returns.
struct SumIF { i: vec4<i32>, f: vec4<f32> }

struct Pairs {
  unit0: u32,                         // first pair (of this part) the thread computed
  lead: bool,                         // this thread stores them (lane 0 of its lane group)
  v: array<vec2<f32>, MAX_PAIRS>,     // (row r0, row r1) of each pair
}

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;  // [tokens, k] f32 (k a multiple of 4)
@group(0) @binding(2) var<storage, read> g: array<vec2<u32>>;  // [k] RMSNorm weight, fp16 packed two per u32
@group(0) @binding(3) var<storage, read> bias: array<u32>;    // [whole rows] fp16 packed two per u32
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<uniform> step: Step;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;  // y | the residual stream | glu output | q
@group(0) @binding(8) var<storage, read_write> kv: array<f32>;   // rope_kv: key cache, then (v_offset) value cache
@group(0) @binding(9) var<storage, read> table: array<vec2<f32>>;  // rope_kv: (cos, sin) [context, rot_half]

// x[row, c .. c + 4) for c a multiple of 4 (0 past k): one 16-byte load.
fn x4(c: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), x[(step.row * p.k + min(c, p.k - 4u)) / 4u], c < p.k);
}

// The RMSNorm weight of columns c .. c + 4 (c a multiple of 4), plus the offset.
fn g4(c: u32) -> vec4<f32> {
  let w = g[min(c, p.k - 4u) / 4u];
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)) + p.norm_offset;
}

// 1 / rms(x[row]) over the columns this lane reads, summed over the lane group by lanes_sum (reduce prelude).
fn inv_rms(lane: u32, lid: u32) -> f32 {
  var ss = 0.0;
  for (var c = 4u * lane; c < p.k; c += 4u * LANES) {
    let v = x4(c);
    ss += dot(v, v);
  }
  if (LANES > 1u) { ss = lanes_sum(vec4<f32>(ss, 0.0, 0.0, 0.0), lid).x; }
  return inverseSqrt(ss / f32(p.k) + p.norm_eps);
}

// x[row, c .. c + 4) as the product reads it: normed where p.norm, i.e. w · (x · inv) as rmsnorm.wgsl computes it.
fn xn4(c: u32, inv: f32) -> vec4<f32> {
  let v = x4(c);
  if (p.norm == 0u) { return v; }
  return g4(c) * (v * inv);
}

// The two rows (of this part) of pair u.
fn pair_rows(u: u32) -> vec2<u32> {
  let half = p.span / 2u;
  let b = u / half;
  let i = u % half;
  let rh = p.rot_half;
  // rotated: (i, i + rh); past them: 2·rh + (i - rh) and (half - rh) further
  let d = select(vec2<u32>(rh + i, half + i), vec2<u32>(i, i + rh), i < rh);
  return b * p.span + d;
}

fn bias_at(row: u32) -> f32 {
  if (p.has_bias == 0u) { return 0.0; }
  let b = unpack2x16float(bias[row / 2u]);
  return select(b.x, b.y, (row & 1u) == 1u);
}

fn pairs_here(nwg: vec3<u32>, wg: vec3<u32>, lid: u32) -> Pairs {
  return product(wg.x + wg.y * nwg.x, lid);
}

// y[row0 + r] = W x + b
@compute @workgroup_size(WG)
fn store(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let r = pairs_here(nwg, wg, lid);
  if (!r.lead) { return; }
  for (var i = 0u; i < PAIRS; i++) {
    let rows = pair_rows(r.unit0 + i);
    if (rows.x < p.rows) { out[p.row0 + rows.x] = r.v[i].x + bias_at(p.row0 + rows.x); }
    if (rows.y < p.rows) { out[p.row0 + rows.y] = r.v[i].y + bias_at(p.row0 + rows.y); }
  }
}

// x[row0 + r] += residual_scale · (W x + b): o_proj and down_proj adding into the residual stream.
@compute @workgroup_size(WG)
fn residual(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let r = pairs_here(nwg, wg, lid);
  if (!r.lead) { return; }
  for (var i = 0u; i < PAIRS; i++) {
    let rows = pair_rows(r.unit0 + i);
    if (rows.x < p.rows) {
      let o = p.row0 + rows.x;
      out[o] = out[o] + p.residual_scale * (r.v[i].x + bias_at(o));
    }
    if (rows.y < p.rows) {
      let o = p.row0 + rows.y;
      out[o] = out[o] + p.residual_scale * (r.v[i].y + bias_at(o));
    }
  }
}

// out[j] = act(gate_j(x) + b) · (up_j(x) + b) over a gate/up weight concatenated in blocks (span 2B); activation()
// comes from activation.wgsl.
@compute @workgroup_size(WG)
fn glu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let r = pairs_here(nwg, wg, lid);
  if (!r.lead) { return; }
  let units = p.rows / 2u;
  for (var i = 0u; i < PAIRS; i++) {
    let u = r.unit0 + i;
    if (u >= units) { break; }
    let rows = p.row0 + pair_rows(u);
    out[p.row0 / 2u + u] = activation(r.v[i].x + bias_at(rows.x), p.activation) * (r.v[i].y + bias_at(rows.y));
  }
}

// q, k, v of one token from a weight concatenated [q heads; k heads; v heads] (span head_dim): bias, RoPE on q and
// k (rotate-half, (cos, sin) of position step.pos from the table), q to out, k and v to the cache row of step.pos
// (step.pos mod cache_rows: a sliding-window layer's cache is a ring).
@compute @workgroup_size(WG)
fn rope_kv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let r = pairs_here(nwg, wg, lid);
  if (!r.lead) { return; }
  let units = p.rows / 2u;
  let hd = p.head_dim;
  let kv_rows = p.n_kv_heads * hd;
  let row = step.pos % p.cache_rows;
  for (var i = 0u; i < PAIRS; i++) {
    let u = r.unit0 + i;
    if (u >= units) { break; }
    let rows = p.row0 + pair_rows(u);
    var a = r.v[i].x + bias_at(rows.x);
    var b = r.v[i].y + bias_at(rows.y);
    let head = rows.x / hd;
    let d = rows % vec2<u32>(hd);
    let rotated = head < p.n_heads + p.n_kv_heads && d.x < p.rot_half;
    if (rotated) {
      let cs = table[step.pos * p.rot_half + d.x];
      let a0 = a;
      a = a0 * cs.x - b * cs.y;
      b = b * cs.x + a0 * cs.y;
    }
    if (head < p.n_heads) {
      out[rows.x] = a;
      out[rows.y] = b;
    } else if (head < p.n_heads + p.n_kv_heads) {
      let o = row * kv_rows + (head - p.n_heads) * hd;
      kv[o + d.x] = a;
      kv[o + d.y] = b;
    } else {
      let o = p.v_offset + row * kv_rows + (head - p.n_heads - p.n_kv_heads) * hd;
      kv[o + d.x] = a;
      kv[o + d.y] = b;
    }
  }
}
