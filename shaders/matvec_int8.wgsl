// The one-token LLM.int8 product with an int8 weight (one part of it), x quantized inside the kernel:
//   x' = x (through RMSNorm where Params.norm says, matvec_io.wgsl)
//   outlier columns: |x'[c]| >= threshold (none when threshold is 0); s = absmax of the other columns / 127
//   xq[c] = clamp(round(x'[c] / s), -127, 127), 0 on outlier columns
//   y[r] = (sum_c xq[c] q[r, c]) · s · sw[r] + (sum_{c outlier} x'[c] q[r, c]) · sw[r]
// the same values int8_quantize_x.wgsl + int8_matmul.wgsl compute in two dispatches (the int8 sums exact in i32; the
// float sum over the outlier columns in another order, which may move its last bit). The outlier product reads the
// same weight words as the int8 one: the weight is read once. Every workgroup quantizes x itself (x is small and
// cached; a kernel of its own would cost a dispatch and a round trip through memory).
// W: int8 four per u32 (element 4i in the low byte), rows a multiple of 4 words, read as vec4<u32> (16 weights per
// load); scales: absmax/127 per whole row. Lanes, pairs and reductions as in matvec_f16.wgsl.
// dot4() comes from int8_dot4_packed.wgsl (dot4I8Packed) or int8_dot4_shifts.wgsl (shifts), put in front by the owner
// (workers/kernels/matvec-int8.ts) with the reduce prelude and matvec_io.wgsl.

@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> scales: array<f32>;

fn is_outlier(v: vec4<f32>) -> vec4<bool> {
  return (abs(v) >= vec4<f32>(p.threshold)) & vec4<bool>(p.threshold > 0.0);
}

// Four columns quantized with scale s into one word (0 on outlier columns), packed with shifts only.
fn quantize4(v: vec4<f32>, outlier: vec4<bool>, s: f32) -> u32 {
  let inlier = select(v, vec4<f32>(0.0), outlier);
  let q = select(vec4<f32>(0.0), clamp(round(inlier / s), vec4<f32>(-127.0), vec4<f32>(127.0)), s > 0.0);
  let b = bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu);
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

fn dot16(a: vec4<u32>, b: vec4<u32>) -> i32 {
  return dot4(a.x, b.x) + dot4(a.y, b.y) + dot4(a.z, b.z) + dot4(a.w, b.w);
}

// The four int8 of a word as f32.
fn bytes4(v: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(bitcast<i32>(v)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

// sum over the outlier columns among 16 of x'[c] · q[r, c] (wv: the row's 16 weights of those columns).
fn outlier_dot(wv: vec4<u32>, xs: array<vec4<f32>, 4>, os: array<vec4<bool>, 4>) -> f32 {
  return dot(select(vec4<f32>(0.0), xs[0], os[0]), bytes4(wv.x)) + dot(select(vec4<f32>(0.0), xs[1], os[1]), bytes4(wv.y)) +
         dot(select(vec4<f32>(0.0), xs[2], os[2]), bytes4(wv.z)) + dot(select(vec4<f32>(0.0), xs[3], os[3]), bytes4(wv.w));
}

fn product(flat: u32, lid: u32) -> Pairs {
  if (LANES > 1u) { lanes_init(lid); }
  let lane = lid % LANES;
  let unit0 = (flat * (WG / LANES) + lid / LANES) * PAIRS;
  let units = (p.rows + 1u) / 2u;
  let row_vecs = p.row_words / 4u;
  var rows: array<vec2<u32>, MAX_PAIRS>;
  for (var i = 0u; i < PAIRS; i++) {
    rows[i] = min(pair_rows(min(unit0 + i, units - 1u)), vec2<u32>(p.rows - 1u));
  }
  var inv = 1.0;
  if (p.norm != 0u) { inv = inv_rms(lane, lid); }

  // the token's scale: absmax of the columns that are not outliers
  var m = 0.0;
  for (var c = 4u * lane; c < p.k; c += 4u * LANES) {
    let v = xn4(c, inv);
    let a = select(abs(v), vec4<f32>(0.0), is_outlier(v));
    m = max(m, max(max(a.x, a.y), max(a.z, a.w)));
  }
  if (LANES > 1u) { m = lanes_max(m, lid); }
  let s = m / 127.0;

  var ai: array<vec2<i32>, MAX_PAIRS>;
  var af: array<vec2<f32>, MAX_PAIRS>;
  for (var j = lane; j < row_vecs; j += LANES) {
    let c = 16u * j;
    let xs = array<vec4<f32>, 4>(xn4(c, inv), xn4(c + 4u, inv), xn4(c + 8u, inv), xn4(c + 12u, inv));
    let os = array<vec4<bool>, 4>(is_outlier(xs[0]), is_outlier(xs[1]), is_outlier(xs[2]), is_outlier(xs[3]));
    let xq = vec4<u32>(quantize4(xs[0], os[0], s), quantize4(xs[1], os[1], s), quantize4(xs[2], os[2], s), quantize4(xs[3], os[3], s));
    let any_outlier = any(os[0] | os[1] | os[2] | os[3]);
    for (var i = 0u; i < PAIRS; i++) {
      let wa = w[rows[i].x * row_vecs + j];
      let wb = w[rows[i].y * row_vecs + j];
      ai[i] += vec2<i32>(dot16(wa, xq), dot16(wb, xq));
      if (any_outlier) { af[i] += vec2<f32>(outlier_dot(wa, xs, os), outlier_dot(wb, xs, os)); }
    }
  }
  if (LANES > 1u) {
    for (var i = 0u; i < PAIRS; i += 2u) {
      let i1 = min(i + 1u, MAX_PAIRS - 1u);
      let s = lanes_sum_if(vec4<i32>(ai[i], ai[i1]), vec4<f32>(af[i], af[i1]), lid);
      ai[i] = s.i.xy;
      ai[i1] = s.i.zw;
      af[i] = s.f.xy;
      af[i1] = s.f.zw;
    }
  }
  // rescale as int8_matmul.wgsl does: y = ai · s · sw + af · sw
  var v: array<vec2<f32>, MAX_PAIRS>;
  for (var i = 0u; i < PAIRS; i++) {
    let sw = vec2<f32>(scales[p.row0 + rows[i].x], scales[p.row0 + rows[i].y]);
    v[i] = vec2<f32>(ai[i]) * s * sw + af[i] * sw;
  }
  return Pairs(unit0, lane == 0u, v);
}
