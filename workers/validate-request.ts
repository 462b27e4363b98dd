// The API boundary's one validation layer: every LoadRequest, GenerateOptions and prompt that reaches the engine is
// checked here, value by value, before anything is fetched, allocated or run, and a bad value is EngineError
// ('bad-input') naming its key. Values cross a worker boundary (structured clone) or come from a CLI's argv, so
// nothing about their types is assumed. config.json's values are checked where config is parsed (model/config.ts).
import { LOAD_STRATEGIES, type ChatMessage, type GenerateOptions, type LoadRequest } from './api.ts';
import { EngineError } from './errors.ts';

/** The longest context a request may ask for (the plan then checks it against the model and the device). */
export const MAX_CONTEXT_LENGTH = 1 << 24;
/** Bounds on generation options that size work or memory. */
export const MAX_GENERATE_TOKENS = 1 << 20;
export const MAX_STOP_STRINGS = 64;
export const MAX_STOP_CHARS = 1024;
/** Bounds on the strings of a load request that are not the model (a hub token, a revision, a base href). */
export const MAX_SETTING_CHARS = 4096;
/** Bounds on chat messages (their contents are bounded in tokens by generation, against the context). */
export const MAX_CHAT_MESSAGES = 4096;
export const MAX_ROLE_CHARS = 64;

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
  const { model, strategy, contextLength, vramBudgetBytes, int8Threshold, int8LmHead, cache, hfToken, revision, baseHref } = req;
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
  if (hfToken !== undefined) {
    // It goes into an Authorization header: visible ASCII only (a space, CR or LF would make fetch refuse every hub
    // request, or split the header), and the error never shows the value.
    if (typeof hfToken !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(hfToken)) {
      throw new EngineError('bad-input', 'hfToken must be a Hugging Face access token (hf_…: letters and digits, no spaces)', {
        setting: 'hfToken',
      });
    }
    out.hfToken = hfToken;
  }
  if (revision !== undefined) out.revision = settingString('revision', revision, 'a branch, tag or commit');
  if (baseHref !== undefined) out.baseHref = settingString('baseHref', baseHref, 'a URL');
  return out;
}

function settingString(setting: string, v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > MAX_SETTING_CHARS) bad(setting, `must be ${what} (a string of at most ${MAX_SETTING_CHARS} characters)`, v);
  return v;
}

/**
 * The options, checked (a copy; keys this layer does not know are passed on as they are). Every option may be left
 * out (undefined: the model's generation defaults fill it in); one that is given, null included, must be valid.
 */
export function validateGenerateOptions(opts: unknown): GenerateOptions {
  if (!isObject(opts)) bad('options', 'must be an object', opts);
  const { maxTokens, temperature, topK, topP, repetitionPenalty, seed, stop, chat } = opts;
  const out = { ...opts } as unknown as GenerateOptions;
  if (maxTokens !== undefined) out.maxTokens = wholeNumber('maxTokens', maxTokens, 1, MAX_GENERATE_TOKENS);
  if (temperature !== undefined) {
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
      bad('temperature', 'must be 0 (greedy) or more', temperature);
    }
    out.temperature = temperature;
  }
  if (topK !== undefined) out.topK = wholeNumber('topK', topK, 0, Number.MAX_SAFE_INTEGER);
  if (topP !== undefined) {
    if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) bad('topP', 'must be in (0, 1]', topP);
    out.topP = topP;
  }
  if (repetitionPenalty !== undefined) {
    if (typeof repetitionPenalty !== 'number' || !Number.isFinite(repetitionPenalty) || !(repetitionPenalty > 0)) {
      bad('repetitionPenalty', 'must be more than 0 (1 for off)', repetitionPenalty);
    }
    out.repetitionPenalty = repetitionPenalty;
  }
  if (seed !== undefined) {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) bad('seed', 'must be a whole number', seed);
    out.seed = seed;
  }
  if (stop !== undefined) {
    if (!Array.isArray(stop)) bad('stop', 'must be a list of strings ([] for none)', stop);
    if (stop.length > MAX_STOP_STRINGS) bad('stop', `may hold at most ${MAX_STOP_STRINGS} strings`, stop);
    for (const s of stop) {
      if (typeof s !== 'string' || s.length === 0 || s.length > MAX_STOP_CHARS) {
        bad('stop', `must hold non-empty strings of at most ${MAX_STOP_CHARS} characters`, s);
      }
    }
    out.stop = [...(stop as string[])];
  }
  if (chat !== undefined) {
    if (typeof chat !== 'boolean') bad('chat', 'must be true or false', chat);
    out.chat = chat;
  }
  return out;
}

/** The prompt: a string (its length in tokens is checked against the context by generation, boundedly). */
export function validatePrompt(prompt: unknown): string {
  if (typeof prompt !== 'string') bad('prompt', 'must be a string', prompt);
  return prompt;
}

/**
 * A generation's input: a prompt string, or chat messages (a non-empty list of at most MAX_CHAT_MESSAGES
 * {role, content} strings; a copy holding only those two keys).
 */
export function validateInput(input: unknown): string | ChatMessage[] {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) bad('prompt', 'must be a string, or chat messages (a list of {role, content})', input);
  if (input.length === 0 || input.length > MAX_CHAT_MESSAGES) {
    bad('messages', `must be a list of 1 to ${MAX_CHAT_MESSAGES} messages`, input.length);
  }
  return input.map((m: unknown, i) => {
    if (!isObject(m) || typeof m.content !== 'string') bad('messages', `item ${i} must be {role: string, content: string}`, m);
    const { role, content } = m;
    if (typeof role !== 'string' || role.length === 0 || role.length > MAX_ROLE_CHARS) {
      bad('messages', `item ${i}: its role must be a non-empty string of at most ${MAX_ROLE_CHARS} characters`, role);
    }
    return { role, content };
  });
}
