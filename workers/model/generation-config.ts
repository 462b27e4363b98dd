// The model's own generation defaults (generation_config.json), read as Hugging Face's GenerationConfig reads them,
// and a request's options resolved against them: what the caller gives wins, the model's file fills the rest.
import type { GenerateOptions, GenerationDefaults, SamplingUsed } from '../api.ts';
import { EngineError } from '../errors.ts';

/** transformers' GenerationConfig defaults, for the keys the file leaves out. */
const HF_DEFAULTS = { temperature: 1, topK: 50, topP: 1, repetitionPenalty: 1 } as const;

type Json = Record<string, unknown>;

function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/**
 * generation_config.json (null when the model has none) → defaults. HF samples only when do_sample is true: otherwise
 * decoding is greedy whatever temperature says (temperature 0 here). eosIds: the tokenizer's (which already unites
 * generation_config's eos_token_id, a number or a list, with tokenizer_config's eos_token).
 */
export function generationDefaults(file: Json | null, eosIds: readonly number[]): GenerationDefaults {
  const g = file ?? {};
  const maxNew = g.max_new_tokens;
  return {
    temperature: g.do_sample === true ? numberOr(g.temperature, HF_DEFAULTS.temperature) : 0,
    topK: numberOr(g.top_k, HF_DEFAULTS.topK),
    topP: numberOr(g.top_p, HF_DEFAULTS.topP),
    repetitionPenalty: numberOr(g.repetition_penalty, HF_DEFAULTS.repetitionPenalty),
    maxTokens: typeof maxNew === 'number' && Number.isInteger(maxNew) && maxNew > 0 ? maxNew : null,
    eosIds: [...eosIds],
  };
}

/** A random seed for a request that gives none (reported back in the stats, so the run can be repeated). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * The settings a generation uses: each option the caller gives, else the model's default; maxTokens defaults to
 * max_new_tokens, else `room` (how many ids can be sampled before the context is full). Throws EngineError('bad-input') naming the setting
 * that is out of range.
 */
export function resolveSampling(o: GenerateOptions, d: GenerationDefaults, room: number, seed = randomSeed): SamplingUsed {
  const used: SamplingUsed = {
    maxTokens: o.maxTokens ?? d.maxTokens ?? Math.max(1, room),
    temperature: o.temperature ?? d.temperature,
    topK: o.topK ?? d.topK,
    topP: o.topP ?? d.topP,
    repetitionPenalty: o.repetitionPenalty ?? d.repetitionPenalty,
    seed: o.seed ?? seed(),
  };
  const bad = (setting: string, why: string): never => {
    throw new EngineError('bad-input', `${setting} ${why}`, { setting });
  };
  if (!Number.isInteger(used.maxTokens) || used.maxTokens < 1) bad('maxTokens', 'must be a whole number of at least 1');
  if (!(used.temperature >= 0) || !Number.isFinite(used.temperature)) bad('temperature', 'must be 0 (greedy) or more');
  if (!Number.isInteger(used.topK) || used.topK < 0) bad('topK', 'must be a whole number, 0 for off');
  if (!(used.topP > 0 && used.topP <= 1)) bad('topP', 'must be in (0, 1]');
  if (!(used.repetitionPenalty > 0) || !Number.isFinite(used.repetitionPenalty)) {
    bad('repetitionPenalty', 'must be more than 0 (1 for off)');
  }
  if (!Number.isInteger(used.seed)) bad('seed', 'must be a whole number');
  if (o.stop !== undefined && (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string'))) {
    bad('stop', 'must be a list of strings');
  }
  return used;
}
