// A float64 forward pass on the CPU, transcribed from Hugging Face transformers' modelling code of the families the
// engine runs (models/{llama,qwen3,gemma2,gemma3,phi3,smollm3,olmo2,granite}/modeling_*.py), for tests that need
// logits no GPU kernel had a part in: prompts past a sliding window, decoding past it. It reads the safetensors file
// itself (bf16 / f16 / f32 upcast to float64) and shares only the Config (the recipe) and the float32 RoPE inverse
// frequencies with the engine; it recomputes the whole sequence for every call (no KV cache), so a window is a plain
// mask here, not a ring. Slow and simple on purpose: tiny models only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Config } from '../model/config.ts';
import { f16BitsToF32 } from '../gpu/half.ts';
import { ropeAttentionFactor, ropeInverseFrequencies } from '../model/rope-config.ts';

interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Every tensor of a single-file checkpoint, upcast to float64, keyed by name (fused Phi-3 projections as stored). */
function readSafetensors(file: string): Map<string, Matrix> {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, Matrix>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    const raw = bytes.subarray(8 + n + a, 8 + n + b);
    const count = t.shape.reduce((x, y) => x * y, 1);
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (t.dtype === 'F32') data[i] = raw.readFloatLE(i * 4);
      else if (t.dtype === 'BF16') data[i] = new Float32Array(new Uint32Array([raw.readUInt16LE(i * 2) << 16]).buffer)[0];
      else if (t.dtype === 'F16') data[i] = f16BitsToF32(raw.readUInt16LE(i * 2));
      else throw new Error(`reference forward: dtype ${t.dtype}`);
    }
    out.set(name, { rows: t.shape.length === 1 ? 1 : t.shape[0], cols: t.shape[t.shape.length - 1], data });
  }
  return out;
}

/** Rows [from, from + rows) of a matrix (one projection of a fused one). */
function rowsOf(m: Matrix, from: number, rows: number): Matrix {
  return { rows, cols: m.cols, data: m.data.slice(from * m.cols, (from + rows) * m.cols) };
}

/** y = x Wᵀ (+ b) for one row x. */
function linear(x: Float64Array, w: Matrix, b?: Matrix): Float64Array {
  const y = new Float64Array(w.rows);
  for (let r = 0; r < w.rows; r++) {
    let acc = b ? b.data[r] : 0;
    const o = r * w.cols;
    for (let c = 0; c < w.cols; c++) acc += x[c] * w.data[o + c];
    y[r] = acc;
  }
  return y;
}

/** RMSNorm of each group of `size` values of x: x / sqrt(mean(x²) + eps) * (w + offset). */
function rmsNorm(x: Float64Array, w: Matrix, eps: number, offset: number, size = x.length): Float64Array {
  const y = new Float64Array(x.length);
  for (let g = 0; g < x.length; g += size) {
    let ss = 0;
    for (let i = 0; i < size; i++) ss += x[g + i] * x[g + i];
    const inv = 1 / Math.sqrt(ss / size + eps);
    for (let i = 0; i < size; i++) y[g + i] = x[g + i] * inv * (w.data[i] + offset);
  }
  return y;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const ACT = {
  silu: (v: number) => v / (1 + Math.exp(-v)),
  gelu_tanh: (v: number) => 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v))),
};

const softcap = (v: number, cap: number | null) => (cap === null ? v : cap * Math.tanh(v / cap));

export class ReferenceModel {
  private readonly w: Map<string, Matrix>;

  constructor(
    readonly config: Config,
    tensors: Map<string, Matrix>,
    /** The KV-cache length the engine would run with (decides LongRoPE's short or long factors). */
    readonly contextLength: number,
  ) {
    this.w = tensors;
    // Phi-3 stores q/k/v and gate/up fused: take their rows apart here.
    const c = config;
    for (let l = 0; l < c.nLayers; l++) {
      const p = `model.layers.${l}`;
      const qkv = tensors.get(`${p}.self_attn.qkv_proj.weight`);
      if (qkv) {
        this.w.set(`${p}.self_attn.q_proj.weight`, rowsOf(qkv, 0, c.qDim));
        this.w.set(`${p}.self_attn.k_proj.weight`, rowsOf(qkv, c.qDim, c.kvDim));
        this.w.set(`${p}.self_attn.v_proj.weight`, rowsOf(qkv, c.qDim + c.kvDim, c.kvDim));
      }
      const gateUp = tensors.get(`${p}.mlp.gate_up_proj.weight`);
      if (gateUp) {
        this.w.set(`${p}.mlp.gate_proj.weight`, rowsOf(gateUp, 0, c.hiddenDim));
        this.w.set(`${p}.mlp.up_proj.weight`, rowsOf(gateUp, c.hiddenDim, c.hiddenDim));
      }
    }
  }

