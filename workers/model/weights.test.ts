import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { parseConfig } from './config.ts';
import type { LinearLayer } from './linear.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { buildWeights, type LinearFactory, type LinearSpec } from './weights.ts';

const base = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 8,
  intermediate_size: 12,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  num_hidden_layers: 1,
  vocab_size: 20,
};

const tensor = (name: string, shape: number[]): GpuTensor => ({ name, shape, format: 'f16x2', rowWords: 1, parts: [] });

function checkpoint(tied: boolean): Map<string, GpuTensor> {
  const m = new Map<string, GpuTensor>();
  const add = (n: string, s: number[]) => m.set(n, tensor(n, s));
  add('model.embed_tokens.weight', [20, 8]);
  add('model.norm.weight', [8]);
  const p = 'model.layers.0';
  add(`${p}.input_layernorm.weight`, [8]);
  add(`${p}.post_attention_layernorm.weight`, [8]);
  for (const [n, s] of [['q', [8, 8]], ['k', [4, 8]], ['v', [4, 8]]] as const) {
    add(`${p}.self_attn.${n}_proj.weight`, [...s]);
    add(`${p}.self_attn.${n}_proj.bias`, [s[0]]);
  }
  add(`${p}.self_attn.o_proj.weight`, [8, 8]);
  add(`${p}.mlp.gate_proj.weight`, [12, 8]);
  add(`${p}.mlp.up_proj.weight`, [12, 8]);
  add(`${p}.mlp.down_proj.weight`, [8, 12]);
  if (!tied) add('lm_head.weight', [20, 8]);
  return m;
}

/** A factory that records what it was given and makes shape-only layers. */
function recorder(): { specs: LinearSpec[]; factory: LinearFactory } {
  const specs: LinearSpec[] = [];
  const factory: LinearFactory = (spec) => {
    specs.push(spec);
    const [outFeatures, inFeatures] = (spec.weight as GpuTensor).shape;
    const bind = () => ({ kind: 'x', input: null });
    return { name: spec.name, inFeatures, outFeatures, bytes: 0, bind, encode: () => {}, encodeProduct: () => {}, destroy: () => {} } satisfies LinearLayer;
  };
  return { specs, factory };
}

describe('buildWeights', () => {
  it('builds every linear through the factory, with q/k/v biases for Qwen2, and ties lm_head to the embedding', () => {
    const tensors = checkpoint(true);
    const { specs, factory } = recorder();
    const w = buildWeights(parseConfig({ ...base, tie_word_embeddings: true }), tensors, factory);
    expect(specs.map((s) => s.name)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.k_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.0.self_attn.o_proj',
      'model.layers.0.mlp.gate_proj',
      'model.layers.0.mlp.up_proj',
      'model.layers.0.mlp.down_proj',
      'lm_head',
    ]);
    expect(specs.slice(0, 3).every((s) => s.bias !== null)).toBe(true);
    expect(specs.slice(3).every((s) => s.bias === null)).toBe(true);
    expect(specs[7].weight).toBe(tensors.get('model.embed_tokens.weight'));
    expect(w.layers).toHaveLength(1);
  });

  it('uses lm_head.weight when embeddings are not tied', () => {
    const tensors = checkpoint(false);
    const { specs, factory } = recorder();
    buildWeights(parseConfig(base), tensors, factory);
    expect(specs.at(-1)!.weight).toBe(tensors.get('lm_head.weight'));
  });

  it('names a missing tensor and a wrong shape', () => {
    const { factory } = recorder();
    const tensors = checkpoint(false);
    tensors.delete('model.layers.0.mlp.up_proj.weight');
    const e1 = (() => {
      try {
        buildWeights(parseConfig(base), tensors, factory);
      } catch (e) {
        return e as EngineError;
      }
    })();
    expect(e1).toBeInstanceOf(EngineError);
    expect(e1!.details.tensor).toBe('model.layers.0.mlp.up_proj.weight');
    const bad = checkpoint(false);
    bad.set('model.norm.weight', tensor('model.norm.weight', [9]));
    expect(() => buildWeights(parseConfig(base), bad, factory)).toThrow(/model\.norm\.weight.*\[9\]/);
  });
});
