// The generation loop, independent of the GPU: input → ids → prefill of what the KV cache lacks → step … → text
// deltas, with the stop rules and the stats the UI shows. The model is whatever implements TokenModel (the WGSL
// transformer with its GPU sampler, or a CPU reference); randomness is drawn here, one Mulberry32 uniform per sampled
// token (mulberry32.ts). Between calls the caller keeps a CachedSequence: the ids the model's KV cache holds, so that
// a follow-up (the same conversation with a new turn) prefills only the ids after the common prefix.
import type { ChatMessage, GenerateOptions, GenerateStats, GenerationDefaults, TokenEvent } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { SamplingParams } from '../kernels/sample.ts';
import { CachedSequence } from './cached-sequence.ts';
import { encodeInput } from './chat-prompt.ts';
import { generationDefaults, resolveSampling } from './generation-config.ts';
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
   * Runs ids at positions pos .. pos + ids.length - 1 (positions before pos hold what was fed before) and returns the
   * id sampled from the last position's logits. With `signal`, a long prefill yields between its chunks and stops
   * (EngineError 'cancelled') once it is aborted.
   */
  prefill(ids: readonly number[], pos: number, sample: SamplingParams, signal?: AbortSignal): Promise<number>;
  /** Runs one id at position pos and returns the id sampled from its logits. */
  step(id: number, pos: number, sample: SamplingParams): Promise<number>;
  /**
   * Optional: runs, at position pos, the id the model's previous forward sampled without the caller handing it over,
   * submitted at once; the promise gives this step's sampled id. generate() then queues step n + 1 before awaiting step
   * n's id, so the GPU does not wait for the CPU between tokens (not with a repetition penalty: its ids so far must
   * include step n's before step n + 1 samples).
   */
  queueStep?(pos: number, sample: SamplingParams): Promise<number>;
}

export interface GenerateHooks {
  signal?: AbortSignal;
  /** Milliseconds clock (performance.now by default; tests pass a fake one). */
  now?: () => number;
  /** What the model's KV cache holds, kept across calls (default: a fresh one, so nothing is reused). */
  sequence?: CachedSequence;
  /** The model's defaults (default: generation_config's absent: greedy, HF's defaults, the tokenizer's EOS ids). */
  defaults?: GenerationDefaults;
}

/**
 * Generates from `input`, calling onToken once per sampled token (its text may be '' while a character is incomplete
 * or while the text could still be the start of a stop string) and once more at the end if held text remains.
 * EOS is not shown; a stop string and whatever follows it are cut from the text. Cancellation through the signal
 * ends it with stopReason 'cancelled' (not an error); the model's own errors propagate (and the sequence is
 * forgotten). The prompt's ids that `sequence` already holds at the same positions are not prefilled again (the
 * last prompt id always is: its logits give the first token). `opts` and `input` are checked at the API boundary
 * (workers/validate-request.ts) before they reach this; the options are resolved against the model's defaults here.
 * Work before the prefill is bounded by the context, not by the input (chat-prompt.ts, prompt-bound.ts).
 *
 * Stats: promptTokens counts the prompt's ids (BOS and chat template included), reusedTokens those taken from the
 * cache; generatedTokens counts every id the model sampled (an EOS too); ttftMs runs from the call to the first
 * sampled id (tokenisation included); prefillTokPerS = prefilled ids / prefill time; decodeTokPerS = step() calls /
 * time from the first id to the last.
 */
