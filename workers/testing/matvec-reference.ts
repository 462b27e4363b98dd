// CPU references of the one-token products (matvec_f16.wgsl, matvec_int8.wgsl with matvec_io.wgsl) for the GPU tests:
// the input norm, the fp16 and LLM.int8 products, and each epilogue, in the f32 steps the kernels take (sums in f64).
// The engine never calls these.
import { int8ProductRef, outlierColumnsRef, quantizeTokensRef } from './int8-reference.ts';

const fround = Math.fround;

/** RMSNorm of one row as rmsnorm.wgsl: (w + offset) · (x · inv), inv = 1 / sqrt(mean(x²) + eps). */
export function rmsNormRef(x: ArrayLike<number>, w: ArrayLike<number>, eps: number, offset = 0): Float32Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const inv = fround(1 / Math.sqrt(fround(fround(ss) / x.length) + eps));
  return Float32Array.from(x, (v, i) => fround(fround(w[i] + offset) * fround(v * inv)));
}

/** y[r] = sum_c w[r, c] x[c] (w already fp16 values). */
export function productRef(w: ArrayLike<number>, rows: number, x: ArrayLike<number>): Float64Array {
  const k = x.length;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < k; c++) acc += w[r * k + c] * x[c];
    y[r] = acc;
  }
  return y;
}

/** The LLM.int8 product of one token (q, scales: quantizeRowsRef of W) with outlier threshold. */
export function productInt8Ref(
  weight: { q: Int8Array; scales: Float32Array },
  rows: number,
  x: Float32Array,
  threshold: number,
): Float64Array {
  const k = x.length;
  const cols = outlierColumnsRef(x, 1, k, threshold);
  return int8ProductRef(x, 1, k, quantizeTokensRef(x, 1, k, cols), cols, weight, rows, null);
}

/**
 * Whether x's per-token int8 quantization has a value within `margin` of a .5 tie (where an ulp of difference in the
 * scale or in x may round it the other way): tests pick data without, so they can compare tightly.
 */
export function nearQuantizationTie(x: Float32Array, threshold: number, margin = 1e-4): boolean {
  const cols = new Set(outlierColumnsRef(x, 1, x.length, threshold));
  let m = 0;
  x.forEach((v, c) => (m = cols.has(c) ? m : Math.max(m, Math.abs(v))));
  const s = fround(m / 127);
  return Array.from(x).some((v, c) => {
    if (cols.has(c) || s === 0) return false;
    const q = v / s;
    return Math.abs(Math.abs(q - Math.trunc(q)) - 0.5) < margin;
  });
}

export function siluRef(v: number): number {
  return v / (1 + Math.exp(-v));
}

export function geluTanhRef(v: number): number {
  return 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
}

/** out[j] = act(y[gate row of j]) · y[up row of j] for y over a gate/up weight concatenated in blocks of `block`. */
export function gluRef(y: Float64Array, block: number, act: (v: number) => number): Float64Array {
  const out = new Float64Array(y.length / 2);
  for (let j = 0; j < out.length; j++) {
    const b = Math.floor(j / block);
    const i = j % block;
    out[j] = act(y[b * 2 * block + i]) * y[b * 2 * block + block + i];
  }
  return out;
}

/** Rows [gate; up] (each [n, k]) interleaved in blocks of `block` rows: the layout the glu epilogue reads. */
export function interleaveBlocks(gate: Float32Array, up: Float32Array, n: number, k: number, block: number): Float32Array {
  const out = new Float32Array(2 * n * k);
  for (let b = 0; b < n / block; b++) {
    out.set(gate.subarray(b * block * k, (b + 1) * block * k), 2 * b * block * k);
    out.set(up.subarray(b * block * k, (b + 1) * block * k), (2 * b + 1) * block * k);
  }
  return out;
}

/**
 * RoPE (rotate-half over the first 2·ropeHalf dims) of y = [q heads; k heads; v heads] at one position, with the
 * float32 (cos, sin) table row of that position: returns q, k, v after rotation.
 */
export function ropeKvRef(
  y: Float64Array,
  shape: { nHeads: number; nKvHeads: number; headDim: number; ropeHalf: number },
  cosSin: Float32Array,
): { q: Float64Array; k: Float64Array; v: Float64Array } {
  const { nHeads, nKvHeads, headDim: hd, ropeHalf } = shape;
  const out = Float64Array.from(y);
  for (let h = 0; h < nHeads + nKvHeads; h++) {
    for (let i = 0; i < ropeHalf; i++) {
      const a = y[h * hd + i];
      const b = y[h * hd + i + ropeHalf];
      const [c, s] = [cosSin[2 * i], cosSin[2 * i + 1]];
      out[h * hd + i] = a * c - b * s;
      out[h * hd + i + ropeHalf] = b * c + a * s;
    }
  }
  const qn = nHeads * hd;
  const kn = nKvHeads * hd;
  return { q: out.subarray(0, qn), k: out.subarray(qn, qn + kn), v: out.subarray(qn + kn, qn + 2 * kn) };
}
