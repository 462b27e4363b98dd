// y[t, y_offset + r] = sum_k x[t, k] * W[r, k] for one part of an fp16 weight (rows r of this part), prefill path.
// x: f32 [tokens, k]; W: fp16 packed two per u32, row-major, `row_words` u32 per row; y: f32 [tokens, n].
// Register tiling without workgroup memory or barriers (CPU WebGPU backends are very slow at barriers): each thread
// computes 4 tokens × 4 output rows, reading each weight word once for 4 tokens and each x value once for 4 rows.

override TN: u32 = 8u;  // threads along output rows
override TT: u32 = 8u;  // threads along tokens

struct Params {
  rows: u32,       // rows in this part
  row_words: u32,  // u32 words per weight row (= ceil(k / 2))
  y_offset: u32,   // where this part's first row goes in a y row
  k: u32,          // input features
  n: u32,          // output features (y row stride)
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

@compute @workgroup_size(TN, TT)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = ((wg.x + wg.y * nwg.x) * TN + lid.x) * 4u;
  let t0 = (wg.z * TT + lid.y) * 4u;
  let tokens = step.tokens;
  if (n0 >= p.rows || t0 >= tokens) { return; }
  // Rows and tokens past the end are clamped (computed, never written) so the loop has no branches.
  let w0 = min(n0, p.rows - 1u) * p.row_words;
  let w1 = min(n0 + 1u, p.rows - 1u) * p.row_words;
  let w2 = min(n0 + 2u, p.rows - 1u) * p.row_words;
  let w3 = min(n0 + 3u, p.rows - 1u) * p.row_words;
  let x0 = min(t0, tokens - 1u) * p.k;
  let x1 = min(t0 + 1u, tokens - 1u) * p.k;
  let x2 = min(t0 + 2u, tokens - 1u) * p.k;
  let x3 = min(t0 + 3u, tokens - 1u) * p.k;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  let full = p.k / 2u;
  for (var j = 0u; j < full; j++) {
    let u0 = unpack2x16float(w[w0 + j]);
    let u1 = unpack2x16float(w[w1 + j]);
    let u2 = unpack2x16float(w[w2 + j]);
    let u3 = unpack2x16float(w[w3 + j]);
    let lo = vec4<f32>(u0.x, u1.x, u2.x, u3.x);
    let hi = vec4<f32>(u0.y, u1.y, u2.y, u3.y);
    let k = 2u * j;
    a0 += lo * x[x0 + k] + hi * x[x0 + k + 1u];
    a1 += lo * x[x1 + k] + hi * x[x1 + k + 1u];
    a2 += lo * x[x2 + k] + hi * x[x2 + k + 1u];
    a3 += lo * x[x3 + k] + hi * x[x3 + k + 1u];
  }
  if ((p.k & 1u) == 1u) {  // odd k: the last word holds one element (its high half is padding)
    let lo = vec4<f32>(unpack2x16float(w[w0 + full]).x, unpack2x16float(w[w1 + full]).x,
                       unpack2x16float(w[w2 + full]).x, unpack2x16float(w[w3 + full]).x);
    let k = 2u * full;
    a0 += lo * x[x0 + k];
    a1 += lo * x[x1 + k];
    a2 += lo * x[x2 + k];
    a3 += lo * x[x3 + k];
  }
  let acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var i = 0u; i < 4u; i++) {
    let t = t0 + i;
    if (t >= tokens) { break; }
    for (var c = 0u; c < 4u; c++) {
      if (n0 + c < p.rows) { y[t * p.n + p.y_offset + n0 + c] = acc[i][c]; }
    }
  }
}
