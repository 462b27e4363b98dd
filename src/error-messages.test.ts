import { describe, expect, it } from 'vitest';
import { EngineError } from '../workers/errors.ts';
import { describeError, ERROR_CODES, inputError } from './error-messages.ts';

describe('describeError', () => {
  it('gives every code a title and (except cancel) next steps, keeping the engine message as detail', () => {
    expect(ERROR_CODES).toHaveLength(17);
    for (const code of ERROR_CODES) {
      const u = describeError(new EngineError(code, `engine says ${code}`), 'load');
      expect(u.code).toBe(code);
      expect(u.title.length, code).toBeGreaterThan(5);
      expect(u.detail).toBe(`engine says ${code}`);
      if (code !== 'cancelled') expect(u.nextSteps.length, code).toBeGreaterThan(0);
    }
  });

  it('each code has its own words: no two codes share a title or next steps', () => {
    const worded = ERROR_CODES.map((code) => describeError(new EngineError(code, 'x'), 'load'));
    const titles = worded.map((u) => u.title);
    expect(new Set(titles).size, titles.join(' | ')).toBe(ERROR_CODES.length);
    const steps = worded.filter((u) => u.code !== 'cancelled').map((u) => u.nextSteps.join(' '));
    expect(new Set(steps).size).toBe(steps.length);
    // and the variants within a code differ from each other as well
    const variants = [
      new EngineError('bad-file', 'x', { file: 'https://h/m/tokenizer.json', missing: true }),
      new EngineError('bad-file', 'x', { file: 'https://h/m/model.safetensors', mismatch: 'sha256' }),
      new EngineError('bad-file', 'x', { file: 'https://h/m/model.safetensors' }),
      new EngineError('offline', 'x', { file: 'https://huggingface.co/o/n/resolve/main/config.json', model: 'https://huggingface.co/o/n/resolve/main/', kept: false }),
      new EngineError('offline', 'x', { file: 'https://h/m/model.safetensors', model: 'https://h/m/', kept: true }),
      new EngineError('cors', 'x', { file: 'https://huggingface.co/o/n/resolve/main/config.json' }),
      new EngineError('cors', 'x', { file: 'https://example.org/m/config.json' }),
      new EngineError('http', 'x', { status: 404 }),
      new EngineError('http', 'x', { status: 403 }),
      new EngineError('http', 'x', { status: 429 }),
      new EngineError('http', 'x', { status: 500 }),
    ].map((e) => describeError(e, 'load'));
    // (one cause, one title: the hub unreachable reads the same whether fetch called it offline or CORS)
    expect(variants[3].title).toBe(variants[5].title);
    expect(new Set(variants.map((u) => u.title)).size).toBe(variants.length - 1);
    expect(new Set(variants.map((u) => u.nextSteps.join(' '))).size).toBe(variants.length);
  });

  it('says what to do for the common failures', () => {
    expect(describeError(new EngineError('cors', 'x', { file: 'https://example.org/m/config.json' }), 'load')).toMatchObject({
      title: 'The browser blocked the download from example.org (CORS)',
      nextSteps: [expect.stringMatching(/Access-Control-Allow-Origin/), expect.any(String)],
    });
    expect(describeError(new EngineError('out-of-memory', 'x'), 'load').nextSteps.join(' ')).toMatch(/streamed-int8/);
    expect(describeError(new EngineError('no-webgpu', 'x'), 'gpu').nextSteps.join(' ')).toMatch(/Chrome/);
    expect(describeError(new EngineError('unsupported', 'x'), 'load').title).toMatch(/not supported/);
    expect(describeError(new EngineError('unsupported', 'x'), 'load').nextSteps.join(' ')).toMatch(/Gemma 2.*Phi-3.*Granite 3/);
    const template = describeError(new EngineError('bad-input', 'chat template: System role not supported', { setting: 'chat_template' }), 'generate');
    expect(template).toMatchObject({ title: expect.stringMatching(/chat template refused/), detail: 'chat template: System role not supported' });
    expect(describeError(new EngineError('network', 'x', { file: 'config.json' }), 'load').nextSteps.join(' ')).toMatch(/config\.json/);
  });

  it('a folder without tokenizer.json: names the file and says the folder needs it', () => {
    const u = describeError(new EngineError('bad-file', 'x', { file: 'http://h/models/m/tokenizer.json', missing: true }), 'load');
    expect(u.title).toBe('The model folder has no tokenizer.json');
    expect(u.nextSteps.join(' ')).toMatch(/needs tokenizer\.json in the model folder/);
    expect(u.nextSteps.join(' ')).not.toMatch(/try loading again/i);
  });

  it('a hub model with no network: the hub could not be reached (not the cache, not CORS)', () => {
    const hub = 'https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/';
    const offline = describeError(new EngineError('offline', 'x', { file: `${hub}config.json`, model: hub, kept: false }), 'load');
    expect(offline.title).toBe('The Hugging Face hub could not be reached');
    expect(offline.nextSteps[0]).toMatch(/internet connection/);
    const cors = describeError(new EngineError('cors', 'x', { file: `${hub}config.json` }), 'load');
    expect(cors.title).toBe('The Hugging Face hub could not be reached');
    expect(cors.title).not.toMatch(/CORS/);
  });

  it('says which file an offline load lacks and how to keep a model for offline use', () => {
    const u = describeError(new EngineError('offline', 'x', { file: 'http://h/models/m/model.safetensors', kept: true }), 'load');
    expect(u.title).toMatch(/network could not be reached.*model\.safetensors/);
    expect(u.nextSteps.join(' ')).toMatch(/load the model once/);
  });
  it('says what happened for a changed file, a bad config value, a redirect loop, a stall and a removed cache', () => {
    expect(describeError(new EngineError('file-changed', 'x', { file: 'http://h/m/model.safetensors' }), 'load').title).toMatch(/changed on the server.*model\.safetensors/);
    expect(describeError(new EngineError('bad-config', 'x', { setting: 'rope_theta' }), 'load').nextSteps.join(' ')).toMatch(/rope_theta/);
    expect(describeError(new EngineError('bad-config', 'x', { setting: 'rope_theta' }), 'load').title).toMatch(/config\.json holds a value/);
    expect(describeError(new EngineError('bad-config', 'x', { file: 'generation_config.json', setting: 'top_k' }), 'load').title).toMatch(/generation_config\.json holds a value/);
    expect(describeError(new EngineError('network', 'x', { redirect: true }), 'load').title).toMatch(/redirects/);
    expect(describeError(new EngineError('network', 'x', { stalled: true }), 'load').title).toMatch(/stopped sending/);
    expect(describeError(new EngineError('storage', 'x', { reason: 'removed' }), 'load').title).toMatch(/cache was removed/);
  });
  it('maps HTTP status to a cause', () => {
    expect(describeError(new EngineError('http', 'x', { status: 404, file: 'model.safetensors' }), 'load').title).toMatch(/not found.*model\.safetensors/);
    expect(describeError(new EngineError('http', 'x', { status: 403 }), 'load').nextSteps.join(' ')).toMatch(/gated/);
    expect(describeError(new EngineError('http', 'x', { status: 500 }), 'load').title).toMatch(/HTTP 500/);
  });

  it('treats plain errors as internal and AbortError as a cancel', () => {
    expect(describeError(new Error('boom'), 'generate')).toMatchObject({ code: 'internal', detail: 'boom', title: 'Generating failed unexpectedly' });
    expect(describeError(new DOMException('aborted', 'AbortError'), 'load').code).toBe('cancelled');
    expect(describeError('a string', 'plan').detail).toBe('a string');
  });

  it('input errors point at the URL forms', () => {
    expect(inputError('bad').nextSteps[0]).toMatch(/models\/kjv-llama\//);
  });
});
