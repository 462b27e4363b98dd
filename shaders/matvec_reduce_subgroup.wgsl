// Lane reductions for the one-token products (matvec_f16.wgsl, matvec_int8.wgsl) with subgroups (the owner puts
// `enable subgroups;` first): subgroupAdd / subgroupMax within each subgroup, then one value per subgroup through
// workgroup memory. WGSL does not say how a workgroup's threads form subgroups, so lanes_init numbers them itself: each
// subgroup's elected thread claims a slot and records its subgroup's first thread, and every subgroup's rank is the
// order of those first threads (so the final sums are taken in the same order every run). Called only when
// LANES = WG > 1, in uniform control flow; every thread gets the result. RED = WG (at most WG / 4 subgroups).

override RED: u32 = 64u;
var<workgroup> sg_count: atomic<u32>;
var<workgroup> sg_first: array<u32, RED>;
var<workgroup> red_f: array<vec4<f32>, RED>;
var<workgroup> red_i: array<vec4<i32>, RED>;
var<private> sg_rank: u32;
var<private> sg_n: u32;

fn lanes_init(lid: u32) {
  let first = subgroupMin(lid);
  if (subgroupElect()) { sg_first[atomicAdd(&sg_count, 1u)] = first; }
  workgroupBarrier();
  sg_n = atomicLoad(&sg_count);
  var rank = 0u;
  for (var i = 0u; i < sg_n; i++) { rank += u32(sg_first[i] < first); }
  sg_rank = rank;
}

fn lanes_sum(v: vec4<f32>, lid: u32) -> vec4<f32> {
  let s = subgroupAdd(v);
  workgroupBarrier();  // the previous reduction's readers are done
  if (subgroupElect()) { red_f[sg_rank] = s; }
  workgroupBarrier();
  var t = vec4<f32>(0.0);
  for (var i = 0u; i < sg_n; i++) { t += red_f[i]; }
  return t;
}

// An i32 and an f32 sum at once (the int8 product's two accumulators), through the same two barriers.
fn lanes_sum_if(vi: vec4<i32>, vf: vec4<f32>, lid: u32) -> SumIF {
  let si = subgroupAdd(vi);
  let sf = subgroupAdd(vf);
  workgroupBarrier();
  if (subgroupElect()) {
    red_i[sg_rank] = si;
    red_f[sg_rank] = sf;
  }
  workgroupBarrier();
  var t = SumIF(vec4<i32>(0), vec4<f32>(0.0));
  for (var i = 0u; i < sg_n; i++) {
    t.i += red_i[i];
    t.f += red_f[i];
  }
  return t;
}

fn lanes_max(v: f32, lid: u32) -> f32 {
  let s = subgroupMax(v);
  workgroupBarrier();
  if (subgroupElect()) { red_f[sg_rank] = vec4<f32>(s); }
  workgroupBarrier();
  var t = 0.0;
  for (var i = 0u; i < sg_n; i++) { t = max(t, red_f[i].x); }
  return t;
}
