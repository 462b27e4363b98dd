// CPU reference of the LLM.int8 emulation that produced llama-outliers-fp16's int8 logits (../shared/models/README.md),
// in the exact f32 arithmetic the GPU kernels use. The GPU tests compare against it; the engine never calls it.
//   weights:     scale[r] = absmax(W[r, :]) / 127, q = clamp(round(W / scale), -127, 127)
//   activations: outlier columns = any |x[t, c]| >= threshold over the current tokens (none when threshold is 0);
//                s[t] = absmax of the other columns / 127, xq = round(x / s), 0 on outlier columns
//   product:     y = (xq · q) * s[t] * scale[r] + (x[:, outliers] · q[:, outliers]) * scale[r] + bias
// round() is half to even, as torch.round; every division is an f32 division (Math.fround of the exact quotient is
// the correctly rounded f32 quotient).

const fround = Math.fround;

/** Round half to even (torch.round, WGSL round). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // half up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function quantize(v: number, scale: number): number {
  return scale > 0 ? Math.min(127, Math.max(-127, roundHalfEven(fround(v / scale)))) : 0;
}

/** Row-wise int8 quantization of w [rows, k] (values already fp16-representable). */
export function quantizeRowsRef(w: ArrayLike<number>, rows: number, k: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(rows * k);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < k; c++) m = Math.max(m, Math.abs(w[r * k + c]));
    const scale = fround(m / 127);
    scales[r] = scale;
    for (let c = 0; c < k; c++) q[r * k + c] = quantize(w[r * k + c], scale);
  }
  return { q, scales };
}

/** Outlier columns of x [tokens, k], ascending. */
export function outlierColumnsRef(x: ArrayLike<number>, tokens: number, k: number, threshold: number): number[] {
  const cols: number[] = [];
  if (threshold <= 0) return cols;
  for (let c = 0; c < k; c++) {
    for (let t = 0; t < tokens; t++) {
      if (Math.abs(x[t * k + c]) >= threshold) {
        cols.push(c);
        break;
      }
    }
  }
  return cols;
}

/** Per-token quantization of x [tokens, k] with the outlier columns zeroed. */
export function quantizeTokensRef(
  x: ArrayLike<number>,
  tokens: number,
  k: number,
  outliers: readonly number[],
): { q: Int8Array; scales: Float32Array } {
  const isOutlier = new Uint8Array(k);
  for (const c of outliers) isOutlier[c] = 1;
  const inliers = new Float32Array(tokens * k);
  for (let i = 0; i < tokens * k; i++) inliers[i] = isOutlier[i % k] ? 0 : x[i];
  return quantizeRowsRef(inliers, tokens, k);
}

/** y [tokens, n] of the int8 linear layer (q, scales from quantizeRowsRef of W [n, k]; bias fp16 values or null). */
export function int8LinearRef(
  x: ArrayLike<number>,
  tokens: number,
  k: number,
  weight: { q: Int8Array; scales: Float32Array },
  n: number,
  bias: ArrayLike<number> | null,
  threshold: number,
): Float64Array {
  const outliers = outlierColumnsRef(x, tokens, k, threshold);
  return int8ProductRef(x, tokens, k, quantizeTokensRef(x, tokens, k, outliers), outliers, weight, n, bias);
}

/** The product step alone, from already quantized x (xq, token scales) and weight (q, row scales). */
export function int8ProductRef(
  x: ArrayLike<number>,
  tokens: number,
  k: number,
  xq: { q: ArrayLike<number>; scales: ArrayLike<number> },
  outliers: readonly number[],
  weight: { q: ArrayLike<number>; scales: ArrayLike<number> },
  n: number,
  bias: ArrayLike<number> | null,
): Float64Array {
  const y = new Float64Array(tokens * n);
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < n; r++) {
      let acc = 0;
      for (let c = 0; c < k; c++) acc += xq.q[t * k + c] * weight.q[r * k + c];
      let accF = 0;
      for (const c of outliers) accF += x[t * k + c] * weight.q[r * k + c];
      y[t * n + r] = acc * xq.scales[t] * weight.scales[r] + accF * weight.scales[r] + (bias ? bias[r] : 0);
    }
  }
  return y;
}

/** Unpacks i8x4 rows (rowWords u32 per row) into an Int8Array [rows, k]. */
export function unpackI8Rows(words: Uint32Array, rows: number, k: number, rowWords: number): Int8Array {
  const bytes = new Int8Array(words.buffer, words.byteOffset, words.byteLength);
  const out = new Int8Array(rows * k);
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(r * rowWords * 4, r * rowWords * 4 + k), r * k);
  return out;
}

/**
 * WGSL lets f32 division be off by up to 2.5 ulp (SwiftShader's absmax / 127 comes out 1 ulp low; lavapipe's is
 * exact), so a GPU scale may differ from the reference by an ulp, and an int8 value by 1 where the exact quotient is
 * that close to a .5 tie. Returns the differences that this does NOT explain (empty when the GPU result is right).
 */
export function unexplainedInt8Diffs(
  got: ArrayLike<number>,
  want: { q: Int8Array; scales: Float32Array },
  values: ArrayLike<number>,
  k: number,
  gotScales?: Float32Array,
): string[] {
  const bad: string[] = [];
  for (let r = 0; r < want.scales.length; r++) {
    if (gotScales && Math.abs(ulpDiff(gotScales[r], want.scales[r])) > 1) bad.push(`scale[${r}] ${gotScales[r]} ≠ ${want.scales[r]}`);
  }
  for (let i = 0; i < want.q.length; i++) {
    if (got[i] === want.q[i]) continue;
    const quotient = values[i] / want.scales[Math.floor(i / k)];
    const nearTie = Math.abs(Math.abs(quotient - Math.trunc(quotient)) - 0.5) < 1e-5 * Math.max(1, Math.abs(quotient));
    if (!(nearTie && Math.abs(got[i] - want.q[i]) === 1)) bad.push(`q[${i}] ${got[i]} ≠ ${want.q[i]} (quotient ${quotient})`);
  }
  return bad;
}

const ulpF = new Float32Array(1);
const ulpI = new Int32Array(ulpF.buffer);
/** Distance in f32 ulps (same-sign values). */
export function ulpDiff(a: number, b: number): number {
  ulpF[0] = a;
  const ia = ulpI[0];
  ulpF[0] = b;
  return ia - ulpI[0];
}

/** Test activations (GPU tests): values in [-2, 2) with a few large ones (|x| 6..9) in columns 3, 17 (every token) and k-1 (token 1 only). */
export function int8TestActivations(tokens: number, k: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(tokens * k);
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 31 - 1) * 2;
  }
  for (let t = 0; t < tokens; t++) {
    if (k > 3) x[t * k + 3] = -6; // exactly the threshold counts as an outlier
    if (k > 17) x[t * k + 17] = 9 - t * 0.25;
  }
  if (tokens > 1) x[1 * k + k - 1] = -8.25;
  return x;
}
