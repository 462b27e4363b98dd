import { describe, expect, it } from 'vitest';
import type { ChatMessage, GenerateOptions, GenerateStats, LoadProgress, LoadRequest, ModelInfo, TokenEvent } from '../workers/api.ts';
import { EngineError } from '../workers/errors.ts';
import type { EngineBackend } from './engine-client.ts';
import type { ChatCompletionChunk, Completion } from './openai-types.ts';
import { createEngine } from './webgpu-llm.ts';

// The OpenAI shapes over a scripted engine: what each token event, stop reason and stat becomes.

const INFO: ModelInfo = {
  model: 'models/tiny/',
  architecture: 'LlamaForCausalLM',
  vocabSize: 100,
  contextLength: 64,
  hasChatTemplate: false,
  precision: 'fp16',
  generationDefaults: { temperature: 0, topK: 50, topP: 1, repetitionPenalty: 1, maxTokens: null, eosIds: [1] },
};

/** Emits `texts` one event each (a tick apart), then ends with `stopReason`; stopGeneration() ends it early. */
class ScriptedBackend {
  texts: string[] = ['In', '', ' the', ' beginning'];
  stopReason: GenerateStats['stopReason'] = 'max-tokens';
  fail: EngineError | null = null;
  reused = 0;
  calls: { input: string | readonly ChatMessage[]; opts: GenerateOptions }[] = [];
  log: string[] = [];
  loads: LoadRequest[] = [];
  private stop = false;

  async init() {
    return { adapter: { vendor: 'test', architecture: '', device: '', description: '' }, software: true, features: {}, limits: {} };
  }
  async load(req: LoadRequest, onProgress: (p: LoadProgress) => void) {
    this.loads.push(req);
    onProgress({ phase: 'done', bytesDone: 1, bytesTotal: 1, tensorsDone: 1, tensorsTotal: 1, mbPerS: 1, etaS: 0 });
    return { model: req.model, strategy: req.strategy };
  }
  cancelLoad() {
    this.log.push('cancelLoad');
  }
  async modelInfo(): Promise<ModelInfo | null> {
    return INFO;
  }
  async generate(input: string | readonly ChatMessage[], opts: GenerateOptions, onToken: (e: TokenEvent) => void): Promise<GenerateStats> {
    this.calls.push({ input, opts });
    this.log.push('generate');
    this.stop = false;
    if (this.fail) throw this.fail;
    let n = 0;
    let reason = this.stopReason;
    for (const text of this.texts) {
      await new Promise((r) => setTimeout(r, 2));
      onToken({ text, ids: [n + 10] });
      n++;
      if (this.stop) {
        reason = 'cancelled';
        break;
      }
    }
    this.log.push('generate done');
    return {
      promptTokens: 7,
      reusedTokens: this.reused,
      generatedTokens: n + (reason === 'eos' ? 1 : 0),
      ttftMs: 3,
      prefillTokPerS: 100,
      decodeTokPerS: 50,
      stopReason: reason,
      sampling: { maxTokens: opts.maxTokens ?? 58, temperature: opts.temperature ?? 0, topK: opts.topK ?? 50, topP: opts.topP ?? 1, repetitionPenalty: 1, seed: opts.seed ?? 9 },
    };
  }
  stopGeneration() {
    this.log.push('stop');
    this.stop = true;
  }
}

async function setup() {
  const backend = new ScriptedBackend();
  const engine = createEngine({ backend: backend as unknown as EngineBackend });
  await engine.load('models/tiny/');
  return { backend, engine };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const messages: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Begin.' },
];

