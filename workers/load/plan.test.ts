import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../model/config.ts';
import { activationBytes, checkTensors, int8Scope, isQuantizedLinear, kvCacheBytes, modelShape, planLoad, type ModelShape } from './plan.ts';
import type { TensorRecord } from './safetensors.ts';

const llama = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 100,
  intermediate_size: 128,
  max_position_embeddings: 512,
};
const shape: ModelShape = modelShape(parseConfig(llama));
const recordsOf = (s: ModelShape): TensorRecord[] => [...s.tensors].map(([name, sh], i) => ({ name, dtype: 'BF16', shape: sh, file: 'f', start: i, end: i }));
const records = recordsOf(shape);
const limits = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27 };
const weightsF16 = records.reduce((a, r) => a + r.shape.reduce((x, y) => x * y, 1) * 2, 0);

describe('planLoad', () => {
  it('counts fp16 weights, f32 KV cache and activations', () => {
    const p = planLoad({ model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'streamed', contextLength: 256, limits });
    expect(p.bytes.weights).toBe(weightsF16);
    expect(p.bytes['kv-cache']).toBe(2 * 2 * 256 * 2 * 16 * 4);
    expect(kvCacheBytes(shape, 256, 64)).toBe(p.bytes['kv-cache']);
    expect(p.bytes.activations).toBe(activationBytes(shape, 256, 64));
    // per token: x, xb, o/down product (3 × 64), q/k/v product 64 + 2 × 32, rotated q and attention out 2 × 64,
    // gate/up product and GLU out 3 × 128, scores 4 × 256, logits 100; the RoPE table 256 positions × 8 (cos, sin);
    // split decode partials: 4 heads × 8 chunks (256 / 32) × (16 + 2)
    expect(activationBytes(shape, 256, 64)).toBe((192 + 128 + 128 + 384 + 1024 + 100) * 64 * 4 + 256 * 16 * 4 + 4 * 8 * 18 * 4);
    expect(p.fits).toBe(true);
    expect(p.largestTensor).toEqual({ name: 'model.layers.0.mlp.gate_proj.weight', bytes: 128 * 64 * 2 });
  });
  it('naive counts the f32 copies; int8 quantizes linear layers only', () => {
    const naive = planLoad({ model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'naive', limits });
    expect(naive.bytes.staging).toBe(weightsF16 * 2);
    const int8 = planLoad({ model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'streamed-int8', limits });
    expect(int8.bytes.weights).toBeLessThan(weightsF16);
    expect(int8.bytes.scales).toBeGreaterThan(0);
  });
  it('int8 lm_head: only when asked, only streamed-int8, never with tied embeddings (a note says why)', () => {
    expect(isQuantizedLinear('lm_head.weight', [100, 64])).toBe(false);
    expect(isQuantizedLinear('lm_head.weight', [100, 64], 'decoder+lm_head')).toBe(true);
    expect(isQuantizedLinear('model.embed_tokens.weight', [100, 64], 'decoder+lm_head')).toBe(false);
    expect(isQuantizedLinear('model.layers.0.mlp.up_proj.weight', [128, 64], 'decoder')).toBe(true);
    expect(isQuantizedLinear('model.layers.0.input_layernorm.weight', [64], 'decoder+lm_head')).toBe(false);
    expect(int8Scope({ strategy: 'streamed-int8' }, false)).toEqual({ scope: 'decoder', note: null });
    expect(int8Scope({ strategy: 'streamed-int8', int8LmHead: true }, false)).toEqual({ scope: 'decoder+lm_head', note: null });
    expect(int8Scope({ strategy: 'streamed-int8', int8LmHead: true }, true)).toMatchObject({ scope: 'decoder', note: expect.stringMatching(/tied/) });
    expect(int8Scope({ strategy: 'streamed', int8LmHead: true }, false)).toMatchObject({ scope: 'decoder', note: expect.stringMatching(/only streamed-int8/) });

    const base = { model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'streamed-int8' as const, limits };
    const dec = planLoad(base);
    const head = planLoad({ ...base, int8LmHead: true });
    expect(dec).toMatchObject({ int8Scope: 'decoder', notes: [] });
    expect(head).toMatchObject({ int8Scope: 'decoder+lm_head', notes: [] });
    // lm_head [100, 64]: fp16 12800 bytes → int8 6400 + scales (100 × 4, aligned)
    expect(dec.bytes.weights - head.bytes.weights).toBe(100 * 64 * 2 - 100 * 64);
    expect(head.bytes.scales - dec.bytes.scales).toBe(400);
    // the staging of the quantize step: the largest fp16 tensor quantized (lm_head now counts among them)
    expect(head.bytes.staging).toBe(Math.max(128 * 64 * 2, 100 * 64 * 2));

    const tiedShape = modelShape(parseConfig({ ...llama, tie_word_embeddings: true }));
    const tiedRecords = recordsOf(tiedShape);
    const tiedBase = { ...base, shape: tiedShape, tensors: tiedRecords };
    const tied = planLoad({ ...tiedBase, int8LmHead: true });
    expect(tied.int8Scope).toBe('decoder');
    expect(tied.notes).toEqual([expect.stringMatching(/tied/)]);
    expect(tied.fits).toBe(true);
    expect(tied.bytes).toEqual(planLoad(tiedBase).bytes);
    // not streamed-int8: a note, nothing else changes
    const fp16 = planLoad({ ...base, strategy: 'streamed', int8LmHead: true });
    expect(fp16.int8Scope).toBeUndefined();
    expect(fp16.notes).toEqual([expect.stringMatching(/only streamed-int8/)]);
  });
  it('refuses with reasons: budget, context, a row larger than a binding', () => {
    const p = planLoad({ model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'fp16', contextLength: 1024, vramBudgetBytes: 1000, limits: { ...limits, maxStorageBufferBindingSize: 64 } });
    expect(p.fits).toBe(false);
    expect(p.reasons.join('\n')).toMatch(/budget/);
    expect(p.reasons.join('\n')).toMatch(/model's maximum/);
    expect(p.reasons.join('\n')).toMatch(/one row of/);
  });
  it('checkTensors names a missing tensor and a shape mismatch', () => {
    const m = new Map(records.map((r) => [r.name, r]));
    m.delete('model.norm.weight');
    expect(() => checkTensors(shape, m)).toThrow(/no tensor 'model.norm.weight'/);
    const m2 = new Map(records.map((r) => [r.name, r.name === 'lm_head.weight' ? { ...r, shape: [100, 32] } : r]));
    expect(() => checkTensors(shape, m2)).toThrow(/'lm_head.weight' has shape \[100, 32\]/);
  });
  it('sliding-window layers keep a ring: the KV cache, the notes and the activations of the recipe', () => {
    // Gemma 2 fixture: layers 0, 2 slide with window 4, q_norm none; Gemma 3: 5 of 6 slide, two RoPE tables, q/k norms
    const gemma2 = modelShape(parseConfig(JSON.parse(readFileSync('../shared/models/families/gemma2-a-bf16/config.json', 'utf8'))));
    const kvRow = 2 * 32 * 4; // kv heads × head_dim × f32
    const p = planLoad({ model: 'g', architecture: 'Gemma2ForCausalLM', shape: gemma2, tensors: recordsOf(gemma2), strategy: 'streamed', contextLength: 1024, maxTokens: 64, limits });
    // global layers 1024 rows, sliding ones 4 - 1 + 64 = 67 rows; keys and values
    expect(p.bytes['kv-cache']).toBe(2 * (2 * 1024 + 2 * 67) * kvRow);
    expect(p.notes).toEqual([expect.stringMatching(/^sliding-window layers 0, 2 keep a ring of 67 of the 1024 positions: KV cache 1\.1 MiB instead of 2\.0 MiB$/)]);
    const gemma3 = modelShape(parseConfig(JSON.parse(readFileSync('../shared/models/families/gemma3-a-bf16/config.json', 'utf8'))));
    expect(gemma3.ropeDims).toEqual([32, 32]);
    expect(gemma3.qkNorm).toBe(true);
    // q and k before their norms (128 + 32 per token), two RoPE tables
    const plain = { ...gemma3, qkNorm: false, ropeDims: [32] };
    expect(activationBytes(gemma3, 100, 8) - activationBytes(plain, 100, 8)).toBe((128 + 32) * 8 * 4 + 100 * 32 * 4);
  });
});
