import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { kvCacheRows, maxContext, parseConfig } from './config.ts';
import { ropeInverseFrequencies } from './rope-config.ts';

const MODELS = '../shared/models';
const read = (p: string) => JSON.parse(readFileSync(`${MODELS}/${p}`, 'utf8'));

const llama = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  intermediate_size: 128,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 100,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 256,
  rope_theta: 500000,
};

function refusal(json: unknown): EngineError {
  try {
    parseConfig(json);
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('unsupported');
    return e as EngineError;
  }
  throw new Error('expected a refusal');
}

describe('parseConfig', () => {
  it('reads kjv-llama (rope_parameters form) with derived fields', () => {
    const c = parseConfig(read('kjv-llama/config.json'));
    expect(c).toMatchObject({ architecture: 'LlamaForCausalLM', dim: 256, nHeads: 8, nKvHeads: 4, headDim: 32, kvGroups: 2 });
    expect(c).toMatchObject({ qDim: 256, kvDim: 128, hiddenDim: 704, vocabSize: 4096, tieWordEmbeddings: false, family: 'llama' });
    expect(c.ropes).toEqual([{ theta: 10000, rotaryDims: 32, scaling: { type: 'default' } }]);
    const inv = ropeInverseFrequencies(c.ropes[0], 2048);
    expect(inv.length).toBe(16);
    expect(inv[0]).toBe(1);
    expect(inv[1]).toBeCloseTo(1 / 10000 ** (2 / 32), 7);
    expect(c.layers.every((l) => l.window === null && l.rope === 0)).toBe(true);
    expect(c).toMatchObject({ normWeightOffset: 0, normPlacement: 'pre', qkNorm: 'none', activation: 'silu', embeddingScale: 1, residualScale: 1, logitsScale: 1 });
    expect(c.attentionScale).toBe(1 / Math.sqrt(32));
    expect(c.eosTokenIds).toEqual([1]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads every random model', () => {
    const seen = readdirSync(`${MODELS}/random`).map((n) => [n, parseConfig(read(`random/${n}/config.json`))] as const);
    const by = Object.fromEntries(seen);
    expect(by['llama-tied-mqa-fp16']).toMatchObject({ nKvHeads: 1, kvGroups: 6, headDim: 16, tieWordEmbeddings: true });
    expect(by['mistral-headdim-bf16']).toMatchObject({ headDim: 48, qDim: 192, dim: 128, architecture: 'MistralForCausalLM' });
    expect(by['qwen2-bias-fp32']).toMatchObject({ qkvBias: true, oBias: false, tieWordEmbeddings: true });
    expect(by['qwen2-bias-fp32'].layers.every((l) => l.window === null)).toBe(true);
    expect(by['llama-gqa-bf16']).toMatchObject({ qkvBias: false, kvGroups: 2 });
  });

  it('reads the legacy top-level rope_theta / rope_scaling', () => {
    const c = parseConfig({ ...llama, rope_scaling: { type: 'linear', factor: 4 } });
    expect(c.ropes[0]).toEqual({ theta: 500000, rotaryDims: 16, scaling: { type: 'linear', factor: 4 } });
    const plain = ropeInverseFrequencies({ theta: 500000, rotaryDims: 16, scaling: { type: 'default' } }, 256);
    const inv = ropeInverseFrequencies(c.ropes[0], 256);
    for (let i = 0; i < 8; i++) expect(inv[i]).toBeCloseTo(plain[i] / 4, 12);
  });

  it('applies llama3 scaling like transformers', () => {
    // Llama 3.1 settings; values from transformers' _compute_llama3_parameters on head_dim 128, theta 500000.
    const c = parseConfig({
      ...llama,
      hidden_size: 512,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    const inv = ropeInverseFrequencies(c.ropes[0], 2048);
    const base = ropeInverseFrequencies({ theta: 500000, rotaryDims: 128, scaling: { type: 'default' } }, 2048);
    expect(inv.length).toBe(64);
    // high frequencies (wavelength < 8192/4) untouched, low ones (wavelength > 8192) divided by 8, a smooth band between
    for (let i = 0; i < 64; i++) {
      const wl = (2 * Math.PI) / base[i];
      if (wl < 2048) expect(inv[i]).toBe(base[i]);
      else if (wl > 8192) expect(inv[i]).toBeCloseTo(base[i] / 8, 12);
      else {
        expect(inv[i]).toBeLessThan(base[i]);
        expect(inv[i]).toBeGreaterThan(base[i] / 8);
      }
    }
  });

  it('prefers rope_parameters over top-level rope_theta', () => {
    const c = parseConfig({ ...llama, rope_theta: 1, rope_parameters: { rope_theta: 1e6, rope_type: 'default' } });
    expect(c.ropes[0].theta).toBe(1e6);
  });

  it('refuses unsupported architectures and options by name', () => {
    expect(refusal({ ...llama, architectures: ['GPT2LMHeadModel'] }).details.setting).toBe('architectures');
    expect(refusal({ ...llama, rope_scaling: { type: 'yarn', factor: 4 } }).details.setting).toBe('rope_scaling');
    expect(refusal({ ...llama, rope_parameters: { rope_type: 'dynamic', factor: 2 } }).details.setting).toBe('rope_scaling');
    expect(refusal({ ...llama, hidden_act: 'gelu' }).details.setting).toBe('hidden_act');
    expect(refusal({ ...llama, quantization_config: { quant_method: 'awq' } }).details.setting).toBe('quantization_config');
    expect(refusal({ ...llama, head_dim: 512 }).details.setting).toBe('head_dim');
    expect(refusal({ ...llama, partial_rotary_factor: 0.1 }).details.setting).toBe('partial_rotary_factor');
    expect(refusal({ ...llama, layer_types: ['full_attention', 'linear_attention'] }).details.setting).toBe('layer_types');
  });

  it('refuses an architecture named like an Object.prototype key as unknown, not as a family out of reach', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const e = refusal({ ...llama, architectures: [name] });
      expect(e.details.setting).toBe('architectures');
      expect(e.message).toMatch(new RegExp(`architecture ${name} is not supported`));
      expect(e.message).not.toMatch(/undefined/);
    }
  });

  it('gives a Mistral sliding window to every layer, without capping the context (the KV cache is a ring)', () => {
    const c = parseConfig({ ...llama, architectures: ['MistralForCausalLM'], max_position_embeddings: 32768, sliding_window: 4096 });
    expect(maxContext(c)).toBe(32768);
    expect(c.layers.map((l) => l.window)).toEqual([4096, 4096]);
    const q = parseConfig({ ...llama, architectures: ['Qwen2ForCausalLM'], sliding_window: 64, use_sliding_window: false });
    expect(q.layers.map((l) => l.window)).toEqual([null, null]);
    // Qwen2/3: layers from max_window_layers on slide, as transformers' config classes say
    const q2 = parseConfig({ ...llama, architectures: ['Qwen2ForCausalLM'], sliding_window: 64, use_sliding_window: true, max_window_layers: 1 });
    expect(q2.layers.map((l) => l.window)).toEqual([null, 64]);
  });

  it('keeps a ring of window − 1 + chunk rows per sliding layer, never more than the context', () => {
    expect(kvCacheRows(null, 2048, 64)).toBe(2048);
    expect(kvCacheRows(4096, 2048, 64)).toBe(2048);
    expect(kvCacheRows(512, 2048, 64)).toBe(575);
  });

  it('reads Llama attention_bias as q/k/v/o biases', () => {
    expect(parseConfig({ ...llama, attention_bias: true })).toMatchObject({ qkvBias: true, oBias: true });
  });
});

describe('bad config values are refused by name (bad-config), before any weight', () => {
  function badConfig(json: unknown): EngineError {
    let e: unknown;
    try {
      parseConfig(json);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('bad-config');
    return e as EngineError;
  }
  const llama3 = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
  it.each([
    ['rope factor 0', { rope_scaling: { type: 'linear', factor: 0 } }, 'rope_scaling.factor'],
    ['rope factor negative', { rope_scaling: { type: 'linear', factor: -2 } }, 'rope_scaling.factor'],
    ['llama3 factor 0', { rope_scaling: { ...llama3, factor: 0 } }, 'rope_scaling.factor'],
    ['rope_theta 0', { rope_theta: 0 }, 'rope_theta'],
    ['rope_theta negative', { rope_theta: -10000 }, 'rope_theta'],
    ['rope_parameters rope_theta 0', { rope_parameters: { rope_type: 'default', rope_theta: 0 } }, 'rope_parameters.rope_theta'],
    ['rms_norm_eps negative', { rms_norm_eps: -1e-6 }, 'rms_norm_eps'],
    ['rms_norm_eps a string', { rms_norm_eps: '1e-6' }, 'rms_norm_eps'],
    // past the 32-bit floats the engine computes with: infinite there (garbage out, silently)
    ['rms_norm_eps 1e300', { rms_norm_eps: 1e300 }, 'rms_norm_eps'],
    ['rope_theta 1e39', { rope_theta: 1e39 }, 'rope_theta'],
    ['llama3 low == high', { rope_scaling: { ...llama3, low_freq_factor: 2, high_freq_factor: 2 } }, 'rope_scaling.high_freq_factor'],
    ['llama3 low > high', { rope_scaling: { ...llama3, low_freq_factor: 4, high_freq_factor: 1 } }, 'rope_scaling.high_freq_factor'],
    ['llama3 original_max_position_embeddings 0', { rope_scaling: { ...llama3, original_max_position_embeddings: 0 } }, 'rope_scaling.original_max_position_embeddings'],
    ['sliding_window 0', { architectures: ['MistralForCausalLM'], sliding_window: 0 }, 'sliding_window'],
    ['sliding_window negative', { architectures: ['MistralForCausalLM'], sliding_window: -4096 }, 'sliding_window'],
    ['sliding_window fractional', { sliding_window: 40.5 }, 'sliding_window'],
    ['num_hidden_layers 1e6', { num_hidden_layers: 1e6 }, 'num_hidden_layers'],
    ['num_hidden_layers 1e7', { num_hidden_layers: 1e7 }, 'num_hidden_layers'],
    ['num_attention_heads 1e6', { num_attention_heads: 1e6, num_key_value_heads: 1e6 }, 'num_attention_heads'],
    ['vocab_size 1e9', { vocab_size: 1e9 }, 'vocab_size'],
    ['hidden_size 1e7', { hidden_size: 1e7 }, 'hidden_size'],
    ['intermediate_size 1e8', { intermediate_size: 1e8 }, 'intermediate_size'],
    ['num_hidden_layers 0', { num_hidden_layers: 0 }, 'num_hidden_layers'],
    ['num_hidden_layers missing', { num_hidden_layers: undefined }, 'num_hidden_layers'],
    ['num_key_value_heads not dividing', { num_key_value_heads: 3 }, 'num_key_value_heads'],
  ])('%s', (_what, patch, key) => {
    const t0 = performance.now();
    const e = badConfig({ ...llama, ...patch });
    expect(performance.now() - t0).toBeLessThan(500); // refused at once, not after building what the value implies (1e6 layers took 29 s)
    expect(e.details).toMatchObject({ setting: key, file: 'config.json' });
    expect(e.message).toContain(`'${key}'`);
  });

  it('keeps what real configs hold: a null sliding_window, an unused one, rope_parameters', () => {
    const windows = (c: ReturnType<typeof parseConfig>) => c.layers.map((l) => l.window);
    expect(windows(parseConfig({ ...llama, architectures: ['MistralForCausalLM'], sliding_window: null })).every((w) => w === null)).toBe(true);
    expect(windows(parseConfig({ ...llama, architectures: ['Qwen2ForCausalLM'], sliding_window: 131072, use_sliding_window: false })).every((w) => w === null)).toBe(true);
    expect(parseConfig({ ...llama, rms_norm_eps: 0 }).rmsNormEps).toBe(0);
    expect(parseConfig({ ...llama, rope_scaling: llama3 }).ropes[0].scaling).toMatchObject({ type: 'llama3', factor: 8 });
  });
});
