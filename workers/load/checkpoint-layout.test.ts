// Checkpoints stored differently from the names the engine reads: Phi-3's fused projections become records over row
// ranges of the file; a Gemma 3 multimodal checkpoint gives its language model's records under model.*, without the
// vision tower; a Llama-style checkpoint passes unchanged.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { parseConfig } from '../model/config.ts';
import { expectedTensors } from '../model/tensor-names.ts';
import { checkpointTensors } from './checkpoint-layout.ts';
import { parseHeader, type TensorMap, type TensorRecord } from './safetensors.ts';

const FAMILIES = '../shared/models/families';

/** The fixture's own header, as readTensorMap would give it for one file. */
function fixtureMap(name: string): TensorMap {
  const bytes = readFileSync(`${FAMILIES}/${name}/model.safetensors`);
  const n = Number(bytes.readBigUInt64LE(0));
  const tensors = parseHeader('model.safetensors', JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), 8 + n, bytes.length);
  return { files: [{ url: 'model.safetensors', size: bytes.length, dataStart: 8 + n, rangeSupported: true, tensors }], tensors: new Map(tensors.map((r) => [r.name, r])) };
}
const config = (name: string) => parseConfig(JSON.parse(readFileSync(`${FAMILIES}/${name}/config.json`, 'utf8')));

describe('checkpointTensors', () => {
  it("Phi-3: qkv_proj and gate_up_proj as the row ranges of their parts, every byte covered once", () => {
    const c = config('phi3-a-bf16');
    const before = fixtureMap('phi3-a-bf16');
    const { map, notes } = checkpointTensors(c, before);
    const fused = before.tensors.get('model.layers.1.self_attn.qkv_proj.weight')!;
    const [q, k, v] = ['q', 'k', 'v'].map((p) => map.tensors.get(`model.layers.1.self_attn.${p}_proj.weight`)!);
    const row = 128 * 2; // hidden 128 in bf16
    expect(q).toMatchObject({ shape: [128, 128], start: fused.start, end: fused.start + 128 * row, file: fused.file, dtype: 'BF16' });
    expect(k).toMatchObject({ shape: [64, 128], start: q.end, end: q.end + 64 * row });
    expect(v).toMatchObject({ shape: [64, 128], start: k.end, end: fused.end });
    const gateUp = before.tensors.get('model.layers.0.mlp.gate_up_proj.weight')!;
    expect(map.tensors.get('model.layers.0.mlp.gate_proj.weight')).toMatchObject({ shape: [256, 128], start: gateUp.start, end: gateUp.start + 256 * row });
    expect(map.tensors.get('model.layers.0.mlp.up_proj.weight')).toMatchObject({ shape: [256, 128], end: gateUp.end });
    expect(map.tensors.has('model.layers.0.self_attn.qkv_proj.weight')).toBe(false);
    // the file's record list is what the loader streams: sorted, contiguous where the fused ones were, same bytes
    const recs = map.files[0].tensors;
    for (let i = 1; i < recs.length; i++) expect(recs[i].start).toBeGreaterThanOrEqual(recs[i - 1].end);
    const bytes = (rs: readonly TensorRecord[]) => rs.reduce((a, r) => a + r.end - r.start, 0);
    expect(bytes(recs)).toBe(bytes(before.files[0].tensors));
    // exactly the tensors the recipe reads
    expect(new Set(map.tensors.keys())).toEqual(new Set(expectedTensors(c).keys()));
    expect(notes).toEqual(['4 fused projections (qkv_proj, gate_up_proj) read as their q/k/v and gate/up rows']);
  });

  it('a fused projection whose shape disagrees with config.json is refused naming it', () => {
    const c = parseConfig({ ...JSON.parse(readFileSync(`${FAMILIES}/phi3-a-bf16/config.json`, 'utf8')), num_key_value_heads: 4 });
    let error: unknown;
    try {
      checkpointTensors(c, fixtureMap('phi3-a-bf16'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ code: 'bad-file', details: { tensor: 'model.layers.0.self_attn.qkv_proj.weight' } });
    expect((error as EngineError).message).toMatch(/shape \[256, 128\], but config.json implies \[384, 128\]/);
  });

  it("Gemma 3 multimodal: the language model's records under model.*, the vision tower left out", () => {
    const text = fixtureMap('gemma3-a-bf16');
    // the same records as a transformers 4.5x Gemma3ForConditionalGeneration checkpoint names them, plus a vision tower
    const renamed = [...text.tensors.values()].map((r) => ({ ...r, name: r.name.replace(/^model\./, 'language_model.model.') }));
    const last = renamed.at(-1)!;
    const vision: TensorRecord = { name: 'vision_tower.vision_model.post_layernorm.weight', dtype: 'BF16', shape: [1152], file: last.file, start: last.end, end: last.end + 2304 };
    const map: TensorMap = { files: [{ ...text.files[0], tensors: [...renamed, vision] }], tensors: new Map([...renamed, vision].map((r) => [r.name, r])) };
    const c = parseConfig({
      architectures: ['Gemma3ForConditionalGeneration'],
      text_config: JSON.parse(readFileSync(`${FAMILIES}/gemma3-a-bf16/config.json`, 'utf8')),
      vision_config: { model_type: 'siglip_vision_model' },
    });
    const out = checkpointTensors(c, map);
    expect([...out.map.tensors.keys()].sort()).toEqual([...text.tensors.keys()].sort());
    expect(out.map.tensors.get('model.embed_tokens.weight')).toEqual(text.tensors.get('model.embed_tokens.weight'));
    expect(out.notes).toEqual([expect.stringMatching(/^text only: the vision tower and projector \(1 tensors/)]);
  });

  it('a Llama-style checkpoint passes as is', () => {
    const map = fixtureMap('qwen3-a-bf16');
    expect(checkpointTensors(config('qwen3-a-bf16'), map)).toEqual({ map, notes: [] });
  });
});
