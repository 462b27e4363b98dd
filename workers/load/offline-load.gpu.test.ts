// Offline warm start, through loadModel on kjv-llama (a copy served by serve-dir, whose request log is the witness):
// once an online load has kept the model, a load that cannot reach the network (connections closed unanswered, or no
// answer within reachTimeoutMs) comes from the cache alone, says so in its report and generates the same text, for
// streamed and streamed-int8 (cached int8 weights). HTTP statuses keep their errors; an online load still revalidates
// and follows changed files; a cache without the model, or with a block of it gone, fails with the 'offline' error
// naming the file, and the GPU ledger is back where it was after every failure.
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import type { GenerateOptions, LoadRequest, LoadStrategy } from '../api.ts';
import { EngineError } from '../errors.ts';
import { NodeFsBackend } from '../cache/fs.node.ts';
import { readStoredSource } from './offline-source.ts';
import { sha256Hex } from '../cache/sha256.ts';
import { ByteCache } from '../cache/store.ts';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext } from '../gpu/node-gpu.ts';
import { generate } from '../model/generate.ts';
import { disposeModel, loadModel, type LoadedModel, type ModelLoadOptions } from './load-model.ts';
import { safetensorsHeader } from '../../scripts/safetensors-writer.ts';

/** The checkpoint with one more (unused, 4-byte) tensor after its last: another valid version, 4 bytes of data longer. */
function withExtraTensor(file: Uint8Array): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, unknown>;
  const data = file.subarray(8 + n);
  const head = safetensorsHeader([], { raw: { ...header, 'extra.weight': { dtype: 'F16', shape: [2], data_offsets: [data.length, data.length + 4] } } });
  const out = new Uint8Array(head.length + data.length + 4);
  out.set(head);
  out.set(data, head.length);
  return out;
}

const reference = JSON.parse(readFileSync('../shared/models/kjv-llama/reference.json', 'utf8')) as {
  prompts: { text: string }[];
};
const greedy: GenerateOptions = { maxTokens: 12, temperature: 0, topK: 0, topP: 1, seed: 1, stop: [], chat: false };
const fast = { retries: 1, backoffMs: 10 };

let ctx: GpuContext;
let server: ServeDirHandle;
let dir: string;
const base = () => `${server.url}kjv-llama/`;
const weightsUrl = () => `${base()}model.safetensors`;

beforeAll(async () => {
  ctx = await nodeGpuContext();
  dir = mkdtempSync(join(tmpdir(), 'offline-models-'));
  cpSync('../shared/models/kjv-llama', join(dir, 'kjv-llama'), { recursive: true });
  server = await serveDir(dir);
});
afterAll(async () => {
  await server?.close();
  ctx?.device.destroy();
});
beforeEach(() => {
  server.misbehave = {};
});

async function newCache(root = mkdtempSync(join(tmpdir(), 'offline-load-'))) {
  return { root, cache: await ByteCache.open(new NodeFsBackend(root)) };
}

function load(cache: ByteCache | null, strategy: LoadStrategy = 'streamed', o: ModelLoadOptions = {}, req: Partial<LoadRequest> = {}) {
  return loadModel(ctx, { model: 'kjv-llama/', strategy, contextLength: 128, ...req }, { baseHref: server.url, cache, http: fast, ...o });
}

async function textOf(m: LoadedModel): Promise<string> {
  let text = '';
  await generate(m.transformer, m.tokenizer, reference.prompts[0].text, greedy, (e) => void (text += e.text));
  return text;
}

/** Loads, generates, frees; returns the report and the text. */
async function loadAndGenerate(cache: ByteCache | null, strategy: LoadStrategy = 'streamed', o: ModelLoadOptions = {}) {
  const m = await load(cache, strategy, o);
  try {
    return { report: m.report, text: await textOf(m), source: m.source };
  } finally {
    disposeModel(m);
  }
}

