// The engine with a byte cache in a directory (as the Node host gives it; the worker gives OPFS): kjv-llama loaded
// twice with 'streamed' makes no weight request the second time and generates the same text; the cache lists the
// model and deletes it; with `cache: 'off'` and for 'fp16' nothing is read from or kept in the cache.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from './testing/http-server.ts';
import type { GenerateOptions } from './api.ts';
import { NodeFsBackend } from './cache/fs.node.ts';
import { Engine } from './engine.ts';
import { nodeGpu } from './gpu/node-gpu.ts';

const MODELS = '../shared/models';
const reference = JSON.parse(readFileSync(`${MODELS}/kjv-llama/reference.json`, 'utf8')) as {
  prompts: { text: string; greedy_ids: number[]; greedy_text: string }[];
};
const greedy: GenerateOptions = { maxTokens: 16, temperature: 0, topK: 0, topP: 1, seed: 1, stop: [], chat: false };

let server: ServeDirHandle;
let engine: Engine;

beforeAll(async () => {
  server = await serveDir(MODELS);
  engine = new Engine({ gpu: nodeGpu, baseHref: server.url, cacheBackend: new NodeFsBackend(mkdtempSync(join(tmpdir(), 'engine-cache-'))) });
  await engine.init();
});
afterAll(async () => {
  await engine?.unload();
  await server?.close();
});

/** Bytes of model.safetensors sent since log index `from`, leaving out the header reads and 1-byte probes. */
function weightBytesSent(from: number): number {
  return server.log
    .slice(from)
    .filter((r) => r.path.endsWith('model.safetensors') && !/^bytes=0-\d+$/.test(r.range ?? ''))
    .reduce((a, r) => a + r.bytesSent, 0);
}

async function generateText(): Promise<string> {
  let text = '';
  await engine.generate(reference.prompts[0].text, greedy, (e) => void (text += e.text));
  return text;
}

describe('engine with a cache on kjv-llama', () => {
  it('a second streamed load reads every weight byte from the cache', async () => {
    const req = { model: 'kjv-llama/', strategy: 'streamed' as const, contextLength: 128 };
    const cold = await engine.load(req, () => {});
    expect(cold.cache).toBe('cold');
    const coldText = await generateText();
    expect(coldText).toBe(reference.prompts[0].greedy_text.slice(0, coldText.length));

    const at = server.log.length;
    const warm = await engine.load(req, () => {});
    expect(warm).toMatchObject({ cache: 'warm', bytesFetched: 0 });
    expect(warm.bytesFromCache).toBeGreaterThan(13_000_000);
    // the header came from the cache too: only the one-byte validator probe touched model.safetensors
    const fileReqs = server.log.slice(at).filter((r) => r.path.endsWith('model.safetensors'));
    expect(fileReqs.map((r) => [r.range, r.bytesSent])).toEqual([['bytes=0-1', 2]]);
    expect(await generateText()).toBe(coldText);

    const list = await engine.listCache();
    expect(list.available).toBe(true);
    expect(list.models).toEqual([expect.objectContaining({ model: `${server.url}kjv-llama/`, complete: true, offline: true, int8Bytes: 0, files: 1 })]);
    // the weights, and the small files kept for an offline load (config, tokenizer: kjv-llama's tokenizer.json is ~100 kB)
    expect(list.models[0].smallFilesBytes).toBeGreaterThan(50_000);
    expect(list.models[0].bytes).toBe(list.models[0].fileSize + list.models[0].smallFilesBytes);
    await engine.unload();
  });

  it("cache 'off' and the fp16 strategy download, and keep nothing", async () => {
    const at = server.log.length;
    const off = await engine.load({ model: 'kjv-llama/', strategy: 'streamed', contextLength: 128, cache: 'off' }, () => {});
    expect(off).toMatchObject({ cache: 'off', bytesFromCache: 0 });
    const fp16 = await engine.load({ model: 'kjv-llama/', strategy: 'fp16', contextLength: 128 }, () => {});
    expect(fp16).toMatchObject({ cache: 'off', bytesFromCache: 0 });
    expect(weightBytesSent(at)).toBeGreaterThan(2 * 13_000_000);
    await engine.unload();
  });

  it('deletes a cached model; the next load is cold again', async () => {
    const model = `${server.url}kjv-llama/`;
    expect(await engine.deleteCache(model)).toBeGreaterThan(13_000_000);
    expect((await engine.listCache()).models).toEqual([]);
    const again = await engine.load({ model: 'kjv-llama/', strategy: 'streamed', contextLength: 128 }, () => {});
    expect(again.cache).toBe('cold');
    await engine.clearCache();
    expect((await engine.listCache()).models).toEqual([]);
    await engine.unload();
    expect((await engine.memory(Infinity)).current).toBe(0);
  });
});
