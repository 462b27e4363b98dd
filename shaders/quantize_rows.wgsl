// Load-time LLM.int8 weight quantization of the rows r of one source/destination part pair:
//   scale[r] = absmax(W[r, :]) / 127          (f32; 0 for an all-zero row)
//   q[r, c]  = clamp(round(W[r, c] / scale[r]), -127, 127)
// WGSL round() rounds half to even, exactly like torch.round in the reference emulation; the division is an f32
// division as in torch (W / scale), not a multiplication by 127 / absmax. Where the adapter's division is correctly
// rounded (lavapipe) the results are the reference's bit for bit; WGSL allows 2.5 ulp (SwiftShader is 1 ulp low), which
// moves a scale by an ulp and an int8 value by 1 only at an exact .5 tie: far below what the model checks can see.
// W: fp16 packed two per u32 (f16x2, element 2i in the low half). q: int8 packed four per u32 (i8x4, element 4i in
// the low byte), each row padded to a whole u32 with zeros. Packing uses shifts only (no packed_4x8 builtins).

// Each workgroup quantizes WG / TPR rows; the TPR threads of a row stride over it and reduce its absmax in workgroup
// memory. TPR = 1 (one thread per row, no barriers) is for CPU adapters, where barriers cost more than the math.
override WG: u32 = 64u;
override TPR: u32 = 64u;  // threads per row: a power of two dividing WG

struct Params {
  rows: u32,           // rows handled by this dispatch
  src_row0: u32,       // first row inside the source part
  dst_row0: u32,       // first row inside the destination part
  scale_row0: u32,     // first row of the whole tensor (index into scales)
  k: u32,              // elements per row
  src_row_words: u32,  // ceil(k / 2)
  dst_row_words: u32,  // ceil(k / 4)
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read_write> scales: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

// Element c of the source row starting at word `base`; 0 past k (the padding half of an odd row).
fn src_value(base: u32, c: u32) -> f32 {
  if (c >= p.k) { return 0.0; }
  let v = unpack2x16float(src[base + c / 2u]);
  return select(v.x, v.y, (c & 1u) == 1u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  let row = (wg.x + wg.y * nwg.x) * (WG / TPR) + lid / TPR;
  let valid = row < p.rows;
  let sbase = (p.src_row0 + row) * p.src_row_words;

  // 1. absmax of the row
  var m = 0.0;
  if (valid) {
    for (var j = lane; j < p.src_row_words; j += TPR) {
      m = max(m, max(abs(src_value(sbase, 2u * j)), abs(src_value(sbase, 2u * j + 1u))));
    }
  }
  if (TPR > 1u) {
    partial[lid] = m;
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
      if (lane < s) { partial[lid] = max(partial[lid], partial[lid + s]); }
      workgroupBarrier();
    }
    m = partial[lid - lane];
  }
  if (!valid) { return; }
  let scale = m / 127.0;

  // 2. quantize and pack four per word
  let dbase = (p.dst_row0 + row) * p.dst_row_words;
  for (var j = lane; j < p.dst_row_words; j += TPR) {
    var word = 0u;
    for (var b = 0u; b < 4u; b++) {
      let q = select(0.0, clamp(round(src_value(sbase, 4u * j + b) / scale), -127.0, 127.0), scale > 0.0);
      word |= (bitcast<u32>(i32(q)) & 0xffu) << (8u * b);
    }
    dst[dbase + j] = word;
  }
  if (lane == 0u) { scales[p.scale_row0 + row] = scale; }
}
