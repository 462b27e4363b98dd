import { describe, expect, it } from 'vitest';
import { parseConfig } from '../model/config.ts';
import { expectedTensors } from '../model/tensor-names.ts';
import { isQuantizedLinear, modelShape, planLoad } from './plan.ts';
import { fp16PartBytes, quantizeScratchBytes, scratchPartBytes } from './quantize-scratch.ts';
import type { TensorRecord } from './safetensors.ts';

describe('quantize scratch sizing', () => {
  it('splits a linear by rows as allocateTensor does: whole rows per part, within one binding', () => {
    // [10, 6]: a row is 3 words = 12 bytes; 40 bytes per binding hold 3 rows
    expect(fp16PartBytes('w', [10, 6], 40)).toEqual([36, 36, 36, 12]);
    expect(fp16PartBytes('w', [10, 6], 1 << 20)).toEqual([120]);
    // odd rows are padded to a whole word: [3, 5] is 3 words a row
    expect(fp16PartBytes('w', [3, 5], 1 << 20)).toEqual([36]);
    expect(() => fp16PartBytes('model.layers.0.mlp.up_proj.weight', [2, 64], 64)).toThrow(/up_proj.*one row is 128 bytes/);
  });

  it('fits every linear part by part, and is the largest linear when none is split', () => {
    const a = { name: 'a', shape: [10, 6] }; // parts of 36, 36, 36, 12 at 40 bytes a binding
    const b = { name: 'b', shape: [4, 8] }; // rows of 16 bytes: parts of 32, 32
    expect(scratchPartBytes([a, b], 40)).toEqual([36, 36, 36, 12]);
    expect(scratchPartBytes([b], 40)).toEqual([32, 32]);
    expect(quantizeScratchBytes([a, b], 1 << 20)).toBe(120);
    expect(quantizeScratchBytes([], 1 << 20)).toBe(0);
  });

  it("is the plan's staging for streamed-int8, split alike where the binding limit splits the linears", () => {
    const config = parseConfig({
      architectures: ['LlamaForCausalLM'], hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 100,
      intermediate_size: 176, num_hidden_layers: 2, max_position_embeddings: 512, rms_norm_eps: 1e-5, tie_word_embeddings: false,
    });
    const shape = modelShape(config);
    const records: TensorRecord[] = [...expectedTensors(config)].map(([name, s]) => ({ name, dtype: 'BF16', shape: s, file: 'f', start: 0, end: 0 }));
    const linears = records.filter((r) => isQuantizedLinear(r.name, r.shape));
    for (const maxStorageBufferBindingSize of [1 << 27, 2048, 1000]) {
      const limits = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize };
      const p = planLoad({ model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'streamed-int8', limits });
      expect(p.bytes.staging).toBe(quantizeScratchBytes(linears, maxStorageBufferBindingSize));
    }
    // unsplit: the largest linear (gate/up [176, 64] and down [64, 176] are 22528 bytes each)
    const big = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27 };
    expect(planLoad({ model: 'm', architecture: 'Llama', shape, tensors: records, strategy: 'streamed-int8', limits: big }).bytes.staging).toBe(176 * 64 * 2);
    // split at 2048 bytes: gate/up rows of 128 bytes (16 a part, 11 parts of 2048) and down rows of 352 (5 a part:
    // 12 parts of 1760 and one of 4 rows): linears split alike by rows share parts, others add their extra parts
    expect(scratchPartBytes(linears, 2048)).toEqual([...new Array(11).fill(2048), 1760, 4 * 352]);
  });
});
