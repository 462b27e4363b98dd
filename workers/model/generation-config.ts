// The model's own generation defaults (generation_config.json), read as Hugging Face's GenerationConfig reads them,
// and a request's options resolved against them: what the caller gives wins, the model's file fills the rest.
import type { GenerateOptions, GenerationDefaults, SamplingUsed } from '../api.ts';
import { EngineError } from '../errors.ts';

/** transformers' GenerationConfig defaults, for the keys the file leaves out. */
const HF_DEFAULTS = { temperature: 1, topK: 50, topP: 1, repetitionPenalty: 1 } as const;

type Json = Record<string, unknown>;

/**
 * What each sampling key of generation_config.json must be when given (absent and null mean "not given"), as the
 * engine (and transformers' logits processors) can run it. A value of the wrong type or out of range is not taken as
 * the model's default: transformers' default stands in its place, and a note names the file, the key and the value
 * (the load's notes), so neither the load nor a later request that leaves the setting out fails over a file of
 * defaults the person cannot change.
 */
const RULES: Record<string, { ok: (v: number) => boolean; what: string }> = {
  temperature: { ok: (v) => v >= 0, what: 'a number of 0 or more' },
  top_k: { ok: (v) => Number.isInteger(v) && v >= 0, what: 'a whole number of 0 or more (0: off)' },
  top_p: { ok: (v) => v > 0 && v <= 1, what: 'a number in (0, 1]' },
  repetition_penalty: { ok: (v) => v > 0, what: 'a number more than 0 (1: off)' },
  max_new_tokens: { ok: (v) => Number.isInteger(v) && v >= 1, what: 'a whole number of at least 1' },
};

function ignored(key: string, what: string, v: unknown, fallback: string): string {
  return `generation_config.json: '${key}' is ${JSON.stringify(v)}, not ${what}: ignored (${fallback})`;
}

/** A sampling key's value, checked (see RULES); `fallback` when not given or not usable (noted in `notes`). */
function setting(g: Json, key: string, fallback: number, notes: string[]): number;
function setting(g: Json, key: string, fallback: null, notes: string[]): number | null;
function setting(g: Json, key: string, fallback: number | null, notes: string[]): number | null {
  const v = g[key];
  if (v === undefined || v === null) return fallback;
  const rule = RULES[key];
  if (typeof v === 'number' && Number.isFinite(v) && rule.ok(v)) return v;
  notes.push(ignored(key, rule.what, v, fallback === null ? 'no default' : `${fallback} is used`));
  return fallback;
}

/**
 * generation_config.json (null when the model has none) → defaults, and a note for each value not taken (see RULES).
 * HF samples only when do_sample is true: otherwise decoding is greedy whatever temperature says (temperature 0
 * here). eosIds: the tokenizer's (which already unites generation_config's eos_token_id, a number or a list, with
 * tokenizer_config's eos_token).
 */
export function readGenerationDefaults(file: Json | null, eosIds: readonly number[]): { defaults: GenerationDefaults; notes: string[] } {
  const g = file ?? {};
  const notes: string[] = [];
  let sample = g.do_sample === true;
  if (g.do_sample !== undefined && g.do_sample !== null && typeof g.do_sample !== 'boolean') {
    notes.push(ignored('do_sample', 'true or false', g.do_sample, 'greedy decoding'));
    sample = false;
  }
  const temperature = setting(g, 'temperature', HF_DEFAULTS.temperature, notes);
  const defaults: GenerationDefaults = {
    temperature: sample ? temperature : 0,
    topK: setting(g, 'top_k', HF_DEFAULTS.topK, notes),
    topP: setting(g, 'top_p', HF_DEFAULTS.topP, notes),
    repetitionPenalty: setting(g, 'repetition_penalty', HF_DEFAULTS.repetitionPenalty, notes),
    maxTokens: setting(g, 'max_new_tokens', null, notes),
    eosIds: [...eosIds],
  };
  return { defaults, notes };
}

/** readGenerationDefaults' defaults alone. */
export function generationDefaults(file: Json | null, eosIds: readonly number[]): GenerationDefaults {
  return readGenerationDefaults(file, eosIds).defaults;
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
