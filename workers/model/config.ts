// The model's blueprint: a readonly Config built once from a Hugging Face config.json, with every derived field
// (head_dim, kv groups, the per-model recipe) computed here and nowhere else. The recipe says what the one forward
// pass (transformer.ts) does for this family: norm kind and placement, q/k norm, activation, attention scale, soft
// caps, each layer's sliding window and RoPE, and the embedding / residual / logit multipliers. Anything the engine
// cannot run is refused by name before a single weight is fetched, and a value out of its range names its key.
//
// Sources (transformers 5.x): models/*/configuration_*.py of the families in families.ts, modeling_rope_utils.py.
import { EngineError } from '../errors.ts';
import { MAX_HEAD_DIM } from '../kernels/attention.ts';
import { badValue, bool, nonNegative, given, num, obj, optPosNum, posInt, posNum, refuse, str, type Json } from './config-values.ts';
import {
  ARCHITECTURES,
  FAMILY_TRAITS,
  isArchitecture,
  mixtureOfExperts,
  OUT_OF_REACH,
  type Architecture,
  type Family,
  type NormPlacement,
  type QkNorm,
} from './families.ts';
import { roundToBf16, roundToF16 } from '../gpu/half.ts';
import { readRope, sameRope, type LayerType, type RopeSpec } from './rope-config.ts';

export type { Architecture, Family } from './families.ts';
export type { RopeSpec } from './rope-config.ts';

export interface LayerRecipe {
  readonly type: LayerType;
  /** Sliding-window attention: a query sees itself and the window − 1 positions before it; null: every one before it. */
  readonly window: number | null;
  /** This layer's rotary embedding (an index into Config.ropes), or null: no positional encoding (SmolLM3's NoPE). */
  readonly rope: number | null;
}

export interface Config {
  readonly architecture: Architecture;
  readonly family: Family;
  readonly vocabSize: number;
  /** Model width (hidden_size). */
  readonly dim: number;
  /** Gated MLP width (intermediate_size). */
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  /** head_dim when given explicitly (Mistral, Qwen3, Gemma), else dim / nHeads. */
  readonly headDim: number;
  /** Query heads per KV head (GQA; nHeads for MQA, 1 for plain multi-head attention). */
  readonly kvGroups: number;
  /** nHeads * headDim: width of q and of the attention output (may differ from dim). */
  readonly qDim: number;
  /** nKvHeads * headDim: width of k and v rows in the KV cache. */
  readonly kvDim: number;
  readonly rmsNormEps: number;
  readonly maxPositionEmbeddings: number;
  readonly tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2; attention_bias elsewhere). */
  readonly qkvBias: boolean;
  /** o_proj has a bias (attention_bias). */
  readonly oBias: boolean;
  /** gate/up/down have biases (mlp_bias). */
  readonly mlpBias: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];

  // The recipe.
  /** RMSNorm multiplies the normalized x by w + normWeightOffset (Gemma's (1 + w): 1). */
  readonly normWeightOffset: 0 | 1;
  readonly normPlacement: NormPlacement;
  readonly qkNorm: QkNorm;
  /** The gated MLP: silu (SwiGLU) or the tanh approximation of GELU (GeGLU). */
  readonly activation: 'silu' | 'gelu_tanh';
  /** Multiplies q·k: 1/sqrt(head_dim), query_pre_attn_scalar^-0.5 (Gemma) or attention_multiplier (Granite). */
  readonly attentionScale: number;
  /** Attention scores become cap · tanh(s / cap) (Gemma 2), or null. */
  readonly attnSoftcap: number | null;
  /** Logits become cap · tanh(l / cap) (Gemma 2), or null. */
  readonly finalSoftcap: number | null;
  /** Token embeddings are multiplied by this (Gemma: sqrt(hidden_size); Granite: embedding_multiplier). */
  readonly embeddingScale: number;
  /** Each residual add is x + scale · f(x) (Granite: residual_multiplier). */
  readonly residualScale: number;
  /** Logits are multiplied by this (Granite: 1 / logits_scaling). */
  readonly logitsScale: number;
  /** The checkpoint stores qkv_proj and gate_up_proj (Phi-3); checkpoint-layout.ts reads them as q/k/v and gate/up. */
  readonly fusedProjections: boolean;
  /** The distinct rotary embeddings (Gemma 3: a local one for sliding layers, a global one). */
  readonly ropes: readonly RopeSpec[];
  readonly layers: readonly LayerRecipe[];
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

