// A gated hub model at a revision: with an access token, every request to https://huggingface.co carries
// `Authorization: Bearer <token>` (the hub API's paths-info too) and names the revision, the model loads and generates the reference; a request to
// any other origin never carries it, even when a token is given; without the token the hub's 401 is an 'http' error.
// The hub is played by a fetch wrapper in front of a local server holding kjv-llama (no network in tests).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from './testing/http-server.ts';
import { NodeFsBackend } from './cache/fs.node.ts';
import { Engine } from './engine.ts';
import { nodeGpu } from './gpu/node-gpu.ts';

const MODELS = '../shared/models';
const reference = JSON.parse(readFileSync(`${MODELS}/kjv-llama/reference.json`, 'utf8')) as {
  prompts: { text: string; greedy_ids: number[] }[];
};
const TOKEN = 'hf_testtoken';
/** The hub's folder of the gated repo at revision refs/pr/1 (quoted into one path segment, as huggingface_hub does). */
const HUB_BASE = 'https://huggingface.co/bible/kjv-gated/resolve/refs%2Fpr%2F1/';

let server: ServeDirHandle;
let engine: Engine;
const realFetch = globalThis.fetch;
const requests: { url: string; auth: string | null }[] = [];

beforeAll(async () => {
  server = await serveDir(MODELS);
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const auth = new Headers(init?.headers).get('authorization');
    requests.push({ url, auth });
    if (!url.startsWith('https://huggingface.co/')) return realFetch(input, init);
    // the gated repo answers 401 without the right token, 404 outside its revision
    if (auth !== `Bearer ${TOKEN}`) return new Response('Access to model bible/kjv-gated is restricted.', { status: 401 });
    if (!url.startsWith(HUB_BASE)) return new Response('Revision not found', { status: 404 });
    const headers = new Headers(init?.headers);
    headers.delete('authorization');
    return realFetch(server.url + 'kjv-llama/' + url.slice(HUB_BASE.length), { ...init, headers });
  };
  engine = new Engine({ gpu: nodeGpu, baseHref: server.url, cacheBackend: new NodeFsBackend(mkdtempSync(join(tmpdir(), 'engine-hub-'))) });
  await engine.init();
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await engine?.unload();
  await server?.close();
});

async function greedyIds(n: number): Promise<number[]> {
  const ids: number[] = [];
  await engine.generate(reference.prompts[0].text, { maxTokens: n, temperature: 0 }, (e) => void ids.push(...e.ids));
  return ids;
}

describe('hub access token and revision', () => {
  it('a hub id with a token and a revision: the token on every hub request (probes and ranges too), the reference text', async () => {
    for (const strategy of ['streamed', 'fp16'] as const) {
      requests.length = 0;
      await engine.load({ model: 'bible/kjv-gated', strategy, revision: 'refs/pr/1', hfToken: TOKEN, contextLength: 128 }, () => {});
      expect(await greedyIds(8)).toEqual(reference.prompts[0].greedy_ids.slice(0, 8));
      expect(requests.length).toBeGreaterThan(4);
      // the files under the revision's folder; besides them only the hub API's paths-info (its published SHA-256)
      expect(requests.filter((r) => !r.url.startsWith(HUB_BASE)).map((r) => r.url)).toEqual(
        strategy === 'streamed' ? ['https://huggingface.co/api/models/bible/kjv-gated/paths-info/refs%2Fpr%2F1'] : [],
      );
      expect(requests.filter((r) => r.auth !== `Bearer ${TOKEN}`)).toEqual([]);
      expect(requests.map((r) => r.url)).toEqual(expect.arrayContaining([HUB_BASE + 'config.json', HUB_BASE + 'model.safetensors']));
      await engine.unload();
    }
  });

  it('a model on another origin never gets the token', async () => {
    requests.length = 0;
    await engine.load({ model: 'kjv-llama/', strategy: 'streamed', hfToken: TOKEN, contextLength: 128 }, () => {});
    expect(requests.length).toBeGreaterThan(4);
    expect(requests.filter((r) => r.auth !== null)).toEqual([]);
    await engine.unload();
  });

  it("without the token the hub's 401 fails the load as 'http' 401, with nothing left allocated", async () => {
    const e = await engine.load({ model: 'bible/kjv-gated', strategy: 'streamed', revision: 'refs/pr/1' }, () => {}).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'http', details: { status: 401, file: HUB_BASE + 'config.json' } });
    expect((e as Error).message).toMatch(/token/);
    expect((await engine.memory(Infinity)).current).toBe(0);
  });
});
