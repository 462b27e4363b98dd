// The model's blueprint: a readonly Config built once from a Hugging Face config.json, with every derived field
// (head_dim, kv groups, rope inverse frequencies) computed here and nowhere else. Anything the engine cannot run is
// refused by name before a single weight is fetched.
//
// Sources (transformers 5.x): models/llama/configuration_llama.py, models/mistral/configuration_mistral.py,
// models/qwen2/configuration_qwen2.py, modeling_rope_utils.py (_compute_default/linear/llama3_parameters).
import { EngineError } from '../errors.ts';

export const ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface Config {
  readonly architecture: Architecture;
  readonly vocabSize: number;
  /** Model width (hidden_size). */
  readonly dim: number;
  /** SwiGLU width (intermediate_size). */
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  /** head_dim when given explicitly (Mistral, Qwen3-style), else dim / nHeads. */
  readonly headDim: number;
  /** Query heads per KV head (GQA; nHeads for MQA, 1 for plain multi-head attention). */
  readonly kvGroups: number;
  /** nHeads * headDim: width of q and of the attention output (may differ from dim). */
  readonly qDim: number;
  /** nKvHeads * headDim: width of k and v rows in the KV cache. */
  readonly kvDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  /** float32 inverse frequencies, headDim / 2 of them, scaling already applied (what HF's rotary embedding holds). */
  readonly ropeInvFreq: Float32Array;
  /** 1 / sqrt(headDim). */
  readonly attentionScale: number;
  readonly maxPositionEmbeddings: number;
  /** Sliding-window attention size (Mistral), or null. Contexts up to it are exact full attention. */
  readonly slidingWindow: number | null;
  readonly tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2; Llama with attention_bias). */
  readonly qkvBias: boolean;
  /** o_proj has a bias (Llama attention_bias). */
  readonly oBias: boolean;
  /** gate/up/down have biases (Llama mlp_bias). */
  readonly mlpBias: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
}

type Json = Record<string, unknown>;

function refuse(setting: string, message: string): never {
  throw new EngineError('unsupported', message, { setting });
}

/** A value config.json holds that no model can run with: EngineError('bad-config') naming the key. */
function bad(key: string, message: string): never {
  throw new EngineError('bad-config', `config.json: '${key}' ${message}`, { file: 'config.json', setting: key });
}

/**
 * Upper bounds on the sizes that drive work and memory before a weight is read (tensor names, the plan, the rope
 * table): far above any real checkpoint (Llama 3.1 405B: 126 layers, 128 heads, hidden 16384, intermediate 53248;
 * the largest vocabularies ~262k), low enough that a hostile config is refused at once instead of costing seconds
 * and gigabytes before another check refuses it.
 */
export const CONFIG_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  hidden_size: 1 << 17,
  intermediate_size: 1 << 20,
  vocab_size: 1 << 22,
  head_dim: 1024,
  max_position_embeddings: 1 << 27,
  sliding_window: 1 << 27,
  original_max_position_embeddings: 1 << 27,
});

function num(cfg: Json, key: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    return bad(key, 'is missing');
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad(key, `is not a number (${JSON.stringify(v)})`);
  return v;
}

/** A finite number > 0 (or `min` inclusive when given). */
function positive(cfg: Json, key: string, fallback?: number, min?: number): number {
  const v = num(cfg, key, fallback);
  if (min !== undefined ? v < min : !(v > 0)) bad(key, `must be ${min !== undefined ? `at least ${min}` : 'more than 0'}, got ${v}`);
  return v;
}

function posInt(cfg: Json, key: string, fallback?: number): number {
  const v = num(cfg, key, fallback);
  if (!Number.isInteger(v) || v <= 0) bad(key, `must be a positive integer, got ${v}`);
  const max = CONFIG_LIMITS[key];
  if (max !== undefined && v > max) bad(key, `is ${v}, more than the ${max} this engine accepts`);
  return v;
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Reads rope_theta and the scaling from either `rope_parameters` (transformers ≥ 5) or `rope_theta`/`rope_scaling`. */
function readRope(cfg: Json, maxPos: number): { theta: number; scaling: RopeScaling } {
  const params = (cfg.rope_parameters ?? null) as Json | null;
  const legacy = (cfg.rope_scaling ?? null) as Json | null;
  const src: Json = { ...(legacy ?? {}), ...(params ?? {}) };
  const theta = positive(src, 'rope_theta', positive(cfg, 'rope_theta', 10000));
  const type = String(src.rope_type ?? src.type ?? 'default');
  if (src.partial_rotary_factor !== undefined && src.partial_rotary_factor !== 1) {
    refuse('partial_rotary_factor', `partial rotary embeddings (partial_rotary_factor ${src.partial_rotary_factor}) are not supported`);
  }
  if (cfg.partial_rotary_factor !== undefined && cfg.partial_rotary_factor !== 1) {
    refuse('partial_rotary_factor', `partial rotary embeddings (partial_rotary_factor ${cfg.partial_rotary_factor}) are not supported`);
  }
  switch (type) {
    case 'default':
      return { theta, scaling: { type: 'default' } };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: positive(src, 'factor') } };
    case 'llama3': {
      const lowFreqFactor = positive(src, 'low_freq_factor', 1);
      const highFreqFactor = positive(src, 'high_freq_factor', 4);
      // the smooth band between them divides by (high - low): equal or inverted factors have no band
      if (!(highFreqFactor > lowFreqFactor)) {
        bad('high_freq_factor', `(${highFreqFactor}) must be more than low_freq_factor (${lowFreqFactor}) for llama3 rope scaling`);
      }
      return {
        theta,
        scaling: {
          type: 'llama3',
          factor: positive(src, 'factor'),
          lowFreqFactor,
          highFreqFactor,
          originalMaxPositionEmbeddings: posInt(src, 'original_max_position_embeddings', maxPos),
        },
      };
    }
    default:
      return refuse('rope_scaling', `rope scaling '${type}' is not supported (supported: default, linear, llama3)`);
  }
}

