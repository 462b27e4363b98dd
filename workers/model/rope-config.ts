// Rotary position embeddings as the config describes them, in each spelling the hub uses:
//   legacy:  top-level rope_theta, rope_scaling {type | rope_type, factor, ...}, partial_rotary_factor and (Phi-3)
//            original_max_position_embeddings;
//   v5:      rope_parameters {rope_type, rope_theta, factor, partial_rotary_factor, original_max_position_embeddings, ...};
//   v5 per layer type (Gemma 3): rope_parameters {full_attention: {...}, sliding_attention: {...}}; in the legacy form
//            Gemma 3's sliding layers run default RoPE on rope_local_base_freq and its global ones rope_theta with
//            rope_scaling.
// A RopeSpec is what one kind of layer rotates with; the inverse frequencies and the attention factor (LongRoPE's
// scale on cos/sin) come from it here and nowhere else.
// Sources (transformers): modeling_rope_utils.py (_compute_default / linear / llama3 / longrope_parameters),
// models/phi3 (partial rotary, longrope), models/gemma3 (rope_local_base_freq, per-layer-type rope_parameters).
import { badValue, given, num, numList, obj, posInt, posNum, refuse, type Json } from './config-values.ts';

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | {
      /** LongRoPE (Phi-3.5, Phi-4-mini; also spelled 'su'): per-frequency factors, short or long by context. */
      type: 'longrope';
      shortFactor: readonly number[];
      longFactor: readonly number[];
      originalMaxPositionEmbeddings: number;
      /** Multiplies cos and sin: sqrt(1 + ln(factor) / ln(original)) unless the config gives it. */
      attentionFactor: number;
    };

export interface RopeSpec {
  readonly theta: number;
  readonly scaling: RopeScaling;
  /** Dims of each head that rotate (head_dim × partial_rotary_factor, even); the ones after them pass through. */
  readonly rotaryDims: number;
}

export type LayerType = 'full_attention' | 'sliding_attention';

const SUPPORTED = 'default, linear, llama3, longrope';

/**
 * The RoPE parameters of layers of `layerType`. `localTheta`: Gemma 3's rope_local_base_freq (its sliding layers'
 * theta in the legacy form), null for other families.
 */
