import { describe, expect, it } from 'vitest';
import { activationBytes, checkTensors, expectedTensors, int8Scope, isQuantizedLinear, kvCacheBytes, planLoad, type ModelShape } from './plan.ts';
import type { TensorRecord } from './safetensors.ts';

const shape: ModelShape = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, headDim: 16, vocab: 100, intermediate: 128, maxContext: 512, tiedEmbeddings: false, qkvBias: false };
const records: TensorRecord[] = [...expectedTensors(shape)].map(([name, s], i) => ({ name, dtype: 'BF16', shape: s, file: 'f', start: i, end: i }));
const limits = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27 };
const weightsF16 = records.reduce((a, r) => a + r.shape.reduce((x, y) => x * y, 1) * 2, 0);

describe('planLoad', () => {
  it('counts fp16 weights, f32 KV cache and activations', () => {
    const p = planLoad({ model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'streamed', contextLength: 256, limits });
    expect(p.bytes.weights).toBe(weightsF16);
    expect(p.bytes['kv-cache']).toBe(2 * 2 * 256 * 2 * 16 * 4);
    expect(kvCacheBytes(shape, 256)).toBe(p.bytes['kv-cache']);
    expect(p.bytes.activations).toBe(activationBytes(shape, 256, 64));
    // per token: x, xb, attention out (3 × 64), q 64, k and v 2 × 32, SwiGLU 2 × 128, scores 4 × 256, logits 100;
    // split decode partials: 4 heads × 8 chunks (256 / 32) × (16 + 2)
    expect(activationBytes(shape, 256, 64)).toBe((192 + 64 + 64 + 256 + 1024 + 100) * 64 * 4 + 4 * 8 * 18 * 4);
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

    const tiedShape = { ...shape, tiedEmbeddings: true };
    const tiedRecords: TensorRecord[] = [...expectedTensors(tiedShape)].map(([name, s], i) => ({ name, dtype: 'BF16', shape: s, file: 'f', start: i, end: i }));
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
});
