// The API boundary's validation layer: each bad value of a load request or of generation options is refused with
// 'bad-input' naming its key, and the engine refuses it before any request is sent or any GPU work is done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateOptions, LoadRequest } from './api.ts';
import { Engine } from './engine.ts';
import { EngineError } from './errors.ts';
import { serveDir, type ServeDirHandle } from './testing/http-server.ts';
import { validateGenerateOptions, validateInput, validateLoadRequest, validatePrompt } from './validate-request.ts';

const req: LoadRequest = { model: 'kjv-llama/', strategy: 'streamed' };
const opts: GenerateOptions = { maxTokens: 8, temperature: 0, topK: 0, topP: 1, seed: 0, stop: [], chat: false };

function refusal(f: () => unknown): EngineError {
  let e: unknown;
  try {
    f();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(EngineError);
  expect((e as EngineError).code).toBe('bad-input');
  return e as EngineError;
}

const BAD_LOADS: [string, Record<string, unknown>, string][] = [
  ['contextLength 0', { contextLength: 0 }, 'contextLength'],
  ['contextLength fractional', { contextLength: 100.5 }, 'contextLength'],
  ['contextLength negative', { contextLength: -128 }, 'contextLength'],
  ['contextLength NaN', { contextLength: Number.NaN }, 'contextLength'],
  ['contextLength a string', { contextLength: '2048' }, 'contextLength'],
  ['contextLength Infinity', { contextLength: Infinity }, 'contextLength'],
  ['int8Threshold NaN', { strategy: 'streamed-int8', int8Threshold: Number.NaN }, 'int8Threshold'],
  ['int8Threshold negative', { strategy: 'streamed-int8', int8Threshold: -1 }, 'int8Threshold'],
  ['strategy unknown', { strategy: 'turbo' }, 'strategy'],
  ['strategy missing', { strategy: undefined }, 'strategy'],
  ['vramBudgetBytes NaN', { vramBudgetBytes: Number.NaN }, 'vramBudgetBytes'],
  ['vramBudgetBytes negative', { vramBudgetBytes: -1 }, 'vramBudgetBytes'],
  ['vramBudgetBytes a string', { vramBudgetBytes: '1e9' }, 'vramBudgetBytes'],
  ['int8LmHead a string', { int8LmHead: 'yes' }, 'int8LmHead'],
  ['cache unknown', { cache: 'sometimes' }, 'cache'],
  ['model empty', { model: '   ' }, 'model'],
  ['model not a string', { model: 42 }, 'model'],
  ['hfToken not a string', { hfToken: 42 }, 'hfToken'],
  ['hfToken too long', { hfToken: 'x'.repeat(5000) }, 'hfToken'],
  ['hfToken with a space', { hfToken: 'hf_a b' }, 'hfToken'],
  ['hfToken with CR LF (a second header)', { hfToken: 'hf_a\r\nX-Evil: 1' }, 'hfToken'],
  ['hfToken empty', { hfToken: '' }, 'hfToken'],
  ['revision not a string', { revision: { branch: 'main' } }, 'revision'],
  ['baseHref not a string', { baseHref: null }, 'baseHref'],
];

const BAD_GENERATES: [string, Record<string, unknown>, string][] = [
  ['stop null', { stop: null }, 'stop'],
  ['stop a string', { stop: 'Amen' }, 'stop'],
  ['stop with an empty string', { stop: [''] }, 'stop'],
  ['stop with a number', { stop: [7] }, 'stop'],
  ['maxTokens 0', { maxTokens: 0 }, 'maxTokens'],
  ['maxTokens NaN', { maxTokens: Number.NaN }, 'maxTokens'],
  ['maxTokens fractional', { maxTokens: 2.5 }, 'maxTokens'],
  ['temperature negative', { temperature: -1 }, 'temperature'],
  ['temperature NaN', { temperature: Number.NaN }, 'temperature'],
  ['topP 0', { topP: 0 }, 'topP'],
  ['topP NaN', { topP: Number.NaN }, 'topP'],
  ['topK fractional', { topK: 1.5 }, 'topK'],
  ['seed NaN', { seed: Number.NaN }, 'seed'],
  ['chat a string', { chat: 'yes' }, 'chat'],
  ['repetitionPenalty 0', { repetitionPenalty: 0 }, 'repetitionPenalty'],
  ['repetitionPenalty NaN', { repetitionPenalty: Number.NaN }, 'repetitionPenalty'],
  ['repetitionPenalty a string', { repetitionPenalty: '1.1' }, 'repetitionPenalty'],
  ['maxTokens null', { maxTokens: null }, 'maxTokens'],
];

const BAD_INPUTS: [string, unknown, string][] = [
  ['a number', 42, 'prompt'],
  ['no messages', [], 'messages'],
  ['a message without content', [{ role: 'user' }], 'messages'],
  ['a message whose content is not a string', [{ role: 'user', content: 7 }], 'messages'],
  ['a message without a role', [{ content: 'hi' }], 'messages'],
  ['a role too long', [{ role: 'u'.repeat(65), content: 'hi' }], 'messages'],
  ['more messages than allowed', Array.from({ length: 4097 }, () => ({ role: 'user', content: 'hi' })), 'messages'],
];

describe('validateLoadRequest', () => {
  it.each(BAD_LOADS)('%s is refused by name', (_what, patch, key) => {
    const e = refusal(() => validateLoadRequest({ ...req, ...patch }));
    expect(e.details.setting).toBe(key);
    expect(e.message.startsWith(key)).toBe(true);
  });
  it('never shows a refused token in the error', () => {
    const e = refusal(() => validateLoadRequest({ ...req, hfToken: 'hf_secret value' }));
    expect(e.message).not.toContain('secret');
    expect(JSON.stringify(e.details)).not.toContain('secret');
  });

  it('passes good requests on, unknown keys included', () => {
    const good = {
      ...req,
      contextLength: 256,
      vramBudgetBytes: 1e9,
      int8Threshold: 0,
      int8LmHead: true,
      cache: 'off',
      hfToken: 'hf_x',
      revision: 'v2',
      baseHref: 'http://localhost/',
      extra: 1,
    };
    expect(validateLoadRequest(good)).toEqual(good);
    expect(() => validateLoadRequest(null)).toThrow(/request must be an object/);
  });
});

describe('validateGenerateOptions', () => {
  it.each(BAD_GENERATES)('%s is refused by name', (_what, patch, key) => {
    expect(refusal(() => validateGenerateOptions({ ...opts, ...patch })).details.setting).toBe(key);
  });
  it('passes good options on', () => {
    expect(validateGenerateOptions({ ...opts, stop: ['Amen'] })).toEqual({ ...opts, stop: ['Amen'] });
    expect(refusal(() => validatePrompt(null)).details.setting).toBe('prompt');
    // every option may be left out: the model's generation defaults fill it in
    expect(validateGenerateOptions({})).toEqual({});
    expect(validateGenerateOptions({ repetitionPenalty: 1.3 })).toEqual({ repetitionPenalty: 1.3 });
  });
});

describe('validateInput', () => {
  it.each(BAD_INPUTS)('%s is refused by name', (_what, input, key) => {
    expect(refusal(() => validateInput(input)).details.setting).toBe(key);
  });
  it('passes a prompt, and messages with only their role and content', () => {
    expect(validateInput('In the beginning')).toBe('In the beginning');
    expect(validateInput([{ role: 'user', content: 'hi', extra: 1 }])).toEqual([{ role: 'user', content: 'hi' }]);
  });
});

describe('the engine refuses them before anything else', () => {
  let server: ServeDirHandle;
  let engine: Engine;
  beforeAll(async () => {
    server = await serveDir('../shared/models');
    // no init(): a bad value is refused before the GPU is even asked for
    engine = new Engine({ gpu: () => null, baseHref: server.url });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(BAD_LOADS)('load and plan: %s, no request sent', async (_what, patch, key) => {
    const bad = { ...req, ...patch } as LoadRequest;
    await expect(engine.load(bad, () => {})).rejects.toMatchObject({ code: 'bad-input', details: { setting: key } });
    await expect(engine.plan(bad)).rejects.toMatchObject({ code: 'bad-input', details: { setting: key } });
    expect(server.log).toEqual([]);
  });

  it.each(BAD_INPUTS)('generate from %s', async (_what, input, key) => {
    await expect(engine.generate(input as string, opts, () => {})).rejects.toMatchObject({ code: 'bad-input', details: { setting: key } });
  });

  it.each(BAD_GENERATES)('generate: %s', async (_what, patch, key) => {
    await expect(engine.generate('In the beginning', { ...opts, ...patch } as GenerateOptions, () => {})).rejects.toMatchObject({
      code: 'bad-input',
      details: { setting: key },
    });
  });
});