  /** `patch`: config.json keys to change (e.g. a sliding window on a model that has none). */
  static fromDir(dir: string, contextLength = 2048, patch: Record<string, unknown> = {}): ReferenceModel {
    const config = parseConfig({ ...JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), ...patch });
    return new ReferenceModel(config, readSafetensors(join(dir, 'model.safetensors')), contextLength);
  }

  private t(name: string): Matrix {
    const m = this.w.get(name);
    if (!m) throw new Error(`reference forward: no tensor ${name}`);
    return m;
  }

  private opt(name: string): Matrix | undefined {
    return this.w.get(name);
  }

  /** The logits of every position of ids (one causal pass over the whole sequence). */
  logits(ids: readonly number[]): Float64Array[] {
    const c = this.config;
    const off = c.normWeightOffset;
    const eps = c.rmsNormEps;
    const embed = this.t('model.embed_tokens.weight');
    // x[s] = embed[id] * scale
    let x = ids.map((id) => embed.data.slice(id * c.dim, (id + 1) * c.dim).map((v) => v * c.embeddingScale));
    const tables = c.ropes.map((spec) => ({
      inv: ropeInverseFrequencies(spec, this.contextLength),
      factor: ropeAttentionFactor(spec),
      half: spec.rotaryDims / 2,
    }));

    c.layers.forEach((layer, l) => {
      const p = `model.layers.${l}`;
      const n = (name: string) => this.opt(`${p}.${name}.weight`);
      const attnIn = c.normPlacement === 'post' ? x : x.map((r) => rmsNorm(r, this.t(`${p}.input_layernorm.weight`), eps, off));
      const proj = (m: string, r: Float64Array) => linear(r, this.t(`${p}.${m}.weight`), this.opt(`${p}.${m}.bias`));
      let q = attnIn.map((r) => proj('self_attn.q_proj', r));
      let k = attnIn.map((r) => proj('self_attn.k_proj', r));
      const v = attnIn.map((r) => proj('self_attn.v_proj', r));
      // q/k norm: per head over head_dim, or over the whole projection
      if (c.qkNorm !== 'none') {
        const size = c.qkNorm === 'head' ? c.headDim : undefined;
        q = q.map((r) => rmsNorm(r, n('self_attn.q_norm')!, eps, off, size));
        k = k.map((r) => rmsNorm(r, n('self_attn.k_norm')!, eps, off, size));
      }
      // RoPE ("rotate half" over the first rotary dims of each head; the rest pass through)
      if (layer.rope !== null) {
        const { inv, factor, half } = tables[layer.rope];
        const rotate = (r: Float64Array, heads: number, pos: number) => {
          for (let h = 0; h < heads; h++) {
            const b = h * c.headDim;
            for (let i = 0; i < half; i++) {
              const angle = pos * inv[i];
              const cos = Math.cos(angle) * factor;
              const sin = Math.sin(angle) * factor;
              const x0 = r[b + i];
              const x1 = r[b + i + half];
              r[b + i] = x0 * cos - x1 * sin;
              r[b + i + half] = x1 * cos + x0 * sin;
            }
          }
        };
        q.forEach((r, s) => rotate(r, c.nHeads, s));
        k.forEach((r, s) => rotate(r, c.nKvHeads, s));
      }
      // causal attention, a query at s seeing positions max(0, s - window + 1) ..= s
      const att = q.map((qs, s) => {
        const out = new Float64Array(c.qDim);
        const first = layer.window === null ? 0 : Math.max(0, s - layer.window + 1);
        for (let h = 0; h < c.nHeads; h++) {
          const kh = Math.floor(h / c.kvGroups) * c.headDim;
          const scores: number[] = [];
          for (let j = first; j <= s; j++) {
            let dot = 0;
            for (let d = 0; d < c.headDim; d++) dot += qs[h * c.headDim + d] * k[j][kh + d];
            scores.push(softcap(dot * c.attentionScale, c.attnSoftcap));
          }
          const m = Math.max(...scores);
          const e = scores.map((sc) => Math.exp(sc - m));
          const z = e.reduce((a, b) => a + b, 0);
          for (let d = 0; d < c.headDim; d++) {
            let acc = 0;
            for (let j = first; j <= s; j++) acc += (e[j - first] / z) * v[j][kh + d];
            out[h * c.headDim + d] = acc;
          }
        }
        return out;
      });
      let o = att.map((r) => proj('self_attn.o_proj', r));
      if (c.normPlacement !== 'pre') o = o.map((r) => rmsNorm(r, n('post_attention_layernorm')!, eps, off));
      x = x.map((r, s) => r.map((val, i) => val + c.residualScale * o[s][i]));
      // the gated MLP
      const ffnNorm = c.normPlacement === 'pre' ? 'post_attention_layernorm' : 'pre_feedforward_layernorm';
      const mlpIn = c.normPlacement === 'post' ? x : x.map((r) => rmsNorm(r, n(ffnNorm)!, eps, off));
      let down = mlpIn.map((r) => {
        const g = proj('mlp.gate_proj', r);
        const u = proj('mlp.up_proj', r);
        return proj('mlp.down_proj', g.map((gv, i) => ACT[c.activation](gv) * u[i]));
      });
      if (c.normPlacement !== 'pre') down = down.map((r) => rmsNorm(r, n('post_feedforward_layernorm')!, eps, off));
      x = x.map((r, s) => r.map((val, i) => val + c.residualScale * down[s][i]));
    });

    const head = this.opt('lm_head.weight') && !c.tieWordEmbeddings ? this.t('lm_head.weight') : embed;
    return x.map((r) => {
      const logits = linear(rmsNorm(r, this.t('model.norm.weight'), eps, off), head);
      return logits.map((v) => softcap(v * c.logitsScale, c.finalSoftcap));
    });
  }

  /** Greedy decoding: `n` ids, each the argmax of the last row after appending the one before. */
  greedy(ids: readonly number[], n: number): number[] {
    return this.greedySteps(ids, n).map((s) => s.id);
  }

  /** Greedy decoding with each step's logits (the last row of the sequence so far) and the id chosen from them. */
  greedySteps(ids: readonly number[], n: number): { logits: Float64Array; id: number }[] {
    const seq = [...ids];
    const out: { logits: Float64Array; id: number }[] = [];
    for (let i = 0; i < n; i++) {
      const rows = this.logits(seq);
      const last = rows[rows.length - 1];
      let best = 0;
      for (let j = 1; j < last.length; j++) if (last[j] > last[best]) best = j;
      out.push({ logits: last, id: best });
      seq.push(best);
    }
    return out;
  }
}
