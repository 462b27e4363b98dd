import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { openModelSource, resolveModelBase, shardUrl, SMALL_FILE_LIMITS } from './source.ts';

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

describe('shard names from the index stay in the model folder', () => {
  const base = 'https://models.example/org/m/';
  it.each([
    ['model-00001-of-00002.safetensors', 'https://models.example/org/m/model-00001-of-00002.safetensors'],
    ['sub/dir/x.safetensors', 'https://models.example/org/m/sub/dir/x.safetensors'],
    ['./x.safetensors', 'https://models.example/org/m/x.safetensors'],
    ['a%20b.safetensors', 'https://models.example/org/m/a%20b.safetensors'],
  ])('%s → %s', (name, want) => expect(shardUrl(base, name, 't')).toBe(want));

  it.each([
    '\\\\host:9000\\m\\model.safetensors',
    '%2e%2e/%2e%2e/x.safetensors',
    '%2E%2E%2Fx.safetensors',
    '\\x.safetensors',
    '/x.safetensors',
    '%2fx.safetensors',
    '//evil.example/x.safetensors',
    'https://evil.example/x.safetensors',
    'a/../../x.safetensors',
    'a//x.safetensors',
    '..',
    'x.safetensors?y=1',
    'x.safetensors#frag',
    'C:x.safetensors',
    'x\u0000.safetensors',
    '%zz.safetensors',
    '',
  ])('refuses %j by name', (name) => {
    let e: unknown;
    try {
      shardUrl(base, name, 'model.layers.0.mlp.up_proj.weight');
    } catch (x) {
      e = x;
    }
    expect(e).toMatchObject({ code: 'bad-file', details: { tensor: 'model.layers.0.mlp.up_proj.weight', file: base + 'model.safetensors.index.json' } });
    expect((e as Error).message).toContain(JSON.stringify(name));
  });

  it('refuses a name that is not a string', () => {
    expect(() => shardUrl(base, 7, 't')).toThrow(/not a file name/);
  });

  it('an index naming a shard outside the folder fails the open, before any request for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'src-hostile-'));
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '%2e%2e/%2e%2e/x.safetensors' } }));
    const server = await serveDir(dir);
    try {
      const f = await openModelSource(server.url, { retries: 0 }).catch((x: unknown) => x);
      expect(f).toMatchObject({ code: 'bad-file', details: { tensor: 'a' } });
      expect(server.log.some((l) => l.path.endsWith('x.safetensors'))).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('an index whose weight_map is a list is refused by name, not read as tensors named 0, 1, …', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'src-list-'));
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: ['model.safetensors'] }));
    const server = await serveDir(dir);
    try {
      const f = await openModelSource(server.url, { retries: 0 }).catch((x: unknown) => x);
      expect(f).toMatchObject({ code: 'bad-file', message: 'model.safetensors.index.json has no weight_map' });
    } finally {
      await server.close();
    }
  });
});

describe('small files are bounded before they are read whole', () => {
  it('a config.json past its limit is refused by its size, without downloading it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'src-big-'));
    writeFileSync(join(dir, 'config.json'), '{"a": "' + 'x'.repeat(SMALL_FILE_LIMITS['config.json']) + '"}');
    const server = await serveDir(dir);
    try {
      const e = await openModelSource(server.url, { retries: 0 }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'bad-file', details: { file: server.url + 'config.json' } });
      expect((e as Error).message).toMatch(/config\.json is \d+ bytes or more, more than the 4194304/);
      await new Promise((r) => setTimeout(r, 50));
      expect(server.log[0].bytesSent).toBeLessThan(SMALL_FILE_LIMITS['config.json']);
    } finally {
      await server.close();
    }
  });

  it('an index listing more tensors than a checkpoint may hold is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'src-index-'));
    writeFileSync(join(dir, 'config.json'), '{}');
    const wm = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`t${i}`, 'model.safetensors']));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: wm }));
    const server = await serveDir(dir);
    try {
      const e = await openModelSource(server.url, { retries: 0 }).catch((x: unknown) => x);
      expect((e as Error).message).toMatch(/lists 70000 tensors, more than the 65536/);
    } finally {
      await server.close();
    }
  });
});
