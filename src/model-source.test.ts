import { describe, expect, it } from 'vitest';
import { checkModelSource, MODEL_PRESETS, modelName } from './model-source.ts';

describe('checkModelSource', () => {
  it('accepts folder paths, URLs and hub ids', () => {
    expect(checkModelSource('models/kjv-llama/')).toEqual({ ok: true, kind: 'path', value: 'models/kjv-llama/' });
    expect(checkModelSource('/models/kjv-llama')).toEqual({ ok: true, kind: 'path', value: '/models/kjv-llama/' });
    expect(checkModelSource('  HuggingFaceTB/SmolLM2-135M-Instruct ')).toEqual({ ok: true, kind: 'hub', value: 'HuggingFaceTB/SmolLM2-135M-Instruct' });
    expect(checkModelSource('https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct')).toMatchObject({ ok: true, kind: 'url' });
    expect(checkModelSource('http://127.0.0.1:8080/m/')).toMatchObject({ ok: true, kind: 'url' });
  });
  it('rejects what cannot be a model source, with a reason', () => {
    for (const bad of ['', '   ', 'not a url', 'ftp://example.com/m/', 'https://', 'just-a-name', 'a/b/c', 'models/../../etc passwd/', 'org/name!']) {
      const r = checkModelSource(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(10);
    }
  });
  it('every preset is valid; the embedded model comes first', () => {
    for (const p of MODEL_PRESETS) expect(checkModelSource(p.value).ok, p.value).toBe(true);
    expect(MODEL_PRESETS[0].value).toBe('models/kjv-llama/');
  });
  it('has a hub id for each family the engine runs', () => {
    const ids = MODEL_PRESETS.map((p) => p.value);
    for (const family of [/^Qwen\/Qwen3-/, /^google\/gemma-2-/, /^google\/gemma-3-/, /^microsoft\/Phi-(3|4)/, /^HuggingFaceTB\/SmolLM3-/, /^allenai\/OLMo-2-/, /^ibm-granite\/granite-3/]) {
      expect(ids.some((id) => family.test(id)), String(family)).toBe(true);
    }
  });
});

describe('modelName', () => {
  it('is org/name for the hub, the folder name elsewhere', () => {
    expect(modelName('https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/')).toBe('HuggingFaceTB/SmolLM2-135M-Instruct');
    expect(modelName('http://127.0.0.1:4173/models/kjv-llama/')).toBe('kjv-llama');
    expect(modelName('https://example.org/')).toBe('example.org');
    expect(modelName('models/kjv-llama/')).toBe('kjv-llama');
  });
});
