import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { StreamDecoder, Tokenizer } from './tokenizer.ts';
import { generationConfig, kjv, reference, tokenizerConfig, tokenizerJson } from '../testing/kjv.ts';


// google/gemma-2-2b-it's tokenizer_config.json chat_template: no system role, and it says so by raising.
const GEMMA_TEMPLATE =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
  "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
  "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

const CHATML =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + " +
  "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

function streamAll(tokenizer: Tokenizer, ids: number[]): string[] {
  const decoder = new StreamDecoder(tokenizer);
  const deltas = ids.map((id) => decoder.push(id));
  deltas.push(decoder.flush());
  return deltas;
}

describe('Tokenizer on kjv-llama', () => {
  it('encodes every reference prompt to the reference ids, BOS included', () => {
    expect(reference.prompts.length).toBe(5);
    for (const p of reference.prompts) expect(kjv.encode(p.text)).toEqual(p.ids);
    expect(kjv.encode('In the beginning')).toEqual([0, 1138, 261, 2133]);
    expect(kjv.encode('In the beginning', { addSpecialTokens: false })).toEqual([1138, 261, 2133]);
  });

  it('decodes the reference greedy ids to the reference greedy text', () => {
    for (const p of reference.prompts) expect(kjv.decode(p.greedy_ids)).toBe(p.greedy_text);
    // prompts[2] ends with EOS, which reference.json's text keeps and skipSpecialTokens drops.
    const ended = reference.prompts[2];
    expect(ended.greedy_ids.at(-1)).toBe(1);
    expect(kjv.decode(ended.greedy_ids, { skipSpecialTokens: true })).toBe(ended.greedy_text.replace(/<\/s>$/, ''));
  });

  it('takes BOS and EOS from generation_config.json and tokenizer_config.json', () => {
    expect(kjv.bosId).toBe(0);
    expect(kjv.eosIds).toEqual([1]);
    expect(kjv.hasChatTemplate).toBe(false);
    expect(kjv.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBeNull();
    // No generation_config.json: the token strings of tokenizer_config.json decide.
    const bare = Tokenizer.fromJson(tokenizerJson, tokenizerConfig, null);
    expect(bare.bosId).toBe(0);
    expect(bare.eosIds).toEqual([1]);
    // eos_token_id may be a list; tokenizer_config may write tokens as AddedToken objects.
    const listed = Tokenizer.fromJson(
      tokenizerJson,
      { ...tokenizerConfig, eos_token: { __type: 'AddedToken', content: '<pad>' } },
      { bos_token_id: 0, eos_token_id: [1, 17] },
    );
    expect(listed.eosIds).toEqual([1, 17, 2]);
  });

  it('adds BOS itself when tokenizer_config says add_bos_token and tokenizer.json has no post-processor', () => {
    const noPost = { ...tokenizerJson, post_processor: null };
    const withBos = Tokenizer.fromJson(noPost, { ...tokenizerConfig, add_bos_token: true }, generationConfig);
    expect(withBos.encode('In the beginning')).toEqual([0, 1138, 261, 2133]);
    expect(withBos.encode('In the beginning', { addSpecialTokens: false })).toEqual([1138, 261, 2133]);
    const without = Tokenizer.fromJson(noPost, tokenizerConfig, generationConfig);
    expect(without.encode('In the beginning')).toEqual([1138, 261, 2133]);
  });

  it('refuses a tokenizer.json the library cannot read with a typed error', () => {
    expect(() => Tokenizer.fromJson({ model: { type: 'NoSuchModel' } }, null, null)).toThrow(EngineError);
    // a field of the wrong shape trips the library (a TypeError inside it): said as the file's fault, in words
    for (const json of [{ ...tokenizerJson, model: null }, { ...tokenizerJson, added_tokens: 7 }]) {
      expect(() => Tokenizer.fromJson(json, tokenizerConfig, generationConfig)).toThrow(
        /^tokenizer\.json has a field of a shape the tokenizer library cannot read \(.+\)$/,
      );
    }
  });

  it('refuses a normalizer or decoder whose Replace rules grow a text without bound (a billion-fold prompt or token)', () => {
    const doubling = Array.from({ length: 30 }, () => ({ type: 'Replace', pattern: { String: 'e' }, content: 'ee' }));
    for (const [part, json] of [
      ['normalizer', { ...tokenizerJson, normalizer: { type: 'Sequence', normalizers: doubling } }],
      ['decoder', { ...tokenizerJson, decoder: { type: 'Sequence', decoders: [tokenizerJson.decoder, ...doubling] } }],
      ['normalizer', { ...tokenizerJson, normalizer: { type: 'Replace', pattern: { String: '' }, content: 'x'.repeat(20) } }],
    ] as const) {
      let e: unknown;
      try {
        Tokenizer.fromJson(json, tokenizerConfig, generationConfig);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).details).toEqual({ file: 'tokenizer.json', setting: part });
      expect((e as EngineError).message).toMatch(new RegExp(`its ${part}'s Replace rules can make a text .* times longer`));
    }
    // a SentencePiece-style normalizer and decoder (Llama 2): a character for a character
    const spm = {
      ...tokenizerJson,
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    };
    expect(Tokenizer.fromJson(spm, tokenizerConfig, generationConfig).encode('In the beginning').length).toBeGreaterThan(0);
  });

  it("refuses, naming tokenizer.json and the token, a tokenizer whose vocabulary or special tokens do not fit the model's; notes an added token past it", () => {
    const refusal = (json: object, vocabSize: number, config: object = tokenizerConfig, generation: object = generationConfig): EngineError => {
      try {
        Tokenizer.fromJson(json, config, generation, { vocabSize });
      } catch (e) {
        expect(e).toBeInstanceOf(EngineError);
        expect((e as EngineError).code).toBe('bad-file');
        expect((e as EngineError).details.file).toBe('tokenizer.json');
        return e as EngineError;
      }
      throw new Error('expected a refusal');
    };
    expect(Tokenizer.fromJson(tokenizerJson, tokenizerConfig, generationConfig, { vocabSize: 4096 }).encode('In the beginning')).toEqual([0, 1138, 261, 2133]);
    // another model's tokenizer (a smaller vocabulary): refused at load, not 'bad-input' at the first prompt
    expect(refusal(tokenizerJson, 1024).message).toMatch(/has id \d+, past the model's vocabulary \(config.json vocab_size 1024\)/);
    const model = tokenizerJson.model as { vocab: Record<string, number> };
    const added = (tokenizerJson.added_tokens as object[]) ?? [];
    const tagged = { ...tokenizerJson, added_tokens: [...added, { id: 4096, content: '<tool>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }] };
    // an added token past the vocabulary (a '<pad>' added without resizing the embeddings): loaded with a note; a
    // text that holds it is refused naming it, any other text encodes as before
    const padded = Tokenizer.fromJson(tagged, tokenizerConfig, generationConfig, { vocabSize: 4096 });
    expect(padded.notes).toEqual([
      `tokenizer.json: the added token "<tool>" has id 4096, past the model's vocabulary (config.json vocab_size 4096): a prompt that holds it is refused`,
    ]);
    expect(padded.encode('In the beginning')).toEqual([0, 1138, 261, 2133]);
    let held: unknown;
    try {
      padded.encode('In the <tool> beginning');
    } catch (e) {
      held = e;
    }
    expect(held).toBeInstanceOf(EngineError);
    expect((held as EngineError).code).toBe('bad-input');
    expect((held as EngineError).details).toEqual({ token: '<tool>', id: 4096 });
    expect(Tokenizer.fromJson(tokenizerJson, tokenizerConfig, generationConfig, { vocabSize: 4096 }).notes).toEqual([]);
    const post = JSON.parse(JSON.stringify(tokenizerJson).replace(/"ids":\[0\]/g, '"ids":[5000]')) as object;
    expect(refusal(post, 4096).message).toMatch(/has id 5000/);
    const noPost = { ...tokenizerJson, post_processor: null };
    // a BOS the engine adds itself (add_bos_token, no post-processor) from generation_config's bos_token_id
    expect(refusal(noPost, 4096, { ...tokenizerConfig, add_bos_token: true }, { ...generationConfig, bos_token_id: 5000 }).message).toMatch(/has id 5000/);
    expect(refusal({ ...tokenizerJson, model: { ...model, vocab: {} } }, 4096).message).toMatch(/vocabulary is empty/);
    expect(refusal({ ...tokenizerJson, model: { ...model, vocab: { ...model.vocab, x: -3 } } }, 4096).message).toMatch(/"x" has the id -3/);
  });
});

describe('chat templates', () => {
  const messages = [
    { role: 'system', content: 'Answer in the style of the KJV.' },
    { role: 'user', content: 'Who begat Enos?' },
  ];

  it('renders a ChatML template with bos_token and add_generation_prompt', () => {
    const chat = Tokenizer.fromJson(tokenizerJson, { ...tokenizerConfig, chat_template: CHATML }, generationConfig);
    expect(chat.hasChatTemplate).toBe(true);
    expect(chat.applyChatTemplate(messages)).toBe(
      '<s><|im_start|>system\nAnswer in the style of the KJV.<|im_end|>\n' +
        '<|im_start|>user\nWho begat Enos?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(chat.applyChatTemplate(messages, { addGenerationPrompt: false })).toBe(
      '<s><|im_start|>system\nAnswer in the style of the KJV.<|im_end|>\n' +
        '<|im_start|>user\nWho begat Enos?<|im_end|>\n',
    );
  });

  it('picks the template named "default" from a list, and the override over both', () => {
    const config = {
      ...tokenizerConfig,
      chat_template: [
        { name: 'tool_use', template: 'TOOLS {{ messages[0].content }}' },
        { name: 'default', template: '{{ eos_token }}[{{ messages[0].role }}] {{ messages[0].content }}' },
      ],
    };
    const listed = Tokenizer.fromJson(tokenizerJson, config, generationConfig);
    expect(listed.applyChatTemplate([{ role: 'user', content: 'Amen' }])).toBe('</s>[user] Amen');
    const overridden = Tokenizer.fromJson(tokenizerJson, config, generationConfig, {
      chatTemplate: 'X{{ bos_token }}',
    });
    expect(overridden.applyChatTemplate([{ role: 'user', content: 'Amen' }])).toBe('X<s>');
  });

  it('reports a template it cannot parse instead of refusing the model', () => {
    const broken = Tokenizer.fromJson(
      tokenizerJson,
      { ...tokenizerConfig, chat_template: '{% for m in messages %}{{ m.content }' },
      generationConfig,
    );
    expect(broken.hasChatTemplate).toBe(false);
    expect(broken.chatTemplateError).toMatch(/./);
    expect(kjv.chatTemplateError).toBeNull();
  });

  it("renders Gemma's template, and its refusal of a system role is an EngineError carrying the template's message", () => {
    const gemma = Tokenizer.fromJson(tokenizerJson, { ...tokenizerConfig, bos_token: '<bos>', chat_template: GEMMA_TEMPLATE }, generationConfig);
    expect(gemma.applyChatTemplate([{ role: 'user', content: ' Amen ' }])).toBe('<bos><start_of_turn>user\nAmen<end_of_turn>\n<start_of_turn>model\n');
    let error: unknown;
    try {
      gemma.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Amen' }]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ code: 'bad-input', details: { setting: 'chat_template' } });
    expect((error as EngineError).message).toMatch(/System role not supported/);
  });

  it('surfaces raise_exception from a template as a bad-input error', () => {
    const strict = Tokenizer.fromJson(
      tokenizerJson,
      { ...tokenizerConfig, chat_template: "{{ raise_exception('no system role') }}" },
      generationConfig,
    );
    expect(() => strict.applyChatTemplate(messages)).toThrow(/no system role/);
  });
});

describe('StreamDecoder', () => {
  it('streams every reference continuation to exactly the text decoded at once', () => {
    for (const p of reference.prompts) {
      const deltas = streamAll(kjv, p.greedy_ids);
      expect(deltas.join('')).toBe(kjv.decode(p.greedy_ids, { skipSpecialTokens: true }));
    }
    const deltas = streamAll(kjv, reference.prompts[0].greedy_ids.slice(0, 4));
    expect(deltas).toEqual([' of', ' the', ' reign', ' of', '']);
  });

  it('holds back a character split over byte tokens until its last byte, with no U+FFFD', () => {
    const text = 'Shalom 😀, naïve 中文!';
    const ids = kjv.encode(text, { addSpecialTokens: false });
    const emoji = kjv.encode('😀', { addSpecialTokens: false });
    expect(emoji.length).toBe(4); // four byte tokens: the emoji's UTF-8 bytes
    const deltas = streamAll(kjv, ids);
    expect(deltas.join('')).toBe(text);
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    expect(streamAll(kjv, emoji)).toEqual(['', '', '', '😀', '']);
  });

  it('flushes an incomplete character at the end as U+FFFD', () => {
    const emoji = kjv.encode('😀', { addSpecialTokens: false });
    const decoder = new StreamDecoder(kjv);
    expect(decoder.push(emoji[0])).toBe('');
    expect(decoder.push(emoji[1])).toBe('');
    expect(decoder.flush()).toBe('\uFFFD');
  });
});
