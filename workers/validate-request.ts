// The API boundary's one validation layer: every LoadRequest, GenerateOptions and prompt that reaches the engine is
// checked here, value by value, before anything is fetched, allocated or run, and a bad value is EngineError
// ('bad-input') naming its key. Values cross a worker boundary (structured clone) or come from a CLI's argv, so
// nothing about their types is assumed. config.json's values are checked where config is parsed (model/config.ts).
import { LOAD_STRATEGIES, type GenerateOptions, type LoadRequest } from './api.ts';
import { EngineError } from './errors.ts';

/** The longest context a request may ask for (the plan then checks it against the model and the device). */
export const MAX_CONTEXT_LENGTH = 1 << 24;
/** Bounds on generation options that size work or memory. */
export const MAX_GENERATE_TOKENS = 1 << 20;
export const MAX_STOP_STRINGS = 64;
export const MAX_STOP_CHARS = 1024;

function bad(setting: string, why: string, value: unknown): never {
  let shown: string;
  try {
    shown = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = String(value);
  }
  if (shown.length > 80) shown = shown.slice(0, 77) + '...';
  throw new EngineError('bad-input', `${setting} ${why} (got ${shown})`, { setting });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function wholeNumber(setting: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(setting, `must be a whole number from ${min} to ${max}`, v);
  }
  return v;
}

/** The request, checked (a copy; keys this layer does not know are passed on as they are). */
export function validateLoadRequest(req: unknown): LoadRequest {
  if (!isObject(req)) bad('request', 'must be an object', req);
  const { model, strategy, contextLength, vramBudgetBytes, int8Threshold, int8LmHead, cache } = req;
  if (typeof model !== 'string' || model.trim() === '') bad('model', 'must name a model (a URL, a path or an org/name id)', model);
  if (model.length > 4096) bad('model', 'is longer than 4096 characters', model);
  if (typeof strategy !== 'string' || !(LOAD_STRATEGIES as readonly string[]).includes(strategy)) {
    bad('strategy', `must be one of ${LOAD_STRATEGIES.join(', ')}`, strategy);
  }
  const out: LoadRequest = { ...(req as unknown as LoadRequest), model, strategy: strategy as LoadRequest['strategy'] };
  if (contextLength !== undefined) out.contextLength = wholeNumber('contextLength', contextLength, 1, MAX_CONTEXT_LENGTH);
  if (vramBudgetBytes !== undefined) {
    if (typeof vramBudgetBytes !== 'number' || !Number.isFinite(vramBudgetBytes) || vramBudgetBytes <= 0) {
      bad('vramBudgetBytes', 'must be a number of bytes above 0', vramBudgetBytes);
    }
    out.vramBudgetBytes = vramBudgetBytes;
  }
  if (int8Threshold !== undefined) {
    if (typeof int8Threshold !== 'number' || !Number.isFinite(int8Threshold) || int8Threshold < 0) {
      bad('int8Threshold', 'must be a number of at least 0 (0 turns the outlier decomposition off)', int8Threshold);
    }
    out.int8Threshold = int8Threshold;
  }
  if (int8LmHead !== undefined) {
    if (typeof int8LmHead !== 'boolean') bad('int8LmHead', 'must be true or false', int8LmHead);
    out.int8LmHead = int8LmHead;
  }
  if (cache !== undefined) {
    if (cache !== 'use' && cache !== 'off') bad('cache', "must be 'use' or 'off'", cache);
    out.cache = cache;
  }
  return out;
}

/** The options, checked (a copy; keys this layer does not know are passed on as they are). */
export function validateGenerateOptions(opts: unknown): GenerateOptions {
  if (!isObject(opts)) bad('options', 'must be an object', opts);
  const { maxTokens, temperature, topK, topP, seed, stop, chat } = opts;
  const out = { ...opts } as unknown as GenerateOptions;
  out.maxTokens = wholeNumber('maxTokens', maxTokens, 1, MAX_GENERATE_TOKENS);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
    bad('temperature', 'must be 0 (greedy) or more', temperature);
  }
  out.temperature = temperature;
  out.topK = wholeNumber('topK', topK, 0, Number.MAX_SAFE_INTEGER);
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) bad('topP', 'must be in (0, 1]', topP);
  out.topP = topP;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) bad('seed', 'must be a whole number', seed);
  out.seed = seed;
  if (!Array.isArray(stop)) bad('stop', 'must be a list of strings ([] for none)', stop);
  if (stop.length > MAX_STOP_STRINGS) bad('stop', `may hold at most ${MAX_STOP_STRINGS} strings`, stop);
  for (const s of stop) {
    if (typeof s !== 'string' || s.length === 0 || s.length > MAX_STOP_CHARS) {
      bad('stop', `must hold non-empty strings of at most ${MAX_STOP_CHARS} characters`, s);
    }
  }
  out.stop = [...(stop as string[])];
  if (typeof chat !== 'boolean') bad('chat', 'must be true or false', chat);
  out.chat = chat;
  return out;
}

/** The prompt: a string (its length in tokens is checked against the context by generation, boundedly). */
export function validatePrompt(prompt: unknown): string {
  if (typeof prompt !== 'string') bad('prompt', 'must be a string', prompt);
  return prompt;
}
