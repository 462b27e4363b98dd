// Embedding gather for one part of an fp16 table: x[t, :] = table[ids[t], :] * scale as f32, for the rows of the table
// this part holds (rows row_start .. row_start + rows); the owner dispatches once per part. scale: Gemma's
// sqrt(hidden_size), Granite's embedding_multiplier, 1 elsewhere (applied in f32: Gemma's scaled embeddings would
// overflow fp16 in later layers, never here).
// table: fp16 packed two per u32, `row_words` u32 per row. One thread per (token, u32 word): two outputs each.

struct Params {
  row_start: u32,  // first table row held by this part
  rows: u32,       // table rows in this part
  row_words: u32,  // u32 words per table row (= ceil(dim / 2))
  dim: u32,        // elements per row
  scale: f32,      // multiplies every value
}

// struct Step { tokens, pos, kv_len }: step.wgsl, put in front of this file by its owner.

@group(0) @binding(0) var<storage, read> table: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * nwg.x) * WG + lid;
  let t = i / p.row_words;
  let j = i % p.row_words;
  if (t >= step.tokens) { return; }
  let id = ids[t];
  if (id < p.row_start || id >= p.row_start + p.rows) { return; }
  let v = unpack2x16float(table[(id - p.row_start) * p.row_words + j]);
  let k0 = 2u * j;
  x[t * p.dim + k0] = v.x * p.scale;
  if (k0 + 1u < p.dim) { x[t * p.dim + k0 + 1u] = v.y * p.scale; }
}