describe('chat.completions.create', () => {
  it('returns a chat.completion: the whole message, finish_reason, usage with the cached prompt tokens', async () => {
    const { engine, backend } = await setup();
    backend.reused = 5;
    const before = Math.floor(Date.now() / 1000);
    const c = await engine.chat.completions.create({ messages, max_tokens: 4 });
    expect(c).toEqual({
      id: expect.stringMatching(/^chatcmpl-[0-9a-f]{24}$/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'models/tiny/',
      choices: [{ index: 0, message: { role: 'assistant', content: 'In the beginning' }, finish_reason: 'length', logprobs: null }],
      usage: {
        prompt_tokens: 7,
        completion_tokens: 4,
        total_tokens: 11,
        prompt_tokens_details: { cached_tokens: 5 },
        extra: {
          ttft_ms: 3,
          prefill_tokens_per_s: 100,
          decode_tokens_per_s: 50,
          stop_reason: 'max-tokens',
          sampling: { maxTokens: 4, temperature: 0, topK: 50, topP: 1, repetitionPenalty: 1, seed: 9 },
        },
      },
    });
    expect(Number.isInteger(c.created) && c.created >= before && c.created <= before + 5).toBe(true);
    expect(backend.calls[0].input).toEqual(messages);
  });

  it.each([
    ['eos', 'stop'],
    ['stop-string', 'stop'],
    ['max-tokens', 'length'],
    ['context-full', 'length'],
  ] as const)('finish_reason: the engine stopping at %s is %s', async (stopReason, finish) => {
    const { engine, backend } = await setup();
    backend.stopReason = stopReason;
    const c = await engine.chat.completions.create({ messages });
    expect(c.choices[0].finish_reason).toBe(finish);
    const chunks = await collect(await engine.chat.completions.create({ messages, stream: true }));
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe(finish);
  });

  it('streams chat.completion.chunk objects: the role first, one chunk per piece of text, then the finish reason and usage', async () => {
    const { engine } = await setup();
    const chunks = await collect(await engine.chat.completions.create({ messages, stream: true, stream_options: { include_usage: true } }));
    const base = { id: chunks[0].id, object: 'chat.completion.chunk', created: chunks[0].created, model: 'models/tiny/' };
    const choice = (delta: ChatCompletionChunk['choices'][number]['delta'], finish_reason: string | null) => ({ ...base, choices: [{ index: 0, delta, finish_reason, logprobs: null }], usage: null });
    expect(chunks.slice(0, -1)).toEqual([
      choice({ role: 'assistant', content: '' }, null),
      choice({ content: 'In' }, null), // the empty piece makes no chunk
      choice({ content: ' the' }, null),
      choice({ content: ' beginning' }, null),
      choice({}, 'length'),
    ]);
    expect(chunks.at(-1)).toEqual({ ...base, choices: [], usage: expect.objectContaining({ prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 }) });
    expect(chunks[0].id).toMatch(/^chatcmpl-/);
  });

  it('without stream_options.include_usage no usage chunk follows', async () => {
    const { engine } = await setup();
    const chunks = await collect(await engine.chat.completions.create({ messages, stream: true }));
    expect(chunks).toHaveLength(5);
    expect(chunks.every((c) => c.usage === null && c.choices.length === 1)).toBe(true);
  });

  it('passes only the parameters given (null is left out): the model defaults the rest', async () => {
    const { engine, backend } = await setup();
    await engine.chat.completions.create({ messages, max_tokens: 9, temperature: 0.5, top_p: null, top_k: 3, seed: 1, stop: '\n', repetition_penalty: 1.2 });
    await engine.chat.completions.create({ messages, max_completion_tokens: 2, stop: ['a', 'b'] });
    await engine.chat.completions.create({ messages });
    expect(backend.calls.map((c) => c.opts)).toEqual([
      { maxTokens: 9, temperature: 0.5, topK: 3, seed: 1, stop: ['\n'], repetitionPenalty: 1.2 },
      { maxTokens: 2, stop: ['a', 'b'] },
      {},
    ]);
    await expect(engine.chat.completions.create({ messages, n: 2 })).rejects.toMatchObject({ code: 'bad-input', details: { setting: 'n' } });
  });

  it('an abort ends the stream with finish_reason abort, keeps the text so far, and the next request runs', async () => {
    const { engine, backend } = await setup();
    backend.texts = Array.from({ length: 50 }, (_, i) => ` w${i}`);
    const abort = new AbortController();
    const stream = await engine.chat.completions.create({ messages, stream: true, signal: abort.signal });
    // asked while the first runs: it waits its turn
    const next = engine.chat.completions.create({ messages, max_tokens: 2 });
    let text = '';
    let last: ChatCompletionChunk | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (text.includes('w2')) abort.abort();
      last = c;
    }
    expect(last!.choices[0].finish_reason).toBe('abort');
    expect(text.startsWith(' w0 w1 w2')).toBe(true);
    expect(text.length).toBeLessThan(50);
    expect((await next).choices[0]).toMatchObject({ message: { content: backend.texts.join('') }, finish_reason: 'length' });
    expect(backend.log).toEqual(['generate', 'stop', 'generate done', 'generate', 'generate done']);
  });

  it('a request aborted while it waits never starts; one aborted before it is asked returns at once', async () => {
    const { engine, backend } = await setup();
    const first = engine.chat.completions.create({ messages });
    const abort = new AbortController();
    const waiting = engine.chat.completions.create({ messages, signal: abort.signal });
    abort.abort();
    const c = await waiting;
    expect(c.choices[0]).toMatchObject({ message: { content: '' }, finish_reason: 'abort' });
    expect(c.usage).toMatchObject({ prompt_tokens: 0, completion_tokens: 0 });
    await first;
    expect(backend.calls).toHaveLength(1);
    const none = await engine.completions.create({ prompt: 'x', signal: AbortSignal.abort() });
    expect(none.choices[0].finish_reason).toBe('abort');
    expect(backend.calls).toHaveLength(1);
  });

  it('leaving a stream early (break) stops the generation before the next one starts', async () => {
    const { engine, backend } = await setup();
    backend.texts = Array.from({ length: 50 }, (_, i) => ` w${i}`);
    for await (const c of await engine.chat.completions.create({ messages, stream: true })) {
      if (c.choices[0]?.delta.content === ' w1') break;
    }
    expect(backend.log).toEqual(['generate', 'stop', 'generate done']);
  });

  it("the engine's errors reach the caller typed: a rejected create, or a stream that throws", async () => {
    const { engine, backend } = await setup();
    backend.fail = new EngineError('context-full', 'the conversation is 99 tokens', { promptTokens: 99, contextLength: 64, trimTurns: 1 });
    await expect(engine.chat.completions.create({ messages })).rejects.toMatchObject({ code: 'context-full', details: { trimTurns: 1 } });
    const stream = await engine.chat.completions.create({ messages, stream: true });
    await expect(collect(stream)).rejects.toBeInstanceOf(EngineError);
    backend.fail = null;
    expect((await engine.chat.completions.create({ messages })).choices[0].message.content).toBe('In the beginning');
  });
});

