import { describe, expect, it } from 'vitest';
import type { GenerateOptions, GenerationDefaults, TokenEvent } from '../api.ts';
import { EngineError } from '../errors.ts';
import { CachedSequence } from './cached-sequence.ts';
import { generate, type TokenModel } from './generate.ts';
import { generationDefaults, readGenerationDefaults, resolveSampling } from './generation-config.ts';
import { tooManyTokens } from './prompt-bound.ts';
import type { SamplingParams } from '../kernels/sample.ts';
import { Tokenizer } from './tokenizer.ts';
import { generationConfig, kjv, reference, tokenizerConfig, tokenizerJson } from '../testing/kjv.ts';

// prompts[0]: "In the beginning" → " of the reign of David his son reigned, ..." (48 ids, no EOS).
// prompts[2]: "The LORD is my shepherd" → "; I will praise him, ... all the day.</s>" (31 ids, the last is EOS).
const [beginning, , shepherd] = reference.prompts;

const GREEDY: GenerateOptions = { maxTokens: 64, temperature: 0, topK: 0, topP: 1, seed: 0, stop: [], chat: false };

interface Call {
  kind: 'prefill' | 'step';
  ids: number[];
  pos: number;
  sample: SamplingParams;
  /** The repetition penalty's ids at the time of the call (sorted). */
  penalized: number[] | null;
}

function penalizedIds(sample: SamplingParams): number[] | null {
  const rp = sample.repetitionPenalty;
  if (!rp) return null;
  const ids: number[] = [];
  for (let id = 0; id < rp.seen.words.length * 32; id++) if (rp.seen.has(id)) ids.push(id);
  return ids;
}

/** Replays `script` (what a real model sampled), checks what it is fed, and advances a fake clock. */
class ScriptedModel implements TokenModel {
  readonly calls: Call[] = [];
  private next = 0;
  resets = 0;
  clockMs = 0;

  constructor(
    private readonly script: readonly number[],
    readonly contextLength = 2048,
    private readonly msPerPrefill = 0,
    private readonly msPerStep = 0,
  ) {}

  reset(): void {
    this.resets++;
    this.next = 0;
  }

  async prefill(ids: readonly number[], pos: number, sample: SamplingParams, _signal?: AbortSignal): Promise<number> {
    expect(pos + ids.length).toBeLessThanOrEqual(this.contextLength);
    this.calls.push({ kind: 'prefill', ids: [...ids], pos, sample, penalized: penalizedIds(sample) });
    this.clockMs += this.msPerPrefill;
    return this.take();
  }

  async step(id: number, pos: number, sample: SamplingParams): Promise<number> {
    expect(pos).toBeLessThan(this.contextLength);
    // The fed id is the one this model returned last.
    expect(id).toBe(this.script[this.next - 1]);
    this.calls.push({ kind: 'step', ids: [id], pos, sample, penalized: penalizedIds(sample) });
    this.clockMs += this.msPerStep;
    return this.take();
  }

  lastSampled(): number {
    return this.script[this.next - 1];
  }

  private take(): number {
    if (this.next >= this.script.length) throw new Error('script exhausted');
    return this.script[this.next++];
  }
}

/** The same script, stepped as a GPU-fed model is: queueStep runs the id the model itself sampled last. */
class QueuedModel extends ScriptedModel implements TokenModel {
  queued = 0;

  async queueStep(pos: number, sample: SamplingParams): Promise<number> {
    this.queued++;
    return this.step(this.lastSampled(), pos, sample);
  }
}

async function run(model: ScriptedModel, prompt: string, opts: Partial<GenerateOptions>, signal?: AbortSignal) {
  const events: TokenEvent[] = [];
  const stats = await generate(model, kjv, prompt, { ...GREEDY, ...opts }, (e) => events.push(e), {
    signal,
    now: () => model.clockMs,
  });
  return { stats, events, text: events.map((e) => e.text).join('') };
}

