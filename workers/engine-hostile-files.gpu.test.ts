// A fixed subset of the hostile model files campaign (scripts/fuzz-model-harness.ts, the cases in
// scripts/fuzz-model-cases.ts), loaded by the engine while kjv-llama is loaded: each case ends as expected (loaded, or
// refused with this code naming what is wrong) and keeps every invariant the harness checks (no 'internal' or raw
// error, the ledger back to what it was, the kept model still generating its reference ids, no uncaptured WebGPU
// error). The cases are the defects the campaign found, and one of each kind that was already refused.
import { describe, expect, it } from 'vitest';
import { fuzzModelFiles } from '../scripts/fuzz-model-harness.ts';

const expected: Record<string, { outcome: 'loaded' | 'refused'; code?: string; says: RegExp; notes?: RegExp }> = {
  // a header length one short: its JSON still parsed (padding), every tensor was read a byte early
  'safetensors/length one short': { outcome: 'refused', code: 'bad-file', says: /data ends at byte \d+ but the file has \d+ bytes/ },
  'safetensors/one byte extra': { outcome: 'refused', code: 'bad-file', says: /data ends at byte \d+ but the file has \d+ bytes/ },
  // an added token past the vocabulary: loaded with a note (a text holding it is refused, naming it); another model's
  // vocabulary: refused at load (it loaded, then every prompt failed 'bad-input')
  'tokenizer.json/added_tokens id past vocab': { outcome: 'loaded', says: /^ok /, notes: /^tokenizer\.json: the added token "<x>" has id 1000000000, past the model's vocabulary/ },
  'tokenizer.json/model.vocab ids past vocab_size': { outcome: 'refused', code: 'bad-file', says: /tokenizer\.json: token ".*" has id \d+, past the model's vocabulary \(config\.json vocab_size 4096\)/ },
  'tokenizer.json/model.vocab empty': { outcome: 'refused', code: 'bad-file', says: /vocabulary is empty/ },
  // Replace rules doubling a character 30 times: the first prompt (or decoded token) grew a billion-fold
  'tokenizer.json/decoder doubling 30 times': { outcome: 'refused', code: 'bad-file', says: /its decoder's Replace rules can make a text .* times longer/ },
  // generation_config.json out of range: every request that left the setting out failed, blaming it; now the value is
  // ignored (transformers' default stands) and the load's notes say so
  'generation_config.json/top_k=-1 (do_sample)': { outcome: 'loaded', says: /^ok /, notes: /^generation_config\.json: 'top_k' is -1, not a whole number of 0 or more \(0: off\): ignored \(50 is used\)$/ },
  'generation_config.json/top_p=0 (do_sample)': { outcome: 'loaded', says: /^ok /, notes: /^generation_config\.json: 'top_p' is 0, not a number in \(0, 1\]: ignored \(1 is used\)$/ },
  // a 15 MiB chat template of spaces: the library's lexer is quadratic in a whitespace run (the load hung)
  'tokenizer_config.json/chat_template huge source': { outcome: 'loaded', says: /^unsupported: the model's chat template cannot be read: .* more than the 262144/ },
  'tokenizer_config.json/chat_template nested loops': { outcome: 'loaded', says: /^bad-input: the chat template ran longer than 1000 ms/ },
  'config.json/architectures=constructor': { outcome: 'refused', code: 'unsupported', says: /architecture constructor is not supported/ },
  'safetensors/dtype __proto__': { outcome: 'refused', code: 'unsupported', says: /unknown dtype '__proto__'/ },
  'sharded/index array': { outcome: 'refused', code: 'bad-file', says: /model\.safetensors\.index\.json has no weight_map/ },
  // already refused before the campaign
  'safetensors/length 2^53': { outcome: 'refused', code: 'bad-file', says: /header length 9007199254740992 is not plausible/ },
  'safetensors/offsets past end': { outcome: 'refused', code: 'bad-file', says: /past the end of the file/ },
  'sharded/encoded ../ path': { outcome: 'refused', code: 'bad-file', says: /leaves the model's folder/ },
  'config.json/num_hidden_layers=1e9': { outcome: 'refused', code: 'bad-config', says: /'num_hidden_layers' is 1000000000, more than the 1024/ },
  'config.json/kv-heads-not-dividing': { outcome: 'refused', code: 'bad-config', says: /'num_key_value_heads' \(3\) must divide/ },
  'safetensors/truncated mid-data': { outcome: 'refused', code: 'bad-file', says: /past the end of the file/ },
};

describe('hostile model files (a fixed subset of the campaign)', () => {
  it('each case ends as expected and keeps every invariant', { timeout: 120_000 }, async () => {
    const findings = await fuzzModelFiles((id) => id in expected);
    expect(findings.map((f) => f.id).sort()).toEqual(Object.keys(expected).sort());
    for (const f of findings) {
      const want = expected[f.id];
      expect(f.violations, f.id).toEqual([]);
      expect(f.outcome, f.id).toBe(want.outcome);
      if (want.outcome === 'refused') {
        expect(f.code, f.id).toBe(want.code);
        expect(f.message, f.id).toMatch(want.says);
      } else {
        expect(f.generate, f.id).toMatch(want.says);
        if (want.notes) expect(f.notes, f.id).toEqual([expect.stringMatching(want.notes)]);
      }
    }
  });
});
