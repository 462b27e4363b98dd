// Every model family of ../shared/models/families through the whole engine, as the worker runs it, over HTTP from a
// local server: the pre-flight plan (every tensor of the recipe, the sliding-window rings, notes), a load with each
// strategy (fused Phi-3 projections and all, int8 included), greedy generation through the tokenizer, and everything
// freed; with a cache, a warm streamed-int8 load takes every linear (split fused ones too) from the cached int8
// weights. The fixtures ship no tokenizer: each is served with an id tokenizer (testing/id-tokenizer.ts), so a prompt
// written as the reference's ids encodes to exactly them.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from './testing/http-server.ts';
import { LOAD_STRATEGIES, type GenerateOptions, type LoadRequest } from './api.ts';
import { NodeFsBackend } from './cache/fs.node.ts';
import { Engine } from './engine.ts';
import { nodeGpu } from './gpu/node-gpu.ts';
import { idsText, idTokenizerJson } from './testing/id-tokenizer.ts';

const FAMILIES = resolve('../shared/models/families');
const NAMES = readdirSync(FAMILIES).sort();
const CONTEXT = 256;
const INT8_SURE_MARGIN = 0.22;

interface Reference {
  ids: number[];
  greedy_ids: number[];
  /** The reference's top-1/top-2 logit gap at each greedy step. */
  greedy_margins: number[];
  config: { vocab_size?: number; text_config?: { vocab_size?: number } };
}
const reference = (name: string) => JSON.parse(readFileSync(join(FAMILIES, name, 'reference.json'), 'utf8')) as Reference;

let root: string;
let server: ServeDirHandle;
let engine: Engine;

beforeAll(async () => {
  // one folder per family: the fixture's files (linked) and an id tokenizer
  root = mkdtempSync(join(tmpdir(), 'families-'));
  for (const name of NAMES) {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) symlinkSync(join(FAMILIES, name, f), join(dir, f));
    const config = JSON.parse(readFileSync(join(FAMILIES, name, 'config.json'), 'utf8')) as Reference['config'];
    writeFileSync(join(dir, 'tokenizer.json'), idTokenizerJson(config.vocab_size ?? config.text_config!.vocab_size!));
  }
  server = await serveDir(root);
  engine = new Engine({ gpu: nodeGpu, baseHref: server.url });
  await engine.init();
});

afterAll(async () => {
  await engine?.unload();
  await server?.close();
});

const greedy = (n: number): GenerateOptions => ({ maxTokens: n, temperature: 0, topK: 0, topP: 1, seed: 1, stop: [], chat: false });

describe.each(NAMES)('families/%s through the engine', (name) => {
  const ref = reference(name);

  it.each(LOAD_STRATEGIES)('%s: the plan counts what the load makes; greedy generation from the reference prompt', async (strategy) => {
    const req: LoadRequest = { model: `${name}/`, strategy, contextLength: CONTEXT, cache: 'off' };
    const plan = await engine.plan(req);
    expect(plan.fits).toBe(true);
    const report = await engine.load(req, () => {});
    const { bytes } = await engine.memory(Infinity);
    // every tensor the recipe has (split fused projections, q/k norms, sandwich norms), in the chosen precision
    expect(report.weightBytes).toBe(plan.bytes.weights + plan.bytes.scales);
    // the KV cache as planned: a ring of window − 1 + 64 rows per sliding-window layer
    expect(bytes['kv-cache']).toBe(plan.bytes['kv-cache']);
    expect(bytes.activations).toBeLessThanOrEqual(plan.bytes.activations);

    const ids: number[] = [];
    await engine.generate(idsText(ref.ids), greedy(ref.greedy_ids.length), (e) => ids.push(...e.ids));
    if (strategy === 'streamed-int8') {
      // LLM.int8 moves these fixtures' logits by at most 0.11 (verify, both adapters): up to the first greedy step whose
      // reference margin is below twice that, int8 must choose the reference's ids
      expect(ids.length).toBe(ref.greedy_ids.length);
      const close = ref.greedy_margins.findIndex((m) => m <= INT8_SURE_MARGIN);
      const sure = close < 0 ? ids.length : close;
      expect(ids.slice(0, sure)).toEqual(ref.greedy_ids.slice(0, sure));
    } else {
      expect(ids).toEqual(ref.greedy_ids);
    }
    await engine.unload();
    expect((await engine.memory(Infinity)).current).toBe(0);
  });
});

describe('plan notes of the recipes', () => {
  it('Gemma 2 names its sliding-window rings; Phi-3 its fused projections', async () => {
    const gemma = await engine.plan({ model: 'gemma2-a-bf16/', strategy: 'streamed', contextLength: CONTEXT });
    expect(gemma.notes).toEqual([expect.stringMatching(/^sliding-window layers 0, 2 keep a ring of 67 of the 256 positions/)]);
    const phi = await engine.plan({ model: 'phi3-a-bf16/', strategy: 'streamed-int8', contextLength: CONTEXT });
    expect(phi.notes).toEqual([expect.stringMatching(/^4 fused projections \(qkv_proj, gate_up_proj\) read as their q\/k\/v and gate\/up rows/)]);
    // the split linears are quantized like any other: every layer's seven linears have int8 scales
    expect(phi.bytes.scales).toBeGreaterThan(0);
  });
});

describe('families with the cache: cached int8 weights', () => {
  let cached: Engine;
  beforeAll(async () => {
    cached = new Engine({ gpu: nodeGpu, baseHref: server.url, cacheBackend: new NodeFsBackend(mkdtempSync(join(tmpdir(), 'families-cache-'))) });
    await cached.init();
  });
  afterAll(async () => {
    await cached?.unload();
  });

  it.each(NAMES)('%s: a warm streamed-int8 load quantizes nothing, fetches nothing and generates the same ids', async (name) => {
    const ref = reference(name);
    const req: LoadRequest = { model: `${name}/`, strategy: 'streamed-int8', contextLength: CONTEXT };
    const run = async () => {
      const ids: number[] = [];
      await cached.generate(idsText(ref.ids), greedy(ref.greedy_ids.length), (e) => ids.push(...e.ids));
      return ids;
    };
    const cold = await cached.load(req, () => {});
    expect(cold.cache).toBe('cold');
    const coldIds = await run();
    const warm = await cached.load(req, () => {});
    expect(warm).toMatchObject({ cache: 'warm', bytesFetched: 0 });
    expect(warm.timings.quantizeMs).toBe(0);
    expect(await run()).toEqual(coldIds);
    const listed = (await cached.listCache()).models.find((m) => m.model === `${server.url}${name}/`);
    expect(listed?.int8Bytes).toBeGreaterThan(0);
    await cached.unload();
  });
});