function idListStr(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Refuses by name the families out of reach and mixture-of-experts models, saying what they need. */
function refuseOutOfReach(archs: readonly string[], cfg: Json, text: Json): void {
  for (const a of archs) {
    const o = Object.hasOwn(OUT_OF_REACH, a) ? OUT_OF_REACH[a] : undefined;
    if (o) refuse('architectures', `${a} (${o.name}) cannot run here: it needs ${o.needs}, which the engine lacks`, { family: o.name, needs: o.needs });
  }
  const moe = mixtureOfExperts(cfg) ?? mixtureOfExperts(text);
  if (moe) {
    const n = (cfg[moe] ?? text[moe]) as number;
    const needs = 'a router choosing experts per token and expert MLP weights';
    refuse('architectures', `${archs.join(', ') || 'this model'} is a mixture-of-experts model (${moe} ${n}): it needs ${needs}, which the engine lacks`, {
      family: 'mixture-of-experts',
      needs,
    });
  }
}

function readActivation(cfg: Json, family: Family): 'silu' | 'gelu_tanh' {
  const key = family === 'gemma2' || family === 'gemma3' ? 'hidden_activation' : 'hidden_act';
  const other = key === 'hidden_act' ? 'hidden_activation' : 'hidden_act';
  const used = given(cfg, key) ? key : other;
  const act = str(cfg, used, 'silu');
  if (act === 'silu' || act === 'swish') return 'silu';
  if (act === 'gelu_pytorch_tanh' || act === 'gelu_new') return 'gelu_tanh';
  return refuse(used, `activation '${act}' is not supported (silu, gelu_pytorch_tanh, gelu_new)`);
}

/** Each layer's attention type: layer_types when given, else the family's rule (transformers' config classes). */
function readLayerTypes(cfg: Json, family: Family, nLayers: number): LayerType[] {
  if (given(cfg, 'layer_types')) {
    const v = cfg.layer_types;
    if (!Array.isArray(v) || v.length !== nLayers) badValue('layer_types', `must list one type per layer (${nLayers})`);
    return (v as unknown[]).map((t, i) => {
      if (t === 'full_attention' || t === 'sliding_attention') return t;
      return refuse('layer_types', `layer ${i} is '${String(t)}': only full_attention and sliding_attention layers are supported`);
    });
  }
  const layers = Array.from({ length: nLayers }, (_, i) => i);
  switch (family) {
    case 'gemma2':
      return layers.map((i) => ((i + 1) % 2 ? 'sliding_attention' : 'full_attention'));
    case 'gemma3': {
      const pattern = posInt(cfg, 'sliding_window_pattern', 6);
      return layers.map((i) => ((i + 1) % pattern ? 'sliding_attention' : 'full_attention'));
    }
    case 'mistral':
    case 'phi3':
      return layers.map(() => (given(cfg, 'sliding_window') ? 'sliding_attention' : 'full_attention'));
    case 'qwen2':
    case 'qwen3':
    case 'smollm3': {
      if (!bool(cfg, 'use_sliding_window', false)) return layers.map(() => 'full_attention');
      const from = num(cfg, 'max_window_layers', 28);
      return layers.map((i) => (i >= from ? 'sliding_attention' : 'full_attention'));
    }
    default:
      return layers.map(() => 'full_attention');
  }
}

/** SmolLM3: which layers rotate (no_rope_layers, 1 = RoPE), by default every layer but each no_rope_layer_interval-th. */
function readRopeLayers(cfg: Json, family: Family, nLayers: number): boolean[] {
  if (family !== 'smollm3') return Array.from({ length: nLayers }, () => true);
  if (given(cfg, 'no_rope_layers')) {
    const v = cfg.no_rope_layers;
    if (!Array.isArray(v) || v.length !== nLayers || v.some((x) => x !== 0 && x !== 1)) {
      badValue('no_rope_layers', `must list 0 or 1 for each of the ${nLayers} layers`);
    }
    return (v as number[]).map((x) => x === 1);
  }
  const interval = posInt(cfg, 'no_rope_layer_interval', 4);
  return Array.from({ length: nLayers }, (_, i) => (i + 1) % interval !== 0);
}

/** transformers multiplies the embeddings by sqrt(hidden_size) cast to the weights' dtype. */
function embedNormalizer(dim: number, dtype: string): number {
  const v = Math.sqrt(dim);
  if (dtype === 'bfloat16') return roundToBf16(v);
  if (dtype === 'float16') return roundToF16(v);
  return Math.fround(v);
}

/** Builds the Config from a parsed config.json, refusing unsupported architectures and options by name. */
export function parseConfig(json: unknown): Config {
  if (typeof json !== 'object' || json === null) throw new EngineError('bad-file', 'config.json is not an object', { file: 'config.json' });
  const outer = json as Json;
  const archs = idListStr(outer.architectures);
  const textConfig = obj(outer, 'text_config');
  refuseOutOfReach(archs, outer, textConfig ?? {});
  const architecture = archs.find(isArchitecture);
  if (!architecture) {
    refuse('architectures', `architecture ${archs.join(', ') || '(none)'} is not supported (supported: ${Object.keys(ARCHITECTURES).join(', ')})`);
  }
  const family = ARCHITECTURES[architecture];
  const traits = FAMILY_TRAITS[family];
  // A multimodal wrapper keeps the language model's settings in text_config; the family's defaults fill the keys a
  // hub config leaves out (an explicit null stays null).
  const cfg: Json = { ...traits.defaults, ...(architecture === 'Gemma3ForConditionalGeneration' ? (textConfig ?? {}) : outer) };
  if (given(outer, 'quantization_config') || given(cfg, 'quantization_config')) {
    refuse('quantization_config', 'pre-quantized checkpoints are not supported (fp16/bf16/fp32 only)');
  }
  const activation = readActivation(cfg, family);

  const dim = posInt(cfg, 'hidden_size');
  const nHeads = posInt(cfg, 'num_attention_heads');
  const nKvHeads = posInt(cfg, 'num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0) badValue('num_key_value_heads', `(${nKvHeads}) must divide num_attention_heads (${nHeads})`);
  const headDim = given(cfg, 'head_dim') ? posInt(cfg, 'head_dim') : dim / nHeads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) refuse('head_dim', `head_dim ${headDim} must be an even integer`);
  if (headDim > MAX_HEAD_DIM) refuse('head_dim', `head_dim ${headDim} is larger than the attention kernel's ${MAX_HEAD_DIM}`);
  const nLayers = posInt(cfg, 'num_hidden_layers');
  const maxPositionEmbeddings = posInt(cfg, 'max_position_embeddings', 2048);

  // Per layer: attention type → window and RoPE.
  const types = readLayerTypes(cfg, family, nLayers);
  const window = given(cfg, 'sliding_window') ? posInt(cfg, 'sliding_window') : null;
  const localTheta = family === 'gemma3' ? posNum(cfg, 'rope_local_base_freq') : null;
  const ropes: RopeSpec[] = [];
  const ropeIndex = (spec: RopeSpec) => {
    const i = ropes.findIndex((r) => sameRope(r, spec));
    if (i >= 0) return i;
    ropes.push(Object.freeze(spec));
    return ropes.length - 1;
  };
  const specs = {
    full_attention: readRope(cfg, 'full_attention', headDim, maxPositionEmbeddings, localTheta),
    sliding_attention: readRope(cfg, 'sliding_attention', headDim, maxPositionEmbeddings, localTheta),
  };
  const rotates = readRopeLayers(cfg, family, nLayers);
  const layers = types.map(
    (type, i): LayerRecipe =>
      Object.freeze({
        type,
        // A window that covers every position the model allows is no window (Phi-4-mini's 262144).
        window: type === 'sliding_attention' && window !== null && window < maxPositionEmbeddings ? window : null,
        rope: rotates[i] ? ropeIndex(specs[type]) : null,
      }),
  );

  const gemma = family === 'gemma2' || family === 'gemma3';
  const granite = family === 'granite';
  const attentionBias = bool(cfg, 'attention_bias', false);
  const dtype = String(cfg.torch_dtype ?? cfg.dtype ?? outer.torch_dtype ?? outer.dtype ?? 'float32');
  const ids = given(cfg, 'eos_token_id') ? cfg : outer;

  return Object.freeze({
    architecture,
    family,
    vocabSize: posInt(cfg, 'vocab_size'),
    dim,
    hiddenDim: posInt(cfg, 'intermediate_size'),
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    kvGroups: nHeads / nKvHeads,
    qDim: nHeads * headDim,
    kvDim: nKvHeads * headDim,
    rmsNormEps: nonNegative(cfg, 'rms_norm_eps', 1e-6),
    maxPositionEmbeddings,
    tieWordEmbeddings: bool(cfg, 'tie_word_embeddings', bool(outer, 'tie_word_embeddings', traits.tiedByDefault)),
    qkvBias: family === 'qwen2' || (family !== 'phi3' && attentionBias),
    oBias: family !== 'qwen2' && family !== 'phi3' && attentionBias,
    mlpBias: family !== 'phi3' && bool(cfg, 'mlp_bias', false),
    bosTokenId: typeof ids.bos_token_id === 'number' ? ids.bos_token_id : null,
    eosTokenIds: Object.freeze(idList(ids.eos_token_id)),

    normWeightOffset: traits.normWeightOffset,
    normPlacement: traits.normPlacement,
    qkNorm: traits.qkNorm,
    activation,
    attentionScale: gemma
      ? 1 / Math.sqrt(posNum(cfg, 'query_pre_attn_scalar'))
      : granite
        ? posNum(cfg, 'attention_multiplier', 1)
        : 1 / Math.sqrt(headDim),
    attnSoftcap: gemma ? optPosNum(cfg, 'attn_logit_softcapping') : null,
    finalSoftcap: gemma ? optPosNum(cfg, 'final_logit_softcapping') : null,
    embeddingScale: traits.embedSqrtHidden ? embedNormalizer(dim, dtype) : granite ? posNum(cfg, 'embedding_multiplier', 1) : 1,
    residualScale: granite ? posNum(cfg, 'residual_multiplier', 1) : 1,
    logitsScale: granite ? 1 / posNum(cfg, 'logits_scaling', 1) : 1,
    fusedProjections: traits.fused,
    ropes: Object.freeze(ropes),
    layers: Object.freeze(layers),
  });
}

/** The longest context this config allows the engine to reserve (sliding-window layers keep a ring, no cap). */
export function maxContext(config: Config): number {
  return config.maxPositionEmbeddings;
}

/**
 * Rows of one layer's KV cache for a run state of `context` positions and prefill chunks of up to `maxTokens`: every
 * position for global attention; for a sliding window W, a ring of the W − 1 positions before a chunk and the chunk
 * itself (position p in row p mod rows), never more than the context.
 */
export function kvCacheRows(window: number | null, context: number, maxTokens: number): number {
  return window === null ? context : Math.min(context, window - 1 + maxTokens);
}

/** One line per recipe feature that differs from Llama's, for reports and the README's family table. */
export function describeRecipe(c: Config): string[] {
  const out: string[] = [];
  if (c.normWeightOffset === 1) out.push('RMSNorm × (1 + w)');
  if (c.normPlacement !== 'pre') out.push(`${c.normPlacement} norms`);
  if (c.qkNorm !== 'none') out.push(`q/k norm over ${c.qkNorm === 'head' ? 'head_dim' : 'the projection'}`);
  if (c.activation !== 'silu') out.push('GeGLU (tanh GELU)');
  if (Math.abs(c.attentionScale - 1 / Math.sqrt(c.headDim)) > 1e-12) out.push(`attention scale ${c.attentionScale.toPrecision(6)}`);
  if (c.attnSoftcap !== null) out.push(`attention soft cap ${c.attnSoftcap}`);
  if (c.finalSoftcap !== null) out.push(`final soft cap ${c.finalSoftcap}`);
  if (c.embeddingScale !== 1) out.push(`embeddings × ${c.embeddingScale}`);
  if (c.residualScale !== 1) out.push(`residual × ${c.residualScale}`);
  if (c.logitsScale !== 1) out.push(`logits × ${c.logitsScale.toPrecision(6)}`);
  if (c.fusedProjections) out.push('fused qkv / gate_up');
  const sliding = c.layers.filter((l) => l.window !== null).length;
  if (sliding > 0) out.push(`${sliding}/${c.nLayers} sliding-window layers`);
  const nope = c.layers.filter((l) => l.rope === null).length;
  if (nope > 0) out.push(`${nope} NoPE layers`);
  for (const r of c.ropes) {
    if (r.rotaryDims !== c.headDim) out.push(`partial rotary ${r.rotaryDims}/${c.headDim}`);
    if (r.scaling.type !== 'default') out.push(`${r.scaling.type} RoPE`);
  }
  return out;
}
