// Checkpoint bytes (F16 / BF16 / F32, little-endian, at any byte position of `src`) → the engine's f16x2 words of one
// tensor part: fp16 two per u32, element 2i in the low half, each row padded to a whole u32.
// Integer-only, so rounding matches workers/model/half.ts bit for bit (round to nearest even, gradual underflow,
// overflow to ±Inf, NaN → sign | 0x7e00); pack2x16float is not used because its rounding is implementation-defined.
// One invocation per output word; the flat index is wg.x + wg.y * num_workgroups.x (see kernels/dispatch.ts).

override WG: u32 = 64u;
/** 0: F16 (bits copied), 1: BF16, 2: F32. */
override DTYPE: u32 = 1u;

struct Params {
  src_byte: u32,   // byte in `src` where element e0 begins (any alignment)
  e0: u32,         // tensor element index of that element
  w0: u32,         // first tensor word this dispatch writes
  n_words: u32,    // words this dispatch writes
  row_len: u32,    // elements per row
  row_words: u32,  // words per row (ceil(row_len / 2))
  dst_base: u32,   // tensor word index of dst[0] (the part's first word)
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

/** The 4 bytes starting at byte `b` of src (a funnel shift across two words when unaligned). */
fn load_u32(b: u32) -> u32 {
  let i = b >> 2u;
  let k = (b & 3u) * 8u;
  if (k == 0u) { return src[i]; }
  return (src[i] >> k) | (src[i + 1u] << (32u - k));
}

/** float32 bits → fp16 bits, the arithmetic of half.ts f32ToF16Bits. */
fn f32_to_f16(x: u32) -> u32 {
  let sign = (x >> 16u) & 0x8000u;
  let exp = (x >> 23u) & 0xffu;
  var mant = x & 0x7fffffu;
  if (exp == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  var e = i32(exp) - 112;  // exp - 127 + 15
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    let rest = mant & ((1u << shift) - 1u);
    var m = mant >> shift;
    if (rest > half || (rest == half && (m & 1u) == 1u)) { m += 1u; }
    return sign | m;
  }
  var m = mant >> 13u;
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (m & 1u) == 1u)) {
    m += 1u;
    if (m == 0x400u) {
      m = 0u;
      e += 1;
      if (e >= 31) { return sign | 0x7c00u; }
    }
  }
  return sign | (u32(e) << 10u) | m;
}

/** fp16 bits of tensor element `e`. */
fn element(e: u32) -> u32 {
  if (DTYPE == 2u) { return f32_to_f16(load_u32(p.src_byte + (e - p.e0) * 4u)); }
  let bits = load_u32(p.src_byte + (e - p.e0) * 2u) & 0xffffu;
  if (DTYPE == 1u) { return f32_to_f16(bits << 16u); }
  return bits;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let j = (wg.x + wg.y * nwg.x) * WG + lid;
  if (j >= p.n_words) { return; }
  let w = p.w0 + j;
  let row = w / p.row_words;
  let col = (w - row * p.row_words) * 2u;
  let e = row * p.row_len + col;
  let lo = element(e);
  // an odd row pads its last word's high half with 0
  let hi = select(0u, element(e + 1u), col + 1u < p.row_len);
  dst[w - p.dst_base] = lo | (hi << 16u);
}
