import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { openModelSource, resolveModelBase } from './source.ts';

describe('resolveModelBase', () => {
  const page = 'https://app.example/chat/index.html';
  it.each([
    ['org/name', 'https://huggingface.co/org/name/resolve/main/'],
    ['hf:org/name', 'https://huggingface.co/org/name/resolve/main/'],
    ['https://huggingface.co/org/name', 'https://huggingface.co/org/name/resolve/main/'],
    ['https://huggingface.co/org/name/tree/v2', 'https://huggingface.co/org/name/resolve/v2/'],
    ['https://huggingface.co/org/name/resolve/main/config.json', 'https://huggingface.co/org/name/resolve/main/'],
    ['https://huggingface.co/org/name/blob/abc123/model.safetensors', 'https://huggingface.co/org/name/resolve/abc123/'],
    ['https://cdn.example/models/tiny', 'https://cdn.example/models/tiny/'],
    ['/models/kjv-llama', 'https://app.example/models/kjv-llama/'],
    ['models/kjv-llama/', 'https://app.example/chat/models/kjv-llama/'],
    ['./models/kjv-llama', 'https://app.example/chat/models/kjv-llama/'],
  ])('%s → %s', (input, want) => expect(resolveModelBase(input, page)).toBe(want));
  it('a revision replaces main for hub ids and hub URLs (quoted into one segment), and must agree with one the URL names', () => {
    expect(resolveModelBase('org/name', page, 'v2.0')).toBe('https://huggingface.co/org/name/resolve/v2.0/');
    expect(resolveModelBase('org/name', page, 'refs/pr/1')).toBe('https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/');
    expect(resolveModelBase('https://huggingface.co/org/name', page, 'abc123')).toBe('https://huggingface.co/org/name/resolve/abc123/');
    expect(resolveModelBase('https://huggingface.co/org/name/tree/abc123', page, 'abc123')).toBe('https://huggingface.co/org/name/resolve/abc123/');
    expect(resolveModelBase('https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/x.json', page, 'refs/pr/1')).toBe(
      'https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/',
    );
    expect(resolveModelBase('org/name', page, '  ')).toBe('https://huggingface.co/org/name/resolve/main/');
    expect(() => resolveModelBase('https://huggingface.co/org/name/tree/v1', page, 'v2')).toThrow(/names revision 'v1'/);
    expect(() => resolveModelBase('models/kjv-llama/', page, 'v2')).toThrow(/hub models only/);
    expect(() => resolveModelBase('https://cdn.example/m/', page, 'v2')).toThrow(/hub models only/);
  });

  it('refuses empty input, datasets, and relative paths without a page', () => {
    expect(() => resolveModelBase('  ', page)).toThrow(/no model/);
    expect(() => resolveModelBase('https://huggingface.co/datasets/x/y', page)).toThrow(/not a model/);
    expect(() => resolveModelBase('/models/x', undefined)).toThrow(/relative path/);
  });
});

describe('openModelSource', () => {
  let server: ServeDirHandle;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'src-test-'));
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 8}');
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {}}');
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'm-1.safetensors', b: 'm-2.safetensors', c: 'm-1.safetensors' } }));
    server = await serveDir(dir);
  });
  afterAll(() => server.close());

  it('reads config, optional files, and the shard list from the index', async () => {
    const s = await openModelSource(server.url, { retries: 0 });
    expect(s.config).toEqual({ hidden_size: 8 });
    expect(s.tokenizer).toEqual({ model: {} });
    expect(s.generationConfig).toBeNull();
    expect(s.weightFiles).toEqual([server.url + 'm-1.safetensors', server.url + 'm-2.safetensors']);
    expect(s.weightMap!.get('b')).toBe(server.url + 'm-2.safetensors');
  });

  it('a missing config.json is an http error naming it; 403 likewise', async () => {
    const e = await openModelSource(server.url + 'nothing/', { retries: 0 }).catch((e) => e);
    expect(e.details).toMatchObject({ status: 404, file: server.url + 'nothing/config.json' });
    server.misbehave = { statusByPath: { 'config.json': 403 } };
    const f = await openModelSource(server.url, { retries: 0 }).catch((e) => e);
    expect([f.code, f.details.status]).toEqual(['http', 403]);
    server.misbehave = {};
  });
});
