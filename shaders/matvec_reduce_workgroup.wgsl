// Lane reductions for the one-token products (matvec_f16.wgsl, matvec_int8.wgsl) without subgroups: a tree in
// workgroup memory over the WG threads (log2 WG barriers). Called only when LANES = WG > 1, in uniform control flow;
// every thread gets the result. RED = WG (1 where LANES = 1: nothing is reduced, and little memory is zeroed).
// lanes_init has nothing to set up here (the subgroup prelude numbers its subgroups).

override RED: u32 = 64u;
var<workgroup> red_f: array<vec4<f32>, RED>;
var<workgroup> red_i: array<vec4<i32>, RED>;

fn lanes_init(lid: u32) {}

fn lanes_sum(v: vec4<f32>, lid: u32) -> vec4<f32> {
  workgroupBarrier();  // the previous reduction's readers are done
  red_f[lid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { red_f[lid] += red_f[lid + s]; }
  }
  return workgroupUniformLoad(&red_f[0]);
}

// An i32 and an f32 sum at once (the int8 product's two accumulators), through the same barriers.
fn lanes_sum_if(vi: vec4<i32>, vf: vec4<f32>, lid: u32) -> SumIF {
  workgroupBarrier();
  red_i[lid] = vi;
  red_f[lid] = vf;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      red_i[lid] += red_i[lid + s];
      red_f[lid] += red_f[lid + s];
    }
  }
  workgroupBarrier();
  return SumIF(red_i[0], red_f[0]);
}

fn lanes_max(v: f32, lid: u32) -> f32 {
  workgroupBarrier();
  red_f[lid] = vec4<f32>(v);
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { red_f[lid] = max(red_f[lid], red_f[lid + s]); }
  }
  return workgroupUniformLoad(&red_f[0]).x;
}