describe('generate', () => {
  it('stops at EOS without showing it, feeding each id at the next position', async () => {
    const model = new ScriptedModel(shepherd.greedy_ids);
    const { stats, events, text } = await run(model, shepherd.text, {});
    expect(text).toBe(shepherd.greedy_text.replace(/<\/s>$/, ''));
    expect(stats).toMatchObject({ stopReason: 'eos', promptTokens: 6, generatedTokens: 31 });
    expect(model.resets).toBe(1);
    expect(model.calls[0]).toMatchObject({ kind: 'prefill', ids: shepherd.ids, pos: 0 });
    expect(model.calls.slice(1).map((c) => c.pos)).toEqual(Array.from({ length: 30 }, (_, i) => 6 + i));
    // One event per shown token, carrying its id; EOS has none.
    expect(events.map((e) => e.ids[0])).toEqual(shepherd.greedy_ids.slice(0, 30));
  });

  it('stops after maxTokens', async () => {
    const model = new ScriptedModel(beginning.greedy_ids);
    const { stats, text } = await run(model, beginning.text, { maxTokens: 10 });
    expect(text).toBe(kjv.decode(beginning.greedy_ids.slice(0, 10)));
    expect(text).toBe(' of the reign of David his son reigned, which');
    expect(stats).toMatchObject({ stopReason: 'max-tokens', generatedTokens: 10 });
    expect(model.calls.length).toBe(10); // one prefill, nine steps
  });

  it('cuts a stop string that spans tokens, and never shows any of it', async () => {
    const model = new ScriptedModel(beginning.greedy_ids);
    const { stats, events, text } = await run(model, beginning.text, { stop: ['David his'] });
    expect(text).toBe(' of the reign of ');
    expect(stats).toMatchObject({ stopReason: 'stop-string', generatedTokens: 6 }); // ' David', ' his'
    for (const e of events) expect(e.text).not.toContain('David');
    expect(events.map((e) => e.text)).toEqual([' of', ' the', ' reign', ' of', ' ', '']);
  });

  it('cuts a stop string inside one token and the rest of that token', async () => {
    const model = new ScriptedModel(beginning.greedy_ids);
    const { stats, text } = await run(model, beginning.text, { stop: ['eig', 'never'] });
    expect(text).toBe(' of the r');
    expect(stats).toMatchObject({ stopReason: 'stop-string', generatedTokens: 3 });
  });

  it('releases text held for a stop string that never completes', async () => {
    const model = new ScriptedModel(beginning.greedy_ids);
    const { stats, events, text } = await run(model, beginning.text, {
      maxTokens: 4,
      stop: [' of the reign of Solomon'],
    });
    expect(events.map((e) => e.text)).toEqual(['', '', '', '', ' of the reign of']);
    expect(events.at(-1)!.ids).toEqual([]);
    expect(text).toBe(' of the reign of');
    expect(stats.stopReason).toBe('max-tokens');
  });

  it('streams a character split over byte tokens once whole', async () => {
    const ids = [...kjv.encode(' 😀 amen', { addSpecialTokens: false }), 1];
    const model = new ScriptedModel(ids);
    const { stats, events, text } = await run(model, beginning.text, {});
    expect(text).toBe(' 😀 amen');
    // ' ', then the emoji's four byte tokens, ' am', 'en', EOS.
    expect(events.map((e) => e.text)).toEqual([' ', '', '', '', '😀', ' am', 'en']);
    expect(stats).toMatchObject({ stopReason: 'eos', generatedTokens: 8 });
  });

  it('ends cancelled when the signal fires, and does nothing when it already has', async () => {
    const controller = new AbortController();
    const model = new ScriptedModel(beginning.greedy_ids);
    const events: TokenEvent[] = [];
    const stats = await generate(
      model,
      kjv,
      beginning.text,
      GREEDY,
      (e) => {
        events.push(e);
        if (events.length === 5) controller.abort();
      },
      { signal: controller.signal },
    );
    expect(stats).toMatchObject({ stopReason: 'cancelled', generatedTokens: 5 });
    expect(events.map((e) => e.text).join('')).toBe(' of the reign of David');

    const idle = new ScriptedModel(beginning.greedy_ids);
    const none = await run(idle, beginning.text, {}, AbortSignal.abort());
    expect(none.stats).toMatchObject({ stopReason: 'cancelled', promptTokens: 4, generatedTokens: 0 });
    expect(idle.calls.length).toBe(0);
  });

  it('stops when the context is full, and refuses a prompt longer than the context', async () => {
    // 4 prompt ids + 6 fed back fill 10 positions; the 7th sampled id has nowhere to go.
    const model = new ScriptedModel(beginning.greedy_ids, 10);
    const { stats, text } = await run(model, beginning.text, {});
    expect(stats).toMatchObject({ stopReason: 'context-full', generatedTokens: 7 });
    expect(text).toBe(kjv.decode(beginning.greedy_ids.slice(0, 7)));
    expect(model.calls.at(-1)!.pos).toBe(9);

    const tight = new ScriptedModel(beginning.greedy_ids, 4);
    const full = await run(tight, beginning.text, {});
    expect(full.stats).toMatchObject({ stopReason: 'context-full', generatedTokens: 1 });

    await expect(run(new ScriptedModel(beginning.greedy_ids, 3), beginning.text, {})).rejects.toMatchObject({
      code: 'context-full',
      details: { promptTokens: 4, contextLength: 3 },
    });
  });

  it('measures time to first token, prefill and decode rates', async () => {
    const model = new ScriptedModel(beginning.greedy_ids, 2048, 100, 10);
    const { stats } = await run(model, beginning.text, { maxTokens: 11 });
    expect(stats).toEqual({
      promptTokens: 4,
      generatedTokens: 11,
      ttftMs: 100,
      prefillTokPerS: 40, // 4 ids in 100 ms
      decodeTokPerS: 100, // 10 steps in 100 ms
      stopReason: 'max-tokens',
      reusedTokens: 0,
      sampling: { maxTokens: 11, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 },
    });
  });

  it('draws one Mulberry32 uniform per sampled token and passes the options through', async () => {
    const model = new ScriptedModel(beginning.greedy_ids);
    await run(model, beginning.text, { maxTokens: 3, temperature: 0.7, topK: 40, topP: 0.9, seed: 42 });
    expect(model.calls.map((c) => c.sample)).toEqual([
      { temperature: 0.7, topK: 40, topP: 0.9, u: 0.6011037230491638, repetitionPenalty: undefined },
      { temperature: 0.7, topK: 40, topP: 0.9, u: 0.44829052686691284, repetitionPenalty: undefined },
      { temperature: 0.7, topK: 40, topP: 0.9, u: 0.8524657487869263, repetitionPenalty: undefined },
    ]);
  });

  it('wraps the prompt with the chat template in chat mode, without a second BOS', async () => {
    const template =
      "{{ bos_token }}{% for m in messages %}{{ '[' + m['role'] + '] ' + m['content'] + '\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '[assistant]' }}{% endif %}";
    const chat = Tokenizer.fromJson(tokenizerJson, { ...tokenizerConfig, chat_template: template }, generationConfig);
    const model = new ScriptedModel(shepherd.greedy_ids);
    await generate(model, chat, 'Who is my shepherd?', { ...GREEDY, chat: true }, () => {});
    const fed = model.calls[0].ids;
    expect(fed).toEqual(chat.encode('<s>[user] Who is my shepherd?\n[assistant]', { addSpecialTokens: false }));
    expect(fed.filter((id) => id === 0)).toEqual([0]);
    expect(fed[0]).toBe(0);
    expect(chat.decode(fed)).toBe('<s>[user] Who is my shepherd?\n[assistant]');

    // A model without a template gets the prompt as it is.
    const plain = new ScriptedModel(shepherd.greedy_ids);
    await generate(plain, kjv, shepherd.text, { ...GREEDY, chat: true }, () => {});
    expect(plain.calls[0].ids).toEqual(shepherd.ids);
  });

  it('with a GPU-fed model, queues each step one ahead: the same text, positions and draws as step by step', async () => {
    const cases: [readonly number[], Partial<GenerateOptions>][] = [
      [shepherd.greedy_ids, {}],
      [beginning.greedy_ids, { maxTokens: 10 }],
      [beginning.greedy_ids, { stop: ['David his'] }],
      [beginning.greedy_ids, { temperature: 0.7, topK: 20, seed: 5, maxTokens: 12 }],
    ];
    for (const [ids, opts] of cases) {
      const plain = new ScriptedModel(ids);
      const queued = new QueuedModel(ids);
      const a = await run(plain, ids === shepherd.greedy_ids ? shepherd.text : beginning.text, opts);
      const b = await run(queued, ids === shepherd.greedy_ids ? shepherd.text : beginning.text, opts);
      expect(b.text).toBe(a.text);
      expect(b.stats).toEqual(a.stats);
      // every step of the plain run, in order, with the same draw; and at most one more, queued ahead and never used
      expect(queued.calls.slice(0, plain.calls.length)).toEqual(plain.calls);
      expect(queued.calls.length - plain.calls.length).toBeLessThanOrEqual(1);
      expect(queued.queued).toBe(queued.calls.length - 1);
    }
  });

  it('with a GPU-fed model, queues nothing past maxTokens or the context', async () => {
    const byTokens = new QueuedModel(beginning.greedy_ids);
    await run(byTokens, beginning.text, { maxTokens: 10 });
    expect(byTokens.calls.length).toBe(10);
    const byContext = new QueuedModel(beginning.greedy_ids, 9);
    const { stats } = await run(byContext, beginning.text, {});
    expect(stats.stopReason).toBe('context-full');
    expect(Math.max(...byContext.calls.map((c) => c.pos + c.ids.length))).toBeLessThanOrEqual(9);
  });

  it('with a GPU-fed model and a repetition penalty, steps one at a time (the penalty needs each id before the next step)', async () => {
    const plain = new ScriptedModel(beginning.greedy_ids);
    const queued = new QueuedModel(beginning.greedy_ids);
    const a = await run(plain, beginning.text, { maxTokens: 6, repetitionPenalty: 1.3 });
    const b = await run(queued, beginning.text, { maxTokens: 6, repetitionPenalty: 1.3 });
    expect(b.text).toBe(a.text);
    expect(queued.queued).toBe(0);
    expect(queued.calls).toEqual(plain.calls);
  });

  it('refuses bad options with typed errors', async () => {
    const bad = async (opts: Partial<GenerateOptions>) => {
      const err = await run(new ScriptedModel(beginning.greedy_ids), beginning.text, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      return (err as EngineError).details.setting;
    };
    expect(await bad({ maxTokens: 0 })).toBe('maxTokens');
    expect(await bad({ temperature: -1 })).toBe('temperature');
    expect(await bad({ topP: 0 })).toBe('topP');
    expect(await bad({ topK: 1.5 })).toBe('topK');
    expect(await bad({ seed: Number.NaN })).toBe('seed');
    expect(await bad({ repetitionPenalty: 0 })).toBe('repetitionPenalty');
  });
});

describe('generate across turns (the KV cache of the common prefix) and with the model\'s defaults', () => {
  const generated = (n: number) => beginning.greedy_ids.slice(0, n);

  it('a follow-up that extends the last sequence prefills only the new ids, at the position after the kept ones', async () => {
    const model = new ScriptedModel([...beginning.greedy_ids, ...shepherd.greedy_ids]);
    const sequence = new CachedSequence(4096);
    const first = await generate(model, kjv, [{ role: 'user', content: beginning.text }], { ...GREEDY, maxTokens: 5 }, () => {}, { sequence });
    expect(first).toMatchObject({ promptTokens: 4, reusedTokens: 0, generatedTokens: 5 });
    // the prompt and the 4 ids fed back are in the cache; the 5th sampled id never went in
    expect(sequence.tokens()).toEqual([...beginning.ids, ...generated(4)]);

    const reply = kjv.decode(generated(5));
    const turn2 = [
      { role: 'user', content: beginning.text },
      { role: 'assistant', content: reply },
      { role: 'user', content: ' And' },
    ];
    const full = kjv.encode(beginning.text + reply + ' And');
    const kept = sequence.commonPrefix(full);
    expect(kept).toBeGreaterThanOrEqual(8);
    model.calls.length = 0;
    const second = await generate(model, kjv, turn2, { ...GREEDY, maxTokens: 2 }, () => {}, { sequence });
    expect(second).toMatchObject({ promptTokens: full.length, reusedTokens: kept });
    expect(model.calls[0]).toMatchObject({ kind: 'prefill', ids: full.slice(kept), pos: kept });
    expect(model.resets).toBe(1); // the first call only
  });

  it('the same prompt again re-runs only its last id; a different one keeps the common prefix and drops the rest', async () => {
    const model = new ScriptedModel([...beginning.greedy_ids, ...beginning.greedy_ids, ...beginning.greedy_ids]);
    const sequence = new CachedSequence(4096);
    await generate(model, kjv, beginning.text, { ...GREEDY, maxTokens: 3 }, () => {}, { sequence });
    model.calls.length = 0;
    const again = await generate(model, kjv, beginning.text, { ...GREEDY, maxTokens: 1 }, () => {}, { sequence });
    expect(again.reusedTokens).toBe(3);
    expect(model.calls[0]).toMatchObject({ ids: [beginning.ids[3]], pos: 3 });
    expect(sequence.tokens()).toEqual(beginning.ids);

    const other = kjv.encode('In the end');
    const common = sequence.commonPrefix(other);
    expect(common).toBe(3); // <s> In the
    model.calls.length = 0;
    const diverged = await generate(model, kjv, 'In the end', { ...GREEDY, maxTokens: 1 }, () => {}, { sequence });
    expect(diverged.reusedTokens).toBe(3);
    expect(model.calls[0]).toMatchObject({ ids: other.slice(3), pos: 3 });
    expect(sequence.tokens()).toEqual(other);
  });

  it('forgets the cache when the model fails, so nothing stale is reused', async () => {
    const sequence = new CachedSequence(4096);
    await generate(new ScriptedModel(beginning.greedy_ids), kjv, beginning.text, { ...GREEDY, maxTokens: 2 }, () => {}, { sequence });
    expect(sequence.length).toBe(5);
    await expect(generate(new ScriptedModel([]), kjv, beginning.text + ' of', GREEDY, () => {}, { sequence })).rejects.toThrow('script exhausted');
    expect(sequence.length).toBe(0);
  });

  it('penalises every id of the sequence so far: the prompt at prefill, and each id fed since', async () => {
    const model = new ScriptedModel(beginning.greedy_ids);
    await generate(model, kjv, beginning.text, { ...GREEDY, maxTokens: 3, repetitionPenalty: 1.3 }, () => {}, { sequence: new CachedSequence(4096) });
    const sorted = (ids: number[]) => [...new Set(ids)].sort((a, b) => a - b);
    expect(model.calls.map((c) => c.penalized)).toEqual([
      sorted(beginning.ids),
      sorted([...beginning.ids, ...generated(1)]),
      sorted([...beginning.ids, ...generated(2)]),
    ]);
    expect(model.calls.every((c) => c.sample.repetitionPenalty?.penalty === 1.3)).toBe(true);
  });

  it("applies generation_config's defaults unless the request overrides them", async () => {
    const sampled = generationDefaults({ do_sample: true, temperature: 0.6, top_p: 0.9, repetition_penalty: 1.1, max_new_tokens: 2, eos_token_id: [1, 7] }, [1, 7]);
    expect(sampled).toEqual({ temperature: 0.6, topK: 50, topP: 0.9, repetitionPenalty: 1.1, maxTokens: 2, eosIds: [1, 7] });
    const model = new ScriptedModel(beginning.greedy_ids);
    const { stats } = await runWith(model, sampled, { seed: 5 });
    expect(stats.sampling).toEqual({ maxTokens: 2, temperature: 0.6, topK: 50, topP: 0.9, repetitionPenalty: 1.1, seed: 5 });
    expect(model.calls[0].sample).toMatchObject({ temperature: 0.6, topK: 50, topP: 0.9, repetitionPenalty: { penalty: 1.1 } });

    const over = await runWith(new ScriptedModel(beginning.greedy_ids), sampled, { temperature: 0, maxTokens: 4, repetitionPenalty: 1, seed: 5 });
    expect(over.stats.sampling).toMatchObject({ maxTokens: 4, temperature: 0, repetitionPenalty: 1 });

    // without do_sample: greedy, whatever temperature the file names; no max_new_tokens: the rest of the context
    const greedy = generationDefaults({ temperature: 0.6 }, [1]);
    expect(greedy).toMatchObject({ temperature: 0, topK: 50, topP: 1, repetitionPenalty: 1, maxTokens: null });
    const rest = await runWith(new ScriptedModel(beginning.greedy_ids, 12), greedy, {});
    expect(rest.stats).toMatchObject({ stopReason: 'context-full', generatedTokens: 9, sampling: { maxTokens: 9 } });
    expect(rest.stats.sampling.seed).toEqual(expect.any(Number));
  });

  it('ignores a generation_config.json sampling value of the wrong type or out of range, naming the file, the key and the value', () => {
    const bad: [Record<string, unknown>, string, Partial<GenerationDefaults>][] = [
      [{ do_sample: true, top_k: -1 }, "'top_k' is -1, not a whole number of 0 or more (0: off): ignored (50 is used)", { topK: 50 }],
      [{ top_k: 1.5 }, "'top_k' is 1.5", { topK: 50 }],
      [{ top_p: 0 }, "'top_p' is 0, not a number in (0, 1]: ignored (1 is used)", { topP: 1 }],
      [{ top_p: 1.5 }, "'top_p' is 1.5", { topP: 1 }],
      [{ do_sample: true, temperature: -1 }, "'temperature' is -1", { temperature: 1 }],
      [{ do_sample: true, temperature: 'x' }, `'temperature' is "x"`, { temperature: 1 }],
      [{ repetition_penalty: 0 }, "'repetition_penalty' is 0", { repetitionPenalty: 1 }],
      [{ repetition_penalty: [] }, "'repetition_penalty' is []", { repetitionPenalty: 1 }],
      [{ max_new_tokens: 0 }, "'max_new_tokens' is 0, not a whole number of at least 1: ignored (no default)", { maxTokens: null }],
      [{ max_new_tokens: 1.5 }, "'max_new_tokens' is 1.5", { maxTokens: null }],
      [{ do_sample: 'yes', temperature: 0.7 }, `'do_sample' is "yes", not true or false: ignored (greedy decoding)`, { temperature: 0 }],
    ];
    for (const [file, says, used] of bad) {
      const { defaults, notes } = readGenerationDefaults(file, [1]);
      expect(notes, JSON.stringify(file)).toEqual([expect.stringContaining(`generation_config.json: ${says}`)]);
      expect(defaults, JSON.stringify(file)).toMatchObject(used);
      // the defaults it gives are ones a request can run with
      expect(() => resolveSampling({}, defaults, 16, () => 1)).not.toThrow();
    }
    // not given (absent or null) takes transformers' defaults, without a note; top_k 0 is off
    expect(readGenerationDefaults({ do_sample: true, temperature: null, top_k: 0, top_p: null, max_new_tokens: null }, [1])).toEqual({
      defaults: { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, maxTokens: null, eosIds: [1] },
      notes: [],
    });
  });

  it('ends at any of the default EOS ids', async () => {
    // beginning's 3rd greedy id stands in for a second EOS id
    const eos = generationDefaults(null, [1, beginning.greedy_ids[2]]);
    const { stats, events } = await runWith(new ScriptedModel(beginning.greedy_ids), eos, { maxTokens: 10 });
    expect(stats).toMatchObject({ stopReason: 'eos', generatedTokens: 3 });
    expect(events.flatMap((e) => e.ids)).toEqual(generated(2));
  });

  async function runWith(model: ScriptedModel, defaults: ReturnType<typeof generationDefaults>, opts: Partial<GenerateOptions>) {
    const events: TokenEvent[] = [];
    const stats = await generate(model, kjv, beginning.text, opts, (e) => events.push(e), { defaults });
    return { stats, events };
  }

  it('a model without a chat template reads messages as their contents joined as they are', async () => {
    const model = new ScriptedModel(beginning.greedy_ids);
    const messages = [
      { role: 'system', content: 'In the' },
      { role: 'user', content: ' beginning' },
    ];
    await generate(model, kjv, messages, { ...GREEDY, maxTokens: 1 }, () => {});
    expect(model.calls[0].ids).toEqual(beginning.ids);
  });

  it('renders system, user and assistant turns with the chat template', async () => {
    const template =
      "{{ bos_token }}{% for m in messages %}{{ '[' + m['role'] + '] ' + m['content'] + '\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '[assistant]' }}{% endif %}";
    const chat = Tokenizer.fromJson(tokenizerJson, { ...tokenizerConfig, chat_template: template }, generationConfig);
    const model = new ScriptedModel(shepherd.greedy_ids);
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Who?' },
      { role: 'assistant', content: 'The LORD.' },
      { role: 'user', content: 'Why?' },
    ];
    await generate(model, chat, messages, { ...GREEDY, maxTokens: 1 }, () => {});
    expect(chat.decode(model.calls[0].ids)).toBe('<s>[system] Be brief.\n[user] Who?\n[assistant] The LORD.\n[user] Why?\n[assistant]');
  });

  it('a conversation past the context says how many of the oldest turns to drop', async () => {
    const turn = (i: number) => [
      { role: 'user', content: ` And the LORD spake unto Moses, saying ${i},` },
      { role: 'assistant', content: ' Speak unto the children of Israel.' },
    ];
    const messages = [{ role: 'system', content: 'In the beginning' }, ...turn(1), ...turn(2), ...turn(3), { role: 'user', content: ' Amen.' }];
    const total = kjv.encode(messages.map((m) => m.content).join('')).length;
    const withoutTwo = kjv.encode([messages[0], ...messages.slice(5)].map((m) => m.content).join('')).length;
    const ctx = withoutTwo; // fits once the two oldest turns are gone, not before
    const fits = await generate(new ScriptedModel(beginning.greedy_ids), kjv, messages, { ...GREEDY, maxTokens: 1 }, () => {});
    expect(fits.promptTokens).toBe(total);
    const small = await generate(new ScriptedModel([], ctx - 1), kjv, messages, GREEDY, () => {}).catch((e: unknown) => e);
    expect(small).toBeInstanceOf(EngineError);
    expect(small).toMatchObject({ code: 'context-full', details: { promptTokens: total, contextLength: ctx - 1, trimTurns: 3 } });
    expect((small as EngineError).message).toMatch(/dropping the 3 oldest turns makes it fit/);
    const exact = await generate(new ScriptedModel([], ctx), kjv, messages, GREEDY, () => {}).catch((e: unknown) => e);
    expect(exact).toMatchObject({ code: 'context-full', details: { trimTurns: 2 } });

    const alone = await generate(new ScriptedModel([], 3), kjv, messages, GREEDY, () => {}).catch((e: unknown) => e);
    expect(alone).toMatchObject({ code: 'context-full' });
    expect((alone as EngineError).details).not.toHaveProperty('trimTurns');
  });
});

