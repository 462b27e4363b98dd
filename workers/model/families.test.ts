// The per-model recipe parseConfig derives for each family, from the fixtures' hub-style configs and from the other
// spellings the hub uses; the families out of reach refused by name; bad values refused naming their key.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { parseConfig, type Config } from './config.ts';
import { ropeAttentionFactor, ropeInverseFrequencies, usesLongFactors } from './rope-config.ts';

const FAMILIES = '../shared/models/families';
const json = (name: string) => JSON.parse(readFileSync(`${FAMILIES}/${name}/config.json`, 'utf8')) as Record<string, unknown>;
const fixture = (name: string) => parseConfig(json(name));

function thrown(f: () => unknown): EngineError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected an EngineError');
}

const windows = (c: Config) => c.layers.map((l) => l.window);
const ropes = (c: Config) => c.layers.map((l) => l.rope);

describe('family recipes from the fixtures', () => {
  it('qwen3: per-head q/k norm, head_dim 64 with heads × head_dim != hidden, tied', () => {
    const c = fixture('qwen3-a-bf16');
    expect(c).toMatchObject({ family: 'qwen3', qkNorm: 'head', headDim: 64, qDim: 256, dim: 128, tieWordEmbeddings: true, qkvBias: false });
    expect(c).toMatchObject({ normPlacement: 'pre', normWeightOffset: 0, activation: 'silu', attentionScale: 1 / 8 });
    expect(windows(c)).toEqual([null, null, null]);
  });

  it('gemma2: (1+w) sandwich norms, GeGLU, query_pre_attn_scalar, both soft caps, sliding window on alternate layers', () => {
    const c = fixture('gemma2-a-bf16');
    expect(c).toMatchObject({ family: 'gemma2', normWeightOffset: 1, normPlacement: 'sandwich', qkNorm: 'none', activation: 'gelu_tanh' });
    expect(c).toMatchObject({ attentionScale: 32 ** -0.5, attnSoftcap: 50, finalSoftcap: 30, embeddingScale: 8, tieWordEmbeddings: true });
    expect(windows(c)).toEqual([4, null, 4, null]);
    expect(c.ropes).toHaveLength(1);
  });

  it('gemma3: (1+w) q/k norms, no soft caps, 5 sliding : 1 global, local layers on rope_local_base_freq', () => {
    const c = fixture('gemma3-a-bf16');
    expect(c).toMatchObject({ family: 'gemma3', normWeightOffset: 1, normPlacement: 'sandwich', qkNorm: 'head', attnSoftcap: null, finalSoftcap: null });
    expect(c.eosTokenIds).toEqual([1, 106]);
    expect(windows(c)).toEqual([4, 4, 4, 4, 4, null]);
    expect(c.ropes.map((r) => r.theta)).toEqual([10000, 1_000_000]);
    expect(ropes(c)).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it('gemma3: the v5 per-layer-type rope_parameters and layer_types give the same recipe', () => {
    const { rope_theta: _t, rope_local_base_freq: _l, sliding_window_pattern: _p, rope_scaling: _s, ...rest } = json('gemma3-a-bf16');
    const v5 = parseConfig({
      ...rest,
      layer_types: [...Array(5).fill('sliding_attention'), 'full_attention'],
      rope_parameters: {
        sliding_attention: { rope_type: 'default', rope_theta: 10000 },
        full_attention: { rope_type: 'default', rope_theta: 1_000_000 },
      },
    });
    const legacy = fixture('gemma3-a-bf16');
    expect(v5.layers).toEqual(legacy.layers);
    expect(v5.ropes).toEqual(legacy.ropes);
  });

  it('gemma3 multimodal: the text_config with Gemma3TextConfig defaults (head_dim 256), global layers scaled', () => {
    // google/gemma-3-4b-it's config.json, vision_config shortened
    const c = parseConfig({
      architectures: ['Gemma3ForConditionalGeneration'],
      model_type: 'gemma3',
      text_config: {
        hidden_size: 2560,
        intermediate_size: 10240,
        model_type: 'gemma3_text',
        num_attention_heads: 8,
        num_hidden_layers: 34,
        num_key_value_heads: 4,
        rope_scaling: { factor: 8.0, rope_type: 'linear' },
        sliding_window: 1024,
      },
      vision_config: { hidden_size: 1152, model_type: 'siglip_vision_model' },
      eos_token_id: [1, 106],
      torch_dtype: 'bfloat16',
    });
    expect(c).toMatchObject({ headDim: 256, vocabSize: 262_208, attentionScale: 1 / 16, tieWordEmbeddings: true, maxPositionEmbeddings: 131_072 });
    expect(c.embeddingScale).toBe(50.5); // sqrt(2560) = 50.596 in bf16
    expect(c.layers.filter((l) => l.window === 1024)).toHaveLength(29);
    expect(c.ropes).toEqual([
      { theta: 10000, rotaryDims: 256, scaling: { type: 'default' } },
      { theta: 1_000_000, rotaryDims: 256, scaling: { type: 'linear', factor: 8 } },
    ]);
  });

  it('phi3: fused projections, partial rotary 0.75, longrope with its attention factor; long factors past the original context', () => {
    const c = fixture('phi3-a-bf16');
    expect(c).toMatchObject({ family: 'phi3', fusedProjections: true, tieWordEmbeddings: true, qkvBias: false, oBias: false });
    // sliding_window 262144 covers every position of max_position_embeddings 131072: no window
    expect(windows(c)).toEqual([null, null]);
    const [rope] = c.ropes;
    expect(rope.rotaryDims).toBe(24);
    expect(rope.scaling.type).toBe('longrope');
    expect(ropeAttentionFactor(rope)).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 12);
    expect(ropeAttentionFactor(rope)).toBeCloseTo(1.19024, 5);
    expect(usesLongFactors(rope, 4096)).toBe(false);
    expect(usesLongFactors(rope, 4097)).toBe(true);
    const short = ropeInverseFrequencies(rope, 4096);
    const long = ropeInverseFrequencies(rope, 8192);
    expect(short.length).toBe(12);
    expect(short[11] / long[11]).toBeCloseTo(40 / 2.5, 5);
    // the 'su' spelling and the v5 rope_parameters form read alike
    const { rope_scaling: scaling, rope_theta: _t, partial_rotary_factor: _p, original_max_position_embeddings: _o, ...rest } = json('phi3-a-bf16');
    expect(parseConfig({ ...json('phi3-a-bf16'), rope_scaling: { ...(scaling as object), type: 'su' } }).ropes).toEqual(c.ropes);
    const v5 = parseConfig({
      ...rest,
      rope_parameters: { ...(scaling as object), rope_type: 'longrope', rope_theta: 10000, partial_rotary_factor: 0.75, original_max_position_embeddings: 4096 },
    });
    expect(v5.ropes).toEqual(c.ropes);
  });

  it('phi3 mini 4k: sliding_window 2047 on every layer', () => {
    const c = parseConfig({ ...json('phi3-a-bf16'), rope_scaling: null, partial_rotary_factor: 1, sliding_window: 2047, max_position_embeddings: 4096 });
    expect(windows(c)).toEqual([2047, 2047]);
    expect(c.ropes).toEqual([{ theta: 10000, rotaryDims: 32, scaling: { type: 'default' } }]);
  });

  it('smollm3: NoPE layers from no_rope_layers, or every no_rope_layer_interval-th by default', () => {
    expect(ropes(fixture('smollm3-a-bf16'))).toEqual([0, 0, 0, null]);
    const { no_rope_layers: _n, layer_types: _l, ...rest } = json('smollm3-a-bf16');
    expect(ropes(parseConfig({ ...rest, num_hidden_layers: 8 }))).toEqual([0, 0, 0, null, 0, 0, 0, null]);
    expect(ropes(parseConfig({ ...rest, num_hidden_layers: 6, no_rope_layer_interval: 3 }))).toEqual([0, 0, null, 0, 0, null]);
  });

  it('olmo2: post-norm only, q/k norm over the whole projection', () => {
    expect(fixture('olmo2-a-bf16')).toMatchObject({ family: 'olmo2', normPlacement: 'post', qkNorm: 'projection', normWeightOffset: 0, bosTokenId: null });
  });

  it('granite: embedding, residual and attention multipliers, logits divided by logits_scaling', () => {
    const c = fixture('granite-a-bf16');
    expect(c).toMatchObject({ family: 'granite', embeddingScale: 12, residualScale: 0.22, attentionScale: 0.03125, logitsScale: 1 / 8 });
  });

  it('rounds the Gemma normalizer to the checkpoint dtype, as transformers does', () => {
    const gemma = { ...json('gemma2-a-bf16'), hidden_size: 3584, num_attention_heads: 16, head_dim: 256 };
    expect(parseConfig({ ...gemma, torch_dtype: 'bfloat16' }).embeddingScale).toBe(59.75);
    expect(parseConfig({ ...gemma, torch_dtype: 'float32' }).embeddingScale).toBe(Math.fround(Math.sqrt(3584)));
  });
});

describe('families out of reach are refused by name, with what they need', () => {
  it.each([
    ['Qwen3NextForCausalLM', 'Qwen3-Next', /Gated DeltaNet/],
    ['Qwen3_5ForConditionalGeneration', 'Qwen3.5', /Gated DeltaNet/],
    ['Gemma3nForConditionalGeneration', 'Gemma 3n', /per-layer embeddings/],
    ['Gemma4ForConditionalGeneration', 'Gemma 4', /global_head_dim/],
  ])('%s', (arch, name, needs) => {
    const e = thrown(() => parseConfig({ ...json('qwen3-a-bf16'), architectures: [arch] }));
    expect(e.code).toBe('unsupported');
    expect(e.details).toMatchObject({ setting: 'architectures', family: name });
    expect(e.message).toContain(arch);
    expect(e.message).toMatch(needs);
  });

  it('mixture-of-experts models (Mixtral, Qwen3-MoE, a multimodal wrapper around one)', () => {
    for (const cfg of [
      { ...json('qwen3-a-bf16'), architectures: ['MixtralForCausalLM'], num_local_experts: 8 },
      { ...json('qwen3-a-bf16'), architectures: ['Qwen3MoeForCausalLM'], num_experts: 128 },
      { architectures: ['Llama4ForConditionalGeneration'], text_config: { num_local_experts: 16 } },
    ]) {
      const e = thrown(() => parseConfig(cfg));
      expect(e.code).toBe('unsupported');
      expect(e.details.family).toBe('mixture-of-experts');
      expect(e.message).toMatch(/mixture-of-experts.*router/);
    }
  });
});

describe('bad values are refused naming their key', () => {
  it.each([
    ['gemma2-a-bf16', { sliding_window: -4 }, 'sliding_window'],
    ['gemma2-a-bf16', { query_pre_attn_scalar: 0 }, 'query_pre_attn_scalar'],
    ['gemma2-a-bf16', { attn_logit_softcapping: 'fifty' }, 'attn_logit_softcapping'],
    ['gemma3-a-bf16', { sliding_window_pattern: 0 }, 'sliding_window_pattern'],
    ['gemma3-a-bf16', { rope_local_base_freq: -1 }, 'rope_local_base_freq'],
    ['gemma3-a-bf16', { layer_types: ['full_attention'] }, 'layer_types'],
    ['granite-a-bf16', { logits_scaling: 0 }, 'logits_scaling'],
    ['granite-a-bf16', { residual_multiplier: 'x' }, 'residual_multiplier'],
    ['granite-a-bf16', { attention_multiplier: -1 }, 'attention_multiplier'],
    ['smollm3-a-bf16', { no_rope_layers: [1, 1] }, 'no_rope_layers'],
    ['smollm3-a-bf16', { no_rope_layers: null, layer_types: null, no_rope_layer_interval: 0 }, 'no_rope_layer_interval'],
    ['phi3-a-bf16', { partial_rotary_factor: 1.5 }, 'partial_rotary_factor'],
    ['phi3-a-bf16', { rope_scaling: { type: 'longrope', short_factor: [1, 2], long_factor: [1, 2] } }, 'rope_scaling.short_factor'],
    ['phi3-a-bf16', { original_max_position_embeddings: 0.5 }, 'original_max_position_embeddings'],
    ['qwen3-a-bf16', { use_sliding_window: 'yes' }, 'use_sliding_window'],
    ['qwen3-a-bf16', { tie_word_embeddings: 1 }, 'tie_word_embeddings'],
  ])('%s with %j names %s', (name, patch, key) => {
    const e = thrown(() => parseConfig({ ...json(name), ...patch }));
    expect(e.details.setting).toBe(key);
  });
});