export async function generate(
  model: TokenModel,
  tokenizer: Tokenizer,
  input: string | readonly ChatMessage[],
  opts: GenerateOptions,
  onToken: (e: TokenEvent) => void,
  hooks: GenerateHooks = {},
): Promise<GenerateStats> {
  const { signal, now = () => performance.now() } = hooks;
  const sequence = hooks.sequence ?? new CachedSequence();
  const defaults = hooks.defaults ?? generationDefaults(null, tokenizer.eosIds);
  const t0 = now();
  const ids = encodeInput(tokenizer, input, opts.chat ?? false, model.contextLength);
  if (ids.length === 0) throw new EngineError('bad-input', 'the prompt is empty', { setting: 'prompt' });
  // Without a limit, generation goes on until the context is full: the last id sampled needs no position.
  const used = resolveSampling(opts, defaults, model.contextLength - ids.length + 1);

  // The cache's common prefix with the prompt is kept; at least the last prompt id is run again for its logits.
  const reused = Math.min(sequence.commonPrefix(ids), ids.length - 1);
  const stats: GenerateStats = {
    promptTokens: ids.length,
    reusedTokens: reused,
    generatedTokens: 0,
    ttftMs: 0,
    prefillTokPerS: 0,
    decodeTokPerS: 0,
    stopReason: 'cancelled',
    sampling: used,
  };
  if (signal?.aborted) return { ...stats, reusedTokens: 0 };

  const rng = new Mulberry32(used.seed);
  const penalty = used.repetitionPenalty === 1 ? undefined : { penalty: used.repetitionPenalty, seen: sequence.seen };
  const params = (): SamplingParams => ({
    temperature: used.temperature,
    topK: used.topK,
    topP: used.topP,
    u: rng.nextUniform(),
    repetitionPenalty: penalty,
  });
  const eos = new Set(defaults.eosIds);
  const decoder = new StreamDecoder(tokenizer);
  const stops = new StopStringFilter(opts.stop ?? []);

  if (reused === 0) model.reset();
  sequence.truncate(reused);
  const fresh = ids.slice(reused);
  // The sequence holds the whole prompt while the first token is sampled (the repetition penalty reads it).
  sequence.push(fresh);
  const prefillStart = now();
  let next: number;
  try {
    next = await model.prefill(fresh, reused, params(), signal);
  } catch (e) {
    if (signal?.aborted) {
      // Stopped during the prefill: 'cancelled', nothing generated. Positions before `reused` were not written.
      sequence.truncate(reused);
      return stats;
    }
    sequence.clear();
    throw e;
  }
  const firstAt = now();
  stats.generatedTokens = 1;
  stats.ttftMs = firstAt - t0;
  stats.prefillTokPerS = rate(fresh.length, firstAt - prefillStart);

  let steps = 0;
  let reason: GenerateStats['stopReason'];
  // With queueStep (and no repetition penalty), the step after `next` is already running while `next` is looked at
  // (one step ahead); when the text stops there, that step's id is never used (its promise is dropped after the GPU
  // finishes it) and the cache position it wrote is past what `sequence` says the cache holds.
  const queued = model.queueStep && !penalty ? model.queueStep.bind(model) : null;
  let ahead: Promise<number> | null = null;
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
      // `next` would go in at the position after the prompt and the ids generated before it.
      const pos = ids.length + stats.generatedTokens - 1;
      if (pos >= model.contextLength) {
        reason = 'context-full';
        break;
      }
      if (stats.generatedTokens >= used.maxTokens) {
        reason = 'max-tokens';
        break;
      }
      if (signal?.aborted) {
        reason = 'cancelled';
        break;
      }
      sequence.push([next]);
      try {
        if (queued) {
          // `next` is on the GPU already (the previous forward sampled it): queue its step if not yet, and the next
          const current = ahead ?? queued(pos, params());
          const more = pos + 1 < model.contextLength && stats.generatedTokens + 1 < used.maxTokens;
          ahead = more ? queued(pos + 1, params()) : null;
          next = await current;
        } else {
          next = await model.step(next, pos, params());
        }
      } catch (e) {
        sequence.clear();
        throw e;
      }
      stats.generatedTokens++;
      steps++;
    }
  } finally {
    void ahead?.catch(() => {});
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

function rate(tokens: number, ms: number): number {
  return tokens > 0 && ms > 0 ? (tokens * 1000) / ms : 0;
}
