// Chat templates are code from the model's files: rendered with bounds on time, on output and on range(), a hostile
// one stops within its bound with a bad-input error naming it; real ones render exactly as @huggingface/jinja's own
// Template.render does.
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { ChatTemplate, MAX_RANGE, MAX_TEMPLATE_CHARS, MAX_WHITESPACE_RUN } from './chat-template.ts';

const limits = { maxMs: 500, maxChars: 100_000 };
const slow = { maxMs: 20_000, maxChars: 100_000 };
const chat = {
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'In the beginning' },
    { role: 'assistant', content: 'was the Word' },
    { role: 'user', content: 'and then?' },
  ],
  bos_token: '<s>',
  eos_token: '</s>',
  add_generation_prompt: true,
};

// Shapes real models use: ChatML (Qwen, SmolLM), Llama 3.x (strftime_now, namespace, loop over messages, trim),
// Mistral (raise_exception on a bad role order, loop.index0), a macro, a filter chain.
const REAL = {
  chatml:
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
  llama3:
    '{{- bos_token }}{%- set date_string = strftime_now("%d %b %Y") %}{%- set ns = namespace(system="") %}' +
    '{%- for m in messages %}{%- if m.role == "system" %}{%- set ns.system = m.content | trim %}{%- endif %}{%- endfor %}' +
    '{{- "<|start_header_id|>system<|end_header_id|>\\n\\nToday Date: " + date_string + "\\n\\n" + ns.system + "<|eot_id|>" }}' +
    '{%- for m in messages if m.role != "system" %}{{- "<|start_header_id|>" + m.role + "<|end_header_id|>\\n\\n" + m.content | trim + "<|eot_id|>" }}{%- endfor %}' +
    '{%- if add_generation_prompt %}{{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" }}{%- endif %}',
  mistral:
    "{{ bos_token }}{% for message in messages[1:] %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
  macro:
    '{% macro turn(r, c) %}<{{ r | upper }}>{{ c }}</{{ r | upper }}>{% endmacro %}' +
    '{% for m in messages %}{{ turn(m.role, m.content) }}{% if not loop.last %}|{% endif %}{% endfor %}' +
    '{% for i in range(3) %}{{ i }}{% endfor %}{{ messages | length }}{{ (messages | map(attribute="role") | join(",")) }}',
};

function refusal(source: string, items: Record<string, unknown> = chat, l = limits): EngineError {
  const t0 = performance.now();
  let e: unknown;
  try {
    new ChatTemplate(source).render(items, l);
  } catch (x) {
    e = x;
  }
  const ms = performance.now() - t0;
  expect(e).toBeInstanceOf(EngineError);
  expect((e as EngineError).code).toBe('bad-input');
  // the bound plus what one step past it costs on a heavily loaded machine; unbounded, these templates run for minutes
  expect(ms).toBeLessThan(l.maxMs + 10_000);
  return e as EngineError;
}

describe('ChatTemplate', () => {
  it.each(Object.entries(REAL))('renders %s exactly as the library does', (_name, source) => {
    expect(new ChatTemplate(source).render(chat, limits)).toBe(new Template(source).render(chat));
  });

  it("passes a template's raise_exception on as a bad-input error naming chat_template", () => {
    const e = refusal(REAL.mistral, { ...chat, messages: [chat.messages[0], chat.messages[2], chat.messages[1]] });
    expect(e.details.setting).toBe('chat_template');
    expect(e.message).toMatch(/roles must alternate/);
  });

  it('stops range(100000000) at once, before building it', () => {
    const e = refusal('{% for i in range(100000000) %}x{% endfor %}');
    expect(e.details.setting).toBe('chat_template');
    expect(e.message).toMatch(new RegExp(`range\\(\\) for 100000000 items, more than ${MAX_RANGE}`));
  });

  it('stops a loop that runs too long within its time bound', () => {
    const e = refusal('{% for i in range(90000) %}{% for j in range(90000) %}{% if i == j %}{% endif %}{% endfor %}{% endfor %}');
    expect(e.details.setting).toBe('chat_template');
    expect(e.message).toMatch(/ran longer than 500 ms/);
  });

  it('stops a loop whose body is empty within its time bound (each iteration is a step)', () => {
    const e = refusal('{% for i in range(90000) %}{% for j in range(90000) %}{% endfor %}{% endfor %}');
    expect(e.details.setting).toBe('chat_template');
    expect(e.message).toMatch(/ran longer than 500 ms/);
  });

  it('stops a list doubled in a loop before it outgrows the bound', () => {
    const e = refusal('{% set ns = namespace(a=[1]) %}{% for i in range(64) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}', chat, slow);
    expect(e.details.setting).toBe('chat_template');
    expect(e.message).toMatch(new RegExp(`a list of \\d+ items, more than ${MAX_RANGE}`));
  });

  it('refuses before parsing a source the lexer would take minutes over: too long, or a huge run of whitespace', () => {
    // (the library's lexer takes ~10 s on 160k spaces, its time growing with the square of the run)
    expect(() => new ChatTemplate('{{ messages[0].content }}' + ' '.repeat(200_000))).toThrow(new RegExp(`run of 200000 whitespace characters, more than the ${MAX_WHITESPACE_RUN}`));
    expect(() => new ChatTemplate('{{ messages[0].content }}' + '\n'.repeat(MAX_WHITESPACE_RUN + 1))).toThrow(/whitespace characters/);
    expect(() => new ChatTemplate('x'.repeat(MAX_TEMPLATE_CHARS + 1))).toThrow(new RegExp(`more than the ${MAX_TEMPLATE_CHARS} this engine parses`));
    // the worst a template within both bounds can be parses at once
    const worst = ('x' + ' '.repeat(MAX_WHITESPACE_RUN)).repeat(Math.floor(MAX_TEMPLATE_CHARS / (MAX_WHITESPACE_RUN + 1)));
    expect(new ChatTemplate(worst).render(chat, { ...slow, maxChars: 1 << 20 })).toBe(new Template(worst).render(chat));
  });

  it('refuses a template nested too deeply to parse by name, not as a stack overflow', () => {
    expect(() => new ChatTemplate(`{{ ${'('.repeat(100_000)}1${')'.repeat(100_000)} }}`)).toThrow(/nests too deeply to parse/);
  });

  it('stops output past the longest prompt the context can take (printing millions of items)', () => {
    const long = { ...chat, messages: [{ role: 'user', content: 'In the beginning '.repeat(60) }] };
    // (a generous time bound, so that on a loaded machine the output bound is the one that stops it)
    const e = refusal('{% for i in range(90000) %}{% for m in messages %}{{ m.content }}{% endfor %}{% endfor %}', long, slow);
    expect(e.message).toMatch(/built more than \d+ characters of text along the way/);
  });

  it('stops a string doubled in a loop before it outgrows the bound', () => {
    const e = refusal('{% set ns = namespace(s="x") %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}', chat, slow);
    expect(e.details.setting).toBe('prompt');
    expect(e.message).toMatch(/more than 100000 characters/);
  });

  it('the same template renders again after a refusal (no state left behind)', () => {
    const t = new ChatTemplate(REAL.chatml);
    expect(() => t.render(chat, { maxMs: 500, maxChars: 10 })).toThrow(/more than 10 characters/);
    expect(t.render(chat, limits)).toBe(new Template(REAL.chatml).render(chat));
  });
});
