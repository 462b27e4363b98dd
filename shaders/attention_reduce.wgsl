// Workgroup reductions shared by the two attention passes that walk cache positions (attention.wgsl and
// attention_split.wgsl). Not a kernel: attention.ts puts this file in front of each (WGSL has no includes). Every
// invocation of the workgroup calls these in uniform control flow and gets the result.

var<workgroup> red: array<f32, WG>;

fn reduce_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red[0]);
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red[0]);
}
