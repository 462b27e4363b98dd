// Lane reductions for the one-token products (matvec_f16.wgsl, matvec_int8.wgsl) with subgroups (the owner puts
// `enable subgroups;` first): subgroupAdd / subgroupMax, then one value per subgroup through workgroup memory.
// WGSL does not say how a workgroup's threads form subgroups, so each subgroup's elected thread writes at its own
// index of a WG-long array (zero elsewhere: workgroup memory starts zeroed, and the same threads are elected every
// time) and every thread sums all of it, in index order (deterministic). Called only when LANES = WG > 1, in uniform
// control flow; every thread gets the result. RED = WG.

override RED: u32 = 64u;
var<workgroup> red_f: array<vec4<f32>, RED>;
var<workgroup> red_i: array<vec4<i32>, RED>;

fn lanes_sum(v: vec4<f32>, lid: u32) -> vec4<f32> {
  let s = subgroupAdd(v);
  workgroupBarrier();  // the previous reduction's readers are done
  if (subgroupElect()) { red_f[lid] = s; }
  workgroupBarrier();
  var t = vec4<f32>(0.0);
  for (var i = 0u; i < RED; i++) { t += red_f[i]; }
  return t;
}

fn lanes_sum_i(v: vec4<i32>, lid: u32) -> vec4<i32> {
  let s = subgroupAdd(v);
  workgroupBarrier();
  if (subgroupElect()) { red_i[lid] = s; }
  workgroupBarrier();
  var t = vec4<i32>(0);
  for (var i = 0u; i < RED; i++) { t += red_i[i]; }
  return t;
}

// v >= 0 (an absmax): the zeros of the other entries do not change the maximum.
fn lanes_max(v: f32, lid: u32) -> f32 {
  let s = subgroupMax(v);
  workgroupBarrier();
  if (subgroupElect()) { red_f[lid] = vec4<f32>(s); }
  workgroupBarrier();
  var t = 0.0;
  for (var i = 0u; i < RED; i++) { t = max(t, red_f[i].x); }
  return t;
}
