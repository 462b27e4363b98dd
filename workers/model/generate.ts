// The generation loop, independent of the GPU: prompt → ids → prefill → step … → text deltas, with the stop
// rules and the stats the UI shows. The model is whatever implements TokenModel (the WGSL transformer with its GPU
// sampler, or a CPU reference); randomness is drawn here, one Mulberry32 uniform per sampled token (mulberry32.ts).
import type { GenerateOptions, GenerateStats, TokenEvent } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { SamplingParams } from '../kernels/sample.ts';
import { Mulberry32 } from './mulberry32.ts';
import { StopStringFilter } from './stop-strings.ts';
import { StreamDecoder, type Tokenizer } from './tokenizer.ts';

/** What generate() needs from a model: a KV cache of contextLength positions, and sampling after each forward. */
export interface TokenModel {
  /** Positions the KV cache holds; a token can be fed at positions 0 .. contextLength - 1. */
  readonly contextLength: number;
  /** Forgets the KV cache: the next prefill starts a new sequence. */
  reset(): void;
  /** Runs ids at positions pos .. pos + ids.length - 1 and returns the id sampled from the last position's logits. */
  prefill(ids: readonly number[], pos: number, sample: SamplingParams): Promise<number>;
  /** Runs one id at position pos and returns the id sampled from its logits. */
  step(id: number, pos: number, sample: SamplingParams): Promise<number>;
}

export interface GenerateHooks {
  signal?: AbortSignal;
  /** Milliseconds clock (performance.now by default; tests pass a fake one). */
  now?: () => number;
}

/**
 * Generates from prompt, calling onToken once per sampled token (its text may be '' while a character is incomplete
 * or while the text could still be the start of a stop string) and once more at the end if held text remains.
 * EOS is not shown; a stop string and whatever follows it are cut from the text. Cancellation through the signal
 * ends it with stopReason 'cancelled' (not an error); the model's own errors propagate.
 *
 * Stats: promptTokens counts ids fed to prefill (BOS and chat template included); generatedTokens counts every id the
 * model sampled (an EOS too); ttftMs runs from the call to the first sampled id (tokenisation included);
 * prefillTokPerS = promptTokens / prefill time; decodeTokPerS = step() calls / time from the first id to the last.
 */
export async function generate(
  model: TokenModel,
  tokenizer: Tokenizer,
  prompt: string,
  opts: GenerateOptions,
  onToken: (e: TokenEvent) => void,
  { signal, now = () => performance.now() }: GenerateHooks = {},
): Promise<GenerateStats> {
  const t0 = now();
  validate(opts);
  const ids = encodePrompt(tokenizer, prompt, opts.chat);
  if (ids.length === 0) throw new EngineError('bad-input', 'the prompt is empty', { setting: 'prompt' });
  if (ids.length > model.contextLength) {
    throw new EngineError(
      'bad-input',
      `the prompt is ${ids.length} tokens, more than the ${model.contextLength} the context holds`,
      { setting: 'prompt', promptTokens: ids.length, contextLength: model.contextLength },
    );
  }

  const stats: GenerateStats = {
    promptTokens: ids.length,
    generatedTokens: 0,
    ttftMs: 0,
    prefillTokPerS: 0,
    decodeTokPerS: 0,
    stopReason: 'cancelled',
  };
  if (signal?.aborted) return stats;

  const rng = new Mulberry32(opts.seed);
  const params = (): SamplingParams => ({
    temperature: opts.temperature,
    topK: opts.topK,
    topP: opts.topP,
    u: rng.nextUniform(),
  });
  const eos = new Set(tokenizer.eosIds);
  const decoder = new StreamDecoder(tokenizer);
  const stops = new StopStringFilter(opts.stop);

  model.reset();
  const prefillStart = now();
  let next = await model.prefill(ids, 0, params());
  const firstAt = now();
  stats.generatedTokens = 1;
  stats.ttftMs = firstAt - t0;
  stats.prefillTokPerS = rate(ids.length, firstAt - prefillStart);

  let steps = 0;
  let reason: GenerateStats['stopReason'];
  for (;;) {
    if (eos.has(next)) {
      reason = 'eos';
      break;
    }
    const shown = stops.push(decoder.push(next));
    onToken({ text: shown.text, ids: [next] });
    if (shown.stopped) {
      reason = 'stop-string';
      break;
    }
    if (stats.generatedTokens >= opts.maxTokens) {
      reason = 'max-tokens';
      break;
    }
    if (signal?.aborted) {
      reason = 'cancelled';
      break;
    }
    // `next` goes in at the position after the prompt and the ids generated before it.
    const pos = ids.length + stats.generatedTokens - 1;
    if (pos >= model.contextLength) {
      reason = 'context-full';
      break;
    }
    next = await model.step(next, pos, params());
    stats.generatedTokens++;
    steps++;
  }
  stats.decodeTokPerS = rate(steps, now() - firstAt);

  if (reason !== 'stop-string') {
    // An incomplete character or a stop-string prefix held back until now is output after all, unless the last
    // bytes complete a stop string.
    const tail = stops.push(decoder.flush());
    if (tail.stopped) reason = 'stop-string';
    const text = tail.stopped ? tail.text : tail.text + stops.flush();
    if (text.length > 0) onToken({ text, ids: [] });
  }
  stats.stopReason = reason;
  return stats;
}

/** Chat mode renders the prompt as one user message through the chat template; a model without one gets it plain. */
function encodePrompt(tokenizer: Tokenizer, prompt: string, chat: boolean): number[] {
  if (chat && tokenizer.chatTemplateError !== null) {
    throw new EngineError('unsupported', `the model's chat template cannot be read: ${tokenizer.chatTemplateError}`, {
      setting: 'chat_template',
    });
  }
  const templated = chat ? tokenizer.applyChatTemplate([{ role: 'user', content: prompt }]) : null;
  // The template writes its own BOS (as transformers' apply_chat_template does), so none is added again.
  return templated === null
    ? tokenizer.encode(prompt, { addSpecialTokens: true })
    : tokenizer.encode(templated, { addSpecialTokens: false });
}

function validate(opts: GenerateOptions): void {
  const bad = (setting: string, why: string): never => {
    throw new EngineError('bad-input', `${setting} ${why}`, { setting });
  };
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1) bad('maxTokens', 'must be a whole number of at least 1');
  if (!(opts.temperature >= 0) || !Number.isFinite(opts.temperature)) bad('temperature', 'must be 0 (greedy) or more');
  if (!Number.isInteger(opts.topK) || opts.topK < 0) bad('topK', 'must be a whole number, 0 for off');
  if (!(opts.topP > 0 && opts.topP <= 1)) bad('topP', 'must be in (0, 1]');
  if (!Number.isInteger(opts.seed)) bad('seed', 'must be a whole number');
}

function rate(tokens: number, ms: number): number {
  return tokens > 0 && ms > 0 ? (tokens * 1000) / ms : 0;
}
