import { describe, expect, it } from 'vitest';
import { EngineError, type EngineErrorCode } from '../workers/errors.ts';
import { describeError, inputError } from './error-messages.ts';

const CODES: EngineErrorCode[] = ['no-webgpu', 'device-lost', 'out-of-memory', 'will-not-fit', 'network', 'cors', 'http', 'bad-file', 'unsupported', 'cancelled', 'bad-input', 'storage', 'offline', 'internal'];

describe('describeError', () => {
  it('gives every code a title and (except cancel) next steps, keeping the engine message as detail', () => {
    for (const code of CODES) {
      const u = describeError(new EngineError(code, `engine says ${code}`), 'load');
      expect(u.code).toBe(code);
      expect(u.title.length, code).toBeGreaterThan(5);
      expect(u.detail).toBe(`engine says ${code}`);
      if (code !== 'cancelled') expect(u.nextSteps.length, code).toBeGreaterThan(0);
    }
  });
  it('says what to do for the common failures', () => {
    expect(describeError(new EngineError('cors', 'x'), 'load').nextSteps.join(' ')).toMatch(/Access-Control-Allow-Origin/);
    expect(describeError(new EngineError('out-of-memory', 'x'), 'load').nextSteps.join(' ')).toMatch(/streamed-int8/);
    expect(describeError(new EngineError('no-webgpu', 'x'), 'gpu').nextSteps.join(' ')).toMatch(/Chrome/);
    expect(describeError(new EngineError('unsupported', 'x'), 'load').title).toMatch(/not supported/);
    expect(describeError(new EngineError('network', 'x', { file: 'config.json' }), 'load').nextSteps.join(' ')).toMatch(/config\.json/);
  });
  it('says which file an offline load lacks and how to keep a model for offline use', () => {
    const u = describeError(new EngineError('offline', 'x', { file: 'http://h/models/m/model.safetensors' }), 'load');
    expect(u.title).toMatch(/network could not be reached.*model\.safetensors/);
    expect(u.nextSteps.join(' ')).toMatch(/load the model once/);
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
