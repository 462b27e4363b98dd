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
  /**
   * Runs ids at positions pos .. pos + ids.length - 1 and returns the id sampled from the last position's logits.
   * With `signal`, a long prefill yields between its chunks and stops (EngineError 'cancelled') once it is aborted.
   */
  prefill(ids: readonly number[], pos: number, sample: SamplingParams, signal?: AbortSignal): Promise<number>;
  /** Runs one id at position pos and returns the id sampled from its logits. */
  step(id: number, pos: number, sample: SamplingParams): Promise<number>;
  /**
   * Optional: runs, at position pos, the id the model's previous forward sampled without the caller handing it over,
   * submitted at once; the promise gives this step's sampled id. generate() then queues step n + 1 before awaiting step
   * n's id, so the GPU does not wait for the CPU between tokens.
   */
  queueStep?(pos: number, sample: SamplingParams): Promise<number>;
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
 * ends it with stopReason 'cancelled' (not an error); the model's own errors propagate. `opts` and `prompt` are
 * taken as valid: the API boundary checks them (workers/validate-request.ts) before they reach this.
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
  const ids = encodePrompt(tokenizer, prompt, opts.chat, model.contextLength);
  if (ids.length === 0) throw new EngineError('bad-input', 'the prompt is empty', { setting: 'prompt' });

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
  let next: number;
  try {
    next = await model.prefill(ids, 0, params(), signal);
  } catch (e) {
    if (signal?.aborted) return stats; // stopped during the prefill: 'cancelled', nothing generated
    throw e;
  }
  const firstAt = now();
  stats.generatedTokens = 1;
  stats.ttftMs = firstAt - t0;
  stats.prefillTokPerS = rate(ids.length, firstAt - prefillStart);

  let steps = 0;
  let reason: GenerateStats['stopReason'];
  // With queueStep, the step after `next` is already running while `next` is looked at (one step ahead); when the
  // text stops there, that step's id is never used (its promise is dropped after the GPU finishes it).
  let ahead: Promise<number> | null = null;
  const drop = () => void ahead?.catch(() => {});
  try {
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
      if (model.queueStep) {
        // `next` is on the GPU already (the previous forward sampled it): queue its step if not yet, and the one after it
        const current = ahead ?? model.queueStep(pos, params());
        const more = pos + 1 < model.contextLength && stats.generatedTokens + 1 < opts.maxTokens;
        ahead = more ? model.queueStep(pos + 1, params()) : null;
        next = await current;
      } else {
        next = await model.step(next, pos, params());
      }
      stats.generatedTokens++;
      steps++;
    }
  } finally {
    drop();
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

/**
 * Chat mode renders the prompt as one user message through the chat template; a model without one gets it plain.
 * Work is bounded by the context, not by the prompt: a text longer than the context could hold is refused before it is
 * rendered or tokenized (promptCharLimit), the template's render is bounded (chat-template.ts), and the rendered text
 * is counted in pieces, stopping as soon as it is certainly too long (tooManyTokens); only a text that may fit is
 * tokenized whole, and its exact length checked.
 */
function encodePrompt(tokenizer: Tokenizer, prompt: string, chat: boolean, contextLength: number): number[] {
  if (chat && tokenizer.chatTemplateError !== null) {
    throw new EngineError('unsupported', `the model's chat template cannot be read: ${tokenizer.chatTemplateError}`, {
      setting: 'chat_template',
    });
  }
  const maxChars = promptCharLimit(tokenizer, contextLength);
  if (prompt.length > maxChars) throw tooLong(`${prompt.length} characters`, contextLength, { promptChars: prompt.length });
  const templated = chat ? tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { limits: { maxChars } }) : null;
  const text = templated ?? prompt;
  if (text.length > maxChars) throw tooLong(`${text.length} characters`, contextLength, { promptChars: text.length });
  // The template writes its own BOS (as transformers' apply_chat_template does), so none is added again.
  const addSpecialTokens = templated === null;
  const counted = tooManyTokens(tokenizer, text, contextLength);
  if (counted !== null) throw tooLong(`more than ${counted} tokens`, contextLength, { promptTokensAtLeast: counted });
  const ids = tokenizer.encode(text, { addSpecialTokens });
  if (ids.length > contextLength) throw tooLong(`${ids.length} tokens`, contextLength, { promptTokens: ids.length });
  return ids;
}

/** Characters per token the prompt bound allows at most, whatever the vocabulary claims (a hostile one may hold a huge token). */
const MAX_CHARS_PER_TOKEN = 1024;

/**
 * The most characters a prompt of `contextLength` tokens can have (twice over, for what normalizers remove; a prompt
 * averaging more than MAX_CHARS_PER_TOKEN characters a token is not one a real vocabulary makes).
 */
export function promptCharLimit(tokenizer: Pick<Tokenizer, 'maxTokenChars'>, contextLength: number): number {
  return 2 * contextLength * Math.min(tokenizer.maxTokenChars, MAX_CHARS_PER_TOKEN) + 4096;
}

function tooLong(what: string, contextLength: number, details: Record<string, number>): EngineError {
  return new EngineError('bad-input', `the prompt is ${what}, more than the ${contextLength} tokens the context holds`, {
    setting: 'prompt',
    contextLength,
    ...details,
  });
}

/** Characters tokenized at a time while counting. */
const COUNT_PIECE_CHARS = 16_384;

/**
 * Counts the tokens of `text` a piece at a time (pieces end at whitespace, so words are not cut) and returns the count
 * so far as soon as it is certainly more than `limit` (each cut may change the count by a few tokens, allowed for);
 * null when the whole text was counted without passing it. Costs about `limit` tokens of work, whatever the text.
 */
export function tooManyTokens(tokenizer: Pick<Tokenizer, 'encode'>, text: string, limit: number): number | null {
  if (text.length <= COUNT_PIECE_CHARS) return null; // small enough to tokenize whole
  let count = 0;
  let pieces = 0;
  for (let pos = 0; pos < text.length; ) {
    let end = Math.min(text.length, pos + COUNT_PIECE_CHARS);
    if (end < text.length) {
      const ws = Math.max(text.lastIndexOf(' ', end), text.lastIndexOf('\n', end));
      if (ws > pos + COUNT_PIECE_CHARS / 2) end = ws;
      else if (/[\uD800-\uDBFF]/.test(text[end - 1])) end--; // never between the halves of a surrogate pair
    }
    count += tokenizer.encode(text.slice(pos, end), { addSpecialTokens: false }).length;
    pieces++;
    pos = end;
    if (count > limit + 8 * pieces) return count - 8 * pieces;
  }
  return null;
}

function rate(tokens: number, ms: number): number {
  return tokens > 0 && ms > 0 ? (tokens * 1000) / ms : 0;
}
