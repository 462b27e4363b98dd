// The tensors a checkpoint of this recipe holds, under the Hugging Face names the engine reads, with their shapes:
// which norms a layer has (norm placement, q/k norms), the linears and their biases, lm_head unless tied. The loader's
// plan checks a checkpoint against this before anything is fetched (load/plan.ts), and buildWeights reads these names
// (weights.ts). A checkpoint stored differently (fused projections, a multimodal wrapper) is mapped onto them first
// (load/checkpoint-layout.ts).
import type { Config } from './config.ts';

/** One decoder layer's tensor names under this recipe; a norm the recipe does not have is null. */
export interface LayerTensorNames {
  /** RMSNorm before attention (pre, sandwich): input_layernorm. */
  attnNorm: string | null;
  /** RMSNorm on the attention output before its residual add (sandwich, post): post_attention_layernorm. */
  postAttnNorm: string | null;
  /** RMSNorm before the MLP: post_attention_layernorm (pre), pre_feedforward_layernorm (sandwich). */
  ffnNorm: string | null;
  /** RMSNorm on the MLP output before its residual add (sandwich, post): post_feedforward_layernorm. */
  postFfnNorm: string | null;
  qNorm: string | null;
  kNorm: string | null;
  /** Linear modules (their `.weight`, and `.bias` where the config says so). */
  q: string;
  k: string;
  v: string;
  o: string;
  gate: string;
  up: string;
  down: string;
}

export function layerTensorNames(c: Config, l: number): LayerTensorNames {
  const p = `model.layers.${l}`;
  const w = (n: string) => `${p}.${n}.weight`;
  const placement = c.normPlacement;
  return {
    attnNorm: placement === 'post' ? null : w('input_layernorm'),
    postAttnNorm: placement === 'pre' ? null : w('post_attention_layernorm'),
    ffnNorm: placement === 'pre' ? w('post_attention_layernorm') : placement === 'sandwich' ? w('pre_feedforward_layernorm') : null,
    postFfnNorm: placement === 'pre' ? null : w('post_feedforward_layernorm'),
    qNorm: c.qkNorm === 'none' ? null : w('self_attn.q_norm'),
    kNorm: c.qkNorm === 'none' ? null : w('self_attn.k_norm'),
    q: `${p}.self_attn.q_proj`,
    k: `${p}.self_attn.k_proj`,
    v: `${p}.self_attn.v_proj`,
    o: `${p}.self_attn.o_proj`,
    gate: `${p}.mlp.gate_proj`,
    up: `${p}.mlp.up_proj`,
    down: `${p}.mlp.down_proj`,
  };
}

/** Every tensor the checkpoint must hold (after checkpointTensors), with its shape. */
export function expectedTensors(c: Config): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [c.vocabSize, c.dim]);
  const qkNorm = c.qkNorm === 'head' ? [[c.headDim], [c.headDim]] : [[c.qDim], [c.kvDim]];
  for (let l = 0; l < c.nLayers; l++) {
    const n = layerTensorNames(c, l);
    for (const norm of [n.attnNorm, n.postAttnNorm, n.ffnNorm, n.postFfnNorm]) if (norm) m.set(norm, [c.dim]);
    if (n.qNorm && n.kNorm) {
      m.set(n.qNorm, qkNorm[0]);
      m.set(n.kNorm, qkNorm[1]);
    }
    const linear = (name: string, out: number, inp: number, bias: boolean) => {
      m.set(`${name}.weight`, [out, inp]);
      if (bias) m.set(`${name}.bias`, [out]);
    };
    linear(n.q, c.qDim, c.dim, c.qkvBias);
    linear(n.k, c.kvDim, c.dim, c.qkvBias);
    linear(n.v, c.kvDim, c.dim, c.qkvBias);
    linear(n.o, c.dim, c.qDim, c.oBias);
    linear(n.gate, c.hiddenDim, c.dim, c.mlpBias);
    linear(n.up, c.hiddenDim, c.dim, c.mlpBias);
    linear(n.down, c.dim, c.hiddenDim, c.mlpBias);
  }
  m.set('model.norm.weight', [c.dim]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, c.dim]);
  return m;
}