export function readRope(cfg: Json, layerType: LayerType, headDim: number, maxPos: number, localTheta: number | null): RopeSpec {
  const params = obj(cfg, 'rope_parameters');
  let src: Json;
  let where: string;
  if (params && (given(params, 'full_attention') || given(params, 'sliding_attention'))) {
    where = `rope_parameters.${layerType}`;
    src = obj(params, layerType) ?? obj(params, 'full_attention') ?? {};
  } else if (layerType === 'sliding_attention' && localTheta !== null) {
    where = 'rope_local_base_freq';
    src = { rope_type: 'default', rope_theta: localTheta };
  } else {
    where = params ? 'rope_parameters' : 'rope_scaling';
    src = { ...(obj(cfg, 'rope_scaling') ?? {}), ...(params ?? {}) };
  }
  const key = (k: string) => `${where}.${k}`;
  const read = (k: string, fallback?: number) => {
    try {
      return num(src, k, fallback);
    } catch {
      return badValue(key(k), `is missing or not a number (${JSON.stringify(src[k])})`);
    }
  };
  const theta = given(src, 'rope_theta') ? read('rope_theta') : posNum(cfg, 'rope_theta', 10000);
  if (!(theta > 1)) badValue(key('rope_theta'), `must be greater than 1, got ${theta}`);

  const prf = given(src, 'partial_rotary_factor') ? read('partial_rotary_factor') : num(cfg, 'partial_rotary_factor', 1);
  if (!(prf > 0 && prf <= 1)) badValue('partial_rotary_factor', `must be in (0, 1], got ${prf}`);
  const rotaryDims = Math.floor(headDim * prf);
  if (rotaryDims < 2 || rotaryDims % 2 !== 0) {
    refuse('partial_rotary_factor', `partial_rotary_factor ${prf} rotates ${rotaryDims} of head_dim ${headDim}: an even count of at least 2 is needed`);
  }

  const type = String(src.rope_type ?? src.type ?? 'default');
  const original = () => {
    const v = given(src, 'original_max_position_embeddings')
      ? read('original_max_position_embeddings')
      : posInt(cfg, 'original_max_position_embeddings', maxPos);
    if (!Number.isInteger(v) || v < 2) badValue(key('original_max_position_embeddings'), `must be an integer of at least 2, got ${v}`);
    return v;
  };
  const positive = (k: string, fallback?: number) => {
    const v = read(k, fallback);
    if (!(v > 0)) badValue(key(k), `must be positive, got ${v}`);
    return v;
  };
  switch (type) {
    case 'default':
      return { theta, rotaryDims, scaling: { type: 'default' } };
    case 'linear':
      return { theta, rotaryDims, scaling: { type: 'linear', factor: positive('factor') } };
    case 'llama3': {
      const scaling = {
        type: 'llama3' as const,
        factor: positive('factor'),
        lowFreqFactor: positive('low_freq_factor', 1),
        highFreqFactor: positive('high_freq_factor', 4),
        originalMaxPositionEmbeddings: original(),
      };
      if (!(scaling.highFreqFactor > scaling.lowFreqFactor)) badValue(key('high_freq_factor'), 'must be larger than low_freq_factor');
      return { theta, rotaryDims, scaling };
    }
    case 'longrope':
    case 'su': {
      const half = rotaryDims / 2;
      const factors = (k: string) => {
        let list: number[];
        try {
          list = numList(src, k, half);
        } catch {
          return badValue(key(k), `must be a list of ${half} numbers (rotary dims ${rotaryDims} / 2)`);
        }
        if (list.some((f) => !(f > 0))) badValue(key(k), 'must hold positive numbers');
        return Object.freeze([...list]);
      };
      const orig = original();
      // transformers: factor (when not given) is max_position_embeddings / original_max_position_embeddings.
      const factor = given(src, 'factor') ? positive('factor') : maxPos / orig;
      const attentionFactor = given(src, 'attention_factor')
        ? positive('attention_factor')
        : factor <= 1
          ? 1
          : Math.sqrt(1 + Math.log(factor) / Math.log(orig));
      return {
        theta,
        rotaryDims,
        scaling: {
          type: 'longrope',
          shortFactor: factors('short_factor'),
          longFactor: factors('long_factor'),
          originalMaxPositionEmbeddings: orig,
          attentionFactor,
        },
      };
    }
    default:
      return refuse('rope_scaling', `rope scaling '${type}' is not supported (supported: ${SUPPORTED})`);
  }
}

/**
 * When LongRoPE's long factors apply: when the context the person asked for (the KV cache's length) exceeds the
 * original one. The choice is made once per run state, so every cached key was rotated with the same frequencies
 * (transformers switches per forward by the current sequence length; the two agree for any sequence that stays on
 * one side of the original length).
 */
export function usesLongFactors(spec: RopeSpec, contextLength: number): boolean {
  return spec.scaling.type === 'longrope' && contextLength > spec.scaling.originalMaxPositionEmbeddings;
}

/** HF's inv_freq (float32, rotaryDims / 2 of them) for a run state of `contextLength` positions. */
export function ropeInverseFrequencies(spec: RopeSpec, contextLength: number): Float32Array {
  const { theta, scaling, rotaryDims: dim } = spec;
  const half = dim / 2;
  const inv = new Float32Array(half);
  // base ** (2i / dim) in float32 (torch.arange(0, dim, 2).float() / dim), then its reciprocal
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / dim)));
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
  } else if (scaling.type === 'longrope') {
    const ext = usesLongFactors(spec, contextLength) ? scaling.longFactor : scaling.shortFactor;
    // inv_freq = 1 / (ext * base ** (2i / dim)), in float32
    for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround(Math.fround(ext[i]) * Math.fround(Math.pow(theta, Math.fround((2 * i) / dim))));
  }
  return inv;
}

/** The factor on cos and sin (LongRoPE's attention factor; 1 for the other kinds). */
export function ropeAttentionFactor(spec: RopeSpec): number {
  return spec.scaling.type === 'longrope' ? spec.scaling.attentionFactor : 1;
}

/** Two specs rotate alike (layers sharing one cos/sin table). */
export function sameRope(a: RopeSpec, b: RopeSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