describe('completions.create', () => {
  it('returns a text_completion for raw text, and streams text pieces', async () => {
    const { engine, backend } = await setup();
    backend.stopReason = 'eos';
    const c = await engine.completions.create({ prompt: 'Once', max_tokens: 8 });
    expect(c).toMatchObject({
      id: expect.stringMatching(/^cmpl-/),
      object: 'text_completion',
      model: 'models/tiny/',
      choices: [{ index: 0, text: 'In the beginning', finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
    });
    expect(backend.calls[0]).toEqual({ input: 'Once', opts: { maxTokens: 8 } });
    const pieces: Completion[] = await collect(await engine.completions.create({ prompt: 'Once', stream: true, stream_options: { include_usage: true } }));
    expect(pieces.map((p) => p.choices[0]?.text ?? null)).toEqual(['In', ' the', ' beginning', '', null]);
    expect(pieces.map((p) => p.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, 'stop', null]);
    expect(pieces.every((p) => p.object === 'text_completion' && p.id === pieces[0].id)).toBe(true);
    expect(pieces.at(-1)!.usage).toMatchObject({ completion_tokens: 5 });
  });
});

describe('load, and the engine around completions', () => {
  it('names load options: int8, threshold, cache, hub token and revision, the page URL; a signal cancels', async () => {
    const backend = new ScriptedBackend();
    const engine = createEngine({ backend: backend as unknown as EngineBackend, baseHref: 'https://app.example/' });
    const phases: string[] = [];
    await engine.load('org/gated', { int8: true, threshold: 0, cache: false, hfToken: 'hf_x', revision: 'v2', contextLength: 512, onProgress: (p) => phases.push(p.phase) });
    expect(backend.loads[0]).toEqual({
      model: 'org/gated', strategy: 'streamed-int8', int8Threshold: 0, cache: 'off', hfToken: 'hf_x', revision: 'v2', contextLength: 512, baseHref: 'https://app.example/',
    });
    expect(phases).toEqual(['done']);
    await expect(engine.load('x', { int8: true, strategy: 'fp16' })).rejects.toMatchObject({ code: 'bad-input', details: { setting: 'int8' } });
    await expect(engine.load('x', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'cancelled' });
    expect(backend.loads).toHaveLength(1);
  });

  it('a load after the GPU device was lost acquires a new device and loads on it', async () => {
    const { engine, backend } = await setup();
    let inits = 0;
    let lost = true;
    backend.init = async () => {
      inits++;
      lost = false;
      return { adapter: { vendor: 'test', architecture: '', device: '', description: '' }, software: true, features: {}, limits: {} };
    };
    const load = backend.load.bind(backend);
    backend.load = async (req, onProgress) => {
      if (lost) throw new EngineError('device-lost', 'No GPU device: call init() first (or again after a device loss).');
      return load(req, onProgress);
    };
    await engine.load('models/other/');
    expect(inits).toBe(1);
    expect(backend.loads.at(-1)).toMatchObject({ model: 'models/other/' });
  });

  it('a failed load keeps naming the model that still answers; with none left, model is empty', async () => {
    const { engine, backend } = await setup();
    const load = backend.load.bind(backend);
    backend.load = async (req, onProgress) => {
      if (req.model === 'models/broken/') throw new EngineError('bad-config', 'config.json: hidden_size is missing');
      return load(req, onProgress);
    };
    await expect(engine.load('models/broken/')).rejects.toMatchObject({ code: 'bad-config' });
    const kept = await engine.chat.completions.create({ messages });
    expect(kept.model).toBe('models/tiny/');
    // the engine holds no model after this failure (e.g. it was unloaded first): nothing is named
    backend.modelInfo = async () => null;
    await expect(engine.load('models/broken/')).rejects.toMatchObject({ code: 'bad-config' });
    backend.modelInfo = async () => INFO;
    expect((await engine.chat.completions.create({ messages })).model).toBe('');
  });

  it('terminate() fails the calls in flight with cancelled; the next call starts again', async () => {
    const backend = new ScriptedBackend();
    let starts = 0;
    const { LlmEngine } = await import('./engine-client.ts');
    const engine = new LlmEngine(() => {
      starts++;
      return { backend: backend as unknown as EngineBackend, callback: (fn) => fn, close: () => {} };
    });
    await engine.load('models/tiny/');
    backend.texts = Array.from({ length: 50 }, (_, i) => ` w${i}`);
    const running = engine.chat.completions.create({ messages });
    await new Promise((r) => setTimeout(r, 5));
    engine.terminate();
    await expect(running).rejects.toMatchObject({ code: 'cancelled' });
    expect(await engine.info()).toMatchObject({ gpu: { adapter: { vendor: 'test' } }, model: INFO });
    expect(starts).toBe(2);
  });
});
