// The one-token product with an fp16 weight (one part of it): the finished rows of this thread's pairs, W x, with x
// read through RMSNorm where Params.norm says (matvec_io.wgsl, which also holds the epilogues and entry points).
// W: fp16 packed two per u32, rows a multiple of 4 words, read as vec4<u32> (8 weights per load). x: f32.
// Each workgroup computes PAIRS pairs of rows per lane group: LANES = WG (GPUs) spreads a row's vec4 columns over the
// whole workgroup (neighbouring threads read neighbouring 16 bytes) and sums with lanes_sum; LANES = 1 (CPU adapters,
// where a barrier costs far more than the math) gives each thread its own pairs and needs no reduction at all.
// half2() — two fp16 of a u32 as f32 — comes from matvec_f16_packed.wgsl (unpack2x16float, everywhere) or
// matvec_f16_native.wgsl (an f16 load, with shader-f16); lanes_sum from matvec_reduce_subgroup.wgsl (subgroupAdd) or
// matvec_reduce_workgroup.wgsl (a tree in workgroup memory). The owner (workers/kernels/matvec.ts) puts them in front.

@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;

fn dot8(v: vec4<u32>, a: vec4<f32>, b: vec4<f32>) -> f32 {
  return dot(vec4<f32>(half2(v.x), half2(v.y)), a) + dot(vec4<f32>(half2(v.z), half2(v.w)), b);
}

fn product(flat: u32, lid: u32) -> Pairs {
  if (LANES > 1u) { lanes_init(lid); }
  let lane = lid % LANES;
  let unit0 = (flat * (WG / LANES) + lid / LANES) * PAIRS;
  let units = (p.rows + 1u) / 2u;
  let row_vecs = p.row_words / 4u;
  // where each pair's two rows start (pairs past the end read the last row; they are never stored)
  var base: array<vec2<u32>, MAX_PAIRS>;
  for (var i = 0u; i < PAIRS; i++) {
    base[i] = min(pair_rows(min(unit0 + i, units - 1u)), vec2<u32>(p.rows - 1u)) * row_vecs;
  }
  var inv = 1.0;
  if (p.norm != 0u) { inv = inv_rms(lane, lid); }

  var acc: array<vec2<f32>, MAX_PAIRS>;
  for (var j = lane; j < row_vecs; j += LANES) {
    let xa = xn4(8u * j, inv);
    let xb = xn4(8u * j + 4u, inv);
    for (var i = 0u; i < PAIRS; i++) {
      acc[i] += vec2<f32>(dot8(w[base[i].x + j], xa, xb), dot8(w[base[i].y + j], xa, xb));
    }
  }
  if (LANES > 1u) {
    for (var i = 0u; i < PAIRS; i += 2u) {
      let s = lanes_sum(vec4<f32>(acc[i], acc[min(i + 1u, MAX_PAIRS - 1u)]), lid);
      acc[i] = s.xy;
      acc[min(i + 1u, MAX_PAIRS - 1u)] = s.zw;
    }
  }
  return Pairs(unit0, lane == 0u, acc);
}