async function failure(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

/** Requests since `at` that got an answer (serve-dir logs status 0 for a connection it closed unanswered). */
const answered = (at: number) => server.log.slice(at).filter((r) => r.status !== 0);

describe.each(['streamed', 'streamed-int8'] as const)('%s offline', (strategy) => {
  it('loads from the cache alone when the network cannot be reached, says so, and generates the same text', async () => {
    const before = ctx.ledger.current;
    const { cache } = await newCache();
    const online = await loadAndGenerate(cache, strategy);
    expect(online.report.cache).toBe('cold');
    expect(online.report.offline).toBeUndefined();
    expect((await cache.peek(base(), 'source'))?.verified).toBe(true); // the small files, kept with the weights

    server.misbehave = { hangUp: true };
    const at = server.log.length;
    const off = await loadAndGenerate(cache, strategy);
    expect(off.report.offline?.reason).toMatch(/could not fetch config\.json/);
    expect(off.report).toMatchObject({ cache: 'warm', bytesFetched: 0 });
    expect(off.report.bytesFromCache).toBeGreaterThan(strategy === 'streamed' ? 13_000_000 : 5_000_000);
    expect(off.text).toBe(online.text);
    expect(off.text.length).toBeGreaterThan(10);
    // the only requests: config.json and its retry, both closed unanswered; no probe, no header or chat template read
    expect(server.log.slice(at).map((r) => [r.path, r.status])).toEqual([
      ['/kjv-llama/config.json', 0],
      ['/kjv-llama/config.json', 0],
    ]);
    expect(ctx.ledger.current).toBe(before);
  });
});

describe('offline warm start', () => {
  it('no answer within reachTimeoutMs counts as unreachable where the model is kept; without a kept copy the load waits as before', async () => {
    const { cache } = await newCache();
    const online = await loadAndGenerate(cache);
    server.misbehave = { silent: true };
    const t0 = performance.now();
    const off = await loadAndGenerate(cache, 'streamed', { reachTimeoutMs: 300 });
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(off.report.offline?.reason).toMatch(/config\.json: no answer within 0\.3 s/);
    expect(off.text).toBe(online.text);

    // nothing kept for offline use: no timeout is applied, the load waits for an answer until it is cancelled
    const ac = new AbortController();
    const waiting = load((await newCache()).cache, 'streamed', { reachTimeoutMs: 300, signal: ac.signal }).then(
      () => 'loaded',
      (e: EngineError) => e.code,
    );
    const early = await Promise.race([waiting, new Promise((r) => setTimeout(() => r('still waiting'), 1500))]);
    ac.abort();
    expect([early, await waiting]).toEqual(['still waiting', 'cancelled']);
  });

  it('HTTP statuses keep their own errors, even where the model could load offline', async () => {
    const before = ctx.ledger.current;
    const { cache } = await newCache();
    await loadAndGenerate(cache);
    for (const [path, status] of [['config.json', 404], ['config.json', 503], ['config.json', 429], ['tokenizer.json', 500], ['model.safetensors', 403]] as const) {
      server.misbehave = { statusByPath: { [path]: status } };
      const e = await failure(load(cache));
      expect([path, e.code, e.details.status]).toEqual([path, 'http', status]);
      expect(ctx.ledger.current).toBe(before);
    }
  });

  it('online loads revalidate as before: a changed weight file is fetched anew, changed small files are kept anew', async () => {
    const { cache } = await newCache();
    await loadAndGenerate(cache);
    const file = join(dir, 'kjv-llama', 'model.safetensors');
    const gen = join(dir, 'kjv-llama', 'generation_config.json');
    const genText = readFileSync(gen, 'utf8');
    const original = readFileSync(file);
    try {
      // reachable and unchanged: the probe is sent (revalidation), no report of an offline load
      let at = server.log.length;
      const warm = await loadAndGenerate(cache);
      expect(warm.report).toMatchObject({ cache: 'warm', bytesFetched: 0 });
      expect(warm.report.offline).toBeUndefined();
      expect(server.log.slice(at).filter((r) => r.path.endsWith('model.safetensors')).map((r) => r.range)).toEqual(['bytes=0-1']);

      // the server's files change (new weights: here a longer file, with a tensor more; a new generation config)
      writeFileSync(file, withExtraTensor(original));
      const size = statSync(file).size;
      writeFileSync(gen, JSON.stringify({ ...JSON.parse(genText), offline_test: 1 }));
      at = server.log.length;
      const changed = await loadAndGenerate(cache);
      expect(changed.report.cache).toBe('cold');
      expect(changed.report.bytesFetched).toBeGreaterThan(13_000_000);
      expect(changed.source.generationConfig).toMatchObject({ offline_test: 1 });
      const stored = await readStoredSource(cache, base());
      expect(stored).toMatchObject({ generationConfig: { offline_test: 1 }, weights: { [weightsUrl()]: { size } } });
      expect(answered(at).length).toBeGreaterThan(0);

      // offline now: the versions the last online load saw
      server.misbehave = { hangUp: true };
      const off = await loadAndGenerate(cache);
      expect(off.report.offline).toBeDefined();
      expect(off.source.generationConfig).toMatchObject({ offline_test: 1 });
      expect(off.text).toBe(warm.text);
    } finally {
      writeFileSync(file, original);
      writeFileSync(gen, genText);
    }
  });

  it('fails with the offline error naming what the cache lacks; the ledger is back to where it was', async () => {
    const before = ctx.ledger.current;
    server.misbehave = { hangUp: true };
    // never kept
    const never = await failure(load((await newCache()).cache));
    expect(never.code).toBe('offline');
    expect(never.details.file).toBe(`${base()}config.json`);
    expect(never.message).toMatch(/the network could not be reached \(could not fetch config\.json: .*\), and config\.json is not in the cache/);
    expect(ctx.ledger.current).toBe(before);

    // kept, then a block of the weights lost (found only once streaming has begun: GPU buffers exist by then)
    server.misbehave = {};
    const { cache, root } = await newCache();
    await loadAndGenerate(cache);
    const entry = join(root, 'v1', (await sha256Hex(new TextEncoder().encode(`file\n${weightsUrl()}`))).slice(0, 32));
    rmSync(join(entry, 'b000001'));
    server.misbehave = { hangUp: true };
    const lost = await failure(load(cache));
    expect(lost.code).toBe('offline');
    expect(lost.details.file).toBe(weightsUrl());
    expect(lost.message).toMatch(/network could not be reached.*model\.safetensors is not whole in the cache \(block 1 is missing/);
    expect(ctx.ledger.current).toBe(before);

    // the uncached baselines and `cache: 'off'` do not load offline: the network error as before
    for (const [strategy, req] of [['fp16', {}], ['streamed', { cache: 'off' as const }]] as const) {
      const e = await failure(load(cache, strategy, {}, req));
      expect([e.code, e.details.unreachable]).toEqual(['network', true]);
    }
    expect(ctx.ledger.current).toBe(before);
  });
});
