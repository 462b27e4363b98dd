// y[t, y_offset + r] = sum_k x[t, k] * W[r, k] for one part of an fp16 weight, for several tokens (prefill), on GPUs:
// the workgroup-memory tiled twin of matmul_f16.wgsl (which CPU adapters keep: it has no barriers).
// Each workgroup of 16 × 16 threads computes 64 rows × 64 tokens, each thread 4 rows × 4 tokens, walking k in tiles of
// 32: the weight tile (64 rows × 32 halves, one vec4<u32> load per thread) and the x tile (64 tokens × 32 floats) are
// staged in workgroup memory once and read there by the 16 threads that need each value.
// W: fp16 packed two per u32, rows a multiple of 4 words (vec4 aligned; padding words are 0), `row_words` per row.
// x: f32 [tokens, k]; y: f32 [tokens, n].

const TILE_N: u32 = 64u;  // rows per workgroup
const TILE_T: u32 = 64u;  // tokens per workgroup
const TILE_K: u32 = 32u;  // halves per k step (4 vec4<u32> per row)

struct Params {
  rows: u32,       // rows in this part
  row_words: u32,  // u32 words per weight row (a multiple of 4)
  y_offset: u32,   // where this part's first row goes in a y row
  k: u32,          // input features
  n: u32,          // output features (y row stride)
}

// struct Step { tokens, pos, kv_len, row }: step.wgsl, put in front by the owner.

@group(0) @binding(0) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

var<workgroup> ws: array<vec4<u32>, 256>;  // [64 rows][4 vec4] of this k tile
var<workgroup> xs: array<vec4<f32>, 512>;  // [64 tokens][8 vec4] of this k tile

fn dot8(v: vec4<u32>, a: vec4<f32>, b: vec4<f32>) -> f32 {
  return dot(vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)), a) + dot(vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w)), b);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row0 = (wg.x + wg.y * nwg.x) * TILE_N;
  let tok0 = wg.z * TILE_T;
  let tokens = step.tokens;
  let row_vecs = p.row_words / 4u;
  // what this thread loads: weight row li / 4, vec4 li % 4; x token li / 8 and li / 8 + 32, vec4 li % 8
  let lr = row0 + li / 4u;
  let lt = tok0 + li / 8u;
  var acc: array<vec4<f32>, 4>;  // [row i][token j]
  for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
    let v = k0 / 8u + li % 4u;
    ws[li] = select(vec4<u32>(0u), w[min(lr, p.rows - 1u) * row_vecs + min(v, row_vecs - 1u)], lr < p.rows && v < row_vecs);
    for (var h = 0u; h < 2u; h++) {
      let t = lt + 32u * h;
      let c = k0 + 4u * (li % 8u);
      let b = min(t, tokens - 1u) * p.k;
      var xv = vec4<f32>(0.0);
      if (t < tokens) {
        xv = vec4<f32>(x[b + min(c, p.k - 1u)], x[b + min(c + 1u, p.k - 1u)], x[b + min(c + 2u, p.k - 1u)], x[b + min(c + 3u, p.k - 1u)]) *
             vec4<f32>(vec4<bool>(c < p.k, c + 1u < p.k, c + 2u < p.k, c + 3u < p.k));
      }
      xs[li + 256u * h] = xv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 4u; kk++) {
      let wv = array<vec4<u32>, 4>(ws[(4u * lid.x) * 4u + kk], ws[(4u * lid.x + 1u) * 4u + kk],
                                   ws[(4u * lid.x + 2u) * 4u + kk], ws[(4u * lid.x + 3u) * 4u + kk]);
      for (var j = 0u; j < 4u; j++) {
        let t = 4u * lid.y + j;
        let xa = xs[t * 8u + 2u * kk];
        let xb = xs[t * 8u + 2u * kk + 1u];
        acc[j] += vec4<f32>(dot8(wv[0], xa, xb), dot8(wv[1], xa, xb), dot8(wv[2], xa, xb), dot8(wv[3], xa, xb));
      }
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < 4u; j++) {
    let t = tok0 + 4u * lid.y + j;
    if (t >= tokens) { break; }
    for (var i = 0u; i < 4u; i++) {
      let r = row0 + 4u * lid.x + i;
      if (r < p.rows) { y[t * p.n + p.y_offset + r] = acc[j][i]; }
    }
  }
}