/** HF's inv_freq for the given scaling, as float32 (modeling_rope_utils.py). */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, Math.fround((2 * i) / headDim));
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = inv[i] / scaling.factor;
  } else if (scaling.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: old } = scaling;
    const lowFreqWavelen = old / lowFreqFactor;
    const highFreqWavelen = old / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowFreqWavelen) inv[i] = inv[i] / factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (old / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/** Builds the Config from a parsed config.json, refusing unsupported architectures and options by name. */
export function parseConfig(json: unknown): Config {
  if (typeof json !== 'object' || json === null) throw new EngineError('bad-file', 'config.json is not an object', { file: 'config.json' });
  const cfg = json as Json;
  const archs = idListStr(cfg.architectures);
  const architecture = archs.find((a): a is Architecture => (ARCHITECTURES as readonly string[]).includes(a));
  if (!architecture) {
    refuse('architectures', `architecture ${archs.join(', ') || '(none)'} is not supported (supported: ${ARCHITECTURES.join(', ')})`);
  }
  const act = String(cfg.hidden_act ?? cfg.hidden_activation ?? 'silu');
  if (act !== 'silu') refuse('hidden_act', `activation '${act}' is not supported (only silu / SwiGLU)`);
  if (cfg.quantization_config) refuse('quantization_config', 'pre-quantized checkpoints are not supported (fp16/bf16/fp32 only)');
  if (Array.isArray(cfg.layer_types) && cfg.layer_types.some((t) => t !== 'full_attention')) {
    refuse('layer_types', 'layers other than full_attention are not supported');
  }

  const dim = posInt(cfg, 'hidden_size');
  const nHeads = posInt(cfg, 'num_attention_heads');
  const nKvHeads = posInt(cfg, 'num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0) bad('num_key_value_heads', `(${nKvHeads}) must divide num_attention_heads (${nHeads})`);
  const headDim = cfg.head_dim === undefined || cfg.head_dim === null ? dim / nHeads : posInt(cfg, 'head_dim');
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) refuse('head_dim', `head_dim ${headDim} must be an even integer`);
  if (headDim > 256) refuse('head_dim', `head_dim ${headDim} is larger than the attention kernel's 256`);
  const maxPositionEmbeddings = posInt(cfg, 'max_position_embeddings', 2048);
  const { theta, scaling } = readRope(cfg, maxPositionEmbeddings);

  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const attentionBias = cfg.attention_bias === true;
  const useSliding = architecture === 'MistralForCausalLM' || cfg.use_sliding_window === true;
  // null means "none"; a number must be a window (used or not: a 0 or negative window is a broken config)
  const sw = cfg.sliding_window === undefined || cfg.sliding_window === null ? null : posInt(cfg, 'sliding_window');
  const slidingWindow = useSliding ? sw : null;

  return Object.freeze({
    architecture,
    vocabSize: posInt(cfg, 'vocab_size'),
    dim,
    hiddenDim: posInt(cfg, 'intermediate_size'),
    nLayers: posInt(cfg, 'num_hidden_layers'),
    nHeads,
    nKvHeads,
    headDim,
    kvGroups: nHeads / nKvHeads,
    qDim: nHeads * headDim,
    kvDim: nKvHeads * headDim,
    rmsNormEps: positive(cfg, 'rms_norm_eps', 1e-6, 0),
    ropeTheta: theta,
    ropeScaling: Object.freeze(scaling),
    ropeInvFreq: ropeInverseFrequencies(headDim, theta, scaling),
    attentionScale: 1 / Math.sqrt(headDim),
    maxPositionEmbeddings,
    slidingWindow,
    tieWordEmbeddings: cfg.tie_word_embeddings === true,
    qkvBias: isQwen2 || attentionBias,
    oBias: !isQwen2 && attentionBias,
    mlpBias: cfg.mlp_bias === true,
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : null,
    eosTokenIds: Object.freeze(idList(cfg.eos_token_id)),
  });
}

function idListStr(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The longest context this config allows the engine to reserve (a sliding window caps it: beyond it we'd be wrong). */
export function maxContext(config: Config): number {
  return config.slidingWindow === null
    ? config.maxPositionEmbeddings
    : Math.min(config.maxPositionEmbeddings, config.slidingWindow);
}