describe('work bounded by the context, not by the prompt', () => {
  it('refuses a 20M-character prompt at once, without tokenizing it', async () => {
    const model = new ScriptedModel(beginning.greedy_ids, 2048);
    const huge = 'and it came to pass '.repeat(1_000_000);
    const t0 = performance.now();
    const e = await run(model, huge, {}).catch((x: unknown) => x);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(e).toMatchObject({ code: 'bad-input', details: { setting: 'prompt', contextLength: 2048, promptChars: huge.length } });
    expect(model.calls).toEqual([]);
  });

  it('a prompt far past the context but under the character bound is counted in pieces and refused early', async () => {
    const model = new ScriptedModel(beginning.greedy_ids, 1024);
    // within the character bound for 1024 tokens (kjv's tokens are short), and thousands of tokens
    const text = 'In the beginning God created the heaven and the earth. '.repeat(2000).slice(0, 2 * 1024 * kjv.maxTokenChars);
    expect(text.length).toBeGreaterThan(20_000);
    const e = (await run(model, text, {}).catch((x: unknown) => x)) as EngineError;
    expect(e).toMatchObject({ code: 'bad-input', details: { setting: 'prompt' } });
    expect(e.message).toMatch(/the prompt is more than \d+ tokens, more than the 1024 tokens the context holds/);
    expect(e.details.promptTokensAtLeast as number).toBeGreaterThan(1024);
  });

  it('counting in pieces agrees with tokenizing whole about what fits', () => {
    const text = 'And God said, Let there be light: and there was light. '.repeat(600); // ~33k characters
    const n = kjv.encode(text, { addSpecialTokens: false }).length;
    expect(tooManyTokens(kjv, text, n + 50)).toBeNull(); // fits: never refused
    expect(tooManyTokens(kjv, text, Math.floor(n / 3))).toBeGreaterThan(Math.floor(n / 3)); // refused, with a true lower bound
    expect(tooManyTokens(kjv, text, Math.floor(n / 3))!).toBeLessThanOrEqual(n);
  });

  it('a chat template that prints millions of items is stopped within its bound, naming it', async () => {
    const template = '{% for i in range(100000) %}{% for m in messages %}{{ m.content }}{% endfor %}{% endfor %}';
    const chat = Tokenizer.fromJson(tokenizerJson, { ...tokenizerConfig, chat_template: template }, generationConfig);
    const model = new ScriptedModel(beginning.greedy_ids, 2048);
    const t0 = performance.now();
    const e = await run2(model, chat, 'In the beginning', { chat: true }).catch((x: unknown) => x);
    expect(performance.now() - t0).toBeLessThan(5000); // its 1 s bound, and a loaded machine (unbounded: 74 s)
    expect(e).toMatchObject({ code: 'bad-input' });
    expect(['chat_template', 'prompt']).toContain((e as EngineError).details.setting);
    expect(model.calls).toEqual([]);
  });

  it('a conversation far past the context is context-full with the turns to drop, found with bounded work', async () => {
    const model = new ScriptedModel(beginning.greedy_ids, 64);
    const huge = 'and it came to pass '.repeat(50_000); // a million characters, never tokenized whole
    const messages = [
      { role: 'user', content: huge },
      { role: 'assistant', content: ' Amen.' },
      { role: 'user', content: ' In the beginning' },
    ];
    const t0 = performance.now();
    const e = await generate(model, kjv, messages, GREEDY, () => {}).catch((x: unknown) => x);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(e).toMatchObject({ code: 'context-full', details: { setting: 'messages', contextLength: 64, trimTurns: 1 } });
    expect((e as EngineError).details.promptChars).toBe(huge.length + ' Amen. In the beginning'.length);
    expect((e as EngineError).message).toMatch(/dropping the oldest turn makes it fit/);
    expect(model.calls).toEqual([]);
  });

  it('a chat template looping 100M times is stopped within its bound', async () => {
    const chat = Tokenizer.fromJson(tokenizerJson, { ...tokenizerConfig, chat_template: '{% for i in range(100000000) %}{% endfor %}x' }, generationConfig);
    const t0 = performance.now();
    const e = await run2(new ScriptedModel(beginning.greedy_ids), chat, 'x', { chat: true }).catch((x: unknown) => x);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(e).toMatchObject({ code: 'bad-input', details: { setting: 'chat_template' } });
  });

  it('a stop during the prefill ends the generation cancelled (the model is given the signal)', async () => {
    const ac = new AbortController();
    const model = new ScriptedModel(beginning.greedy_ids);
    model.prefill = async (_ids: readonly number[], _pos: number, _sample: SamplingParams, signal?: AbortSignal) => {
      expect(signal).toBe(ac.signal);
      ac.abort();
      throw new EngineError('cancelled', 'the prefill was stopped');
    };
    const { stats, events } = await run(model, beginning.text, {}, ac.signal);
    expect(stats).toMatchObject({ stopReason: 'cancelled', generatedTokens: 0 });
    expect(events).toEqual([]);
  });

});

async function run2(model: ScriptedModel, tokenizer: Tokenizer, prompt: string, opts: Partial<GenerateOptions>) {
  return generate(model, tokenizer, prompt, { ...GREEDY, ...opts }, () => {}, { now: () => model.clockMs });
}
