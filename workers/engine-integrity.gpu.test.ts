// The engine under hostile servers and failures, on kjv-llama served from a copy that the tests change:
// - a model file replaced on the server in the middle of its body, or between its header read and its body, is never
//   mixed: the load starts again from a clean state and generates exactly what a clean load of the new version does
//   (with the cache too, whose warm load then serves the new version); a file that keeps changing fails by name;
// - a device lost during a load fails it with 'device-lost', and no model on a lost device is reported or used;
// - a second load cancels the first and waits for it, so its report agrees with the ledger;
// - unload() during generate() ends it with stopReason 'cancelled';
// - a failed load keeps the model loaded before it;
// - tensors the model does not use are skipped and named; a config with fewer layers than the checkpoint is refused.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GenerateOptions, LoadReport, LoadRequest, LoadStrategy } from './api.ts';
import { NodeFsBackend } from './cache/fs.node.ts';
import { Engine } from './engine.ts';
import { EngineError } from './errors.ts';
import type { GpuContext } from './gpu/device.ts';
import { nodeGpu } from './gpu/node-gpu.ts';
import { safetensorsHeader } from '../scripts/safetensors-writer.ts';
import { serveDir, type RequestLogEntry, type ServeDirHandle } from './testing/http-server.ts';

const KJV = '../shared/models/kjv-llama';
const reference = JSON.parse(readFileSync(`${KJV}/reference.json`, 'utf8')) as { prompts: { text: string; greedy_ids: number[] }[] };
const greedy: GenerateOptions = { maxTokens: 12, temperature: 0, topK: 0, topP: 1, seed: 1, stop: [], chat: false };
const v1 = new Uint8Array(readFileSync(`${KJV}/model.safetensors`));
const headerEnd = 8 + Number(new DataView(v1.buffer, v1.byteOffset).getBigUint64(0, true));
const v2 = secondVersion();

/**
 * Another version of the checkpoint, of the same size: its tensors stored in the reverse order (so the first
 * version's offsets read it wrong: bytes of the two cannot be mixed unnoticed) and every weight's sign flipped (BF16),
 * its header padded to the first's length.
 */
function secondVersion(): Uint8Array {
  const header = JSON.parse(new TextDecoder().decode(v1.subarray(8, headerEnd))) as Record<string, { data_offsets: [number, number] } & object>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__').sort((a, b) => header[b].data_offsets[0] - header[a].data_offsets[0]);
  const out = new Uint8Array(v1.length);
  const json: Record<string, unknown> = {};
  let at = 0;
  for (const name of names) {
    const [s, e] = header[name].data_offsets;
    out.set(v1.subarray(headerEnd + s, headerEnd + e), headerEnd + at);
    json[name] = { ...header[name], data_offsets: [at, at + e - s] };
    at += e - s;
  }
  const text = JSON.stringify(json).padEnd(headerEnd - 8, ' ');
  if (text.length !== headerEnd - 8) throw new Error('the second version needs a header of the same length');
  out.set(new TextEncoder().encode(text), 8);
  out.set(v1.subarray(0, 8));
  for (let i = headerEnd + 1; i < out.length; i += 2) out[i] ^= 0x80;
  return out;
}

let dir: string;
let server: ServeDirHandle;
let engine: Engine;
const weights = () => join(dir, 'm', 'model.safetensors');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'engine-integrity-'));
  cpSync(KJV, join(dir, 'm'), { recursive: true });
  cpSync(KJV, join(dir, 'v2'), { recursive: true });
  writeFileSync(join(dir, 'v2', 'model.safetensors'), v2);
  server = await serveDir(dir);
  engine = new Engine({ gpu: nodeGpu, baseHref: server.url });
  await engine.init();
});
afterAll(async () => {
  await engine?.unload();
  await server?.close();
});
beforeEach(async () => {
  server.misbehave = {};
  writeFileSync(weights(), v1);
  await engine.unload();
});

async function ids(e: Engine = engine): Promise<number[]> {
  const out: number[] = [];
  await e.generate(reference.prompts[0].text, greedy, (t) => void out.push(...t.ids));
  return out;
}
const ledger = async (e: Engine = engine) => (await e.memory(Infinity)).current;
const load = (model: string, strategy: LoadStrategy = 'streamed', more: Partial<LoadRequest> = {}, e: Engine = engine) =>
  e.load({ model, strategy, contextLength: 64, cache: 'off', ...more }, () => {});
async function failure(p: Promise<unknown>): Promise<EngineError> {
  const x = await p.then(() => null, (err: unknown) => err);
  expect(x).toBeInstanceOf(EngineError);
  return x as EngineError;
}
/** A request for the weights' body (not a header read or a probe). */
const isBody = (r: RequestLogEntry) => r.path.endsWith('/m/model.safetensors') && Number(/-(\d+)$/.exec(r.range ?? '')?.[1] ?? Infinity) >= 262_144;

/** The server drops the first response that passes 5 MB (the weights' body) and, at that moment, swaps in v2. */
function swapAtFirstDrop(): { done: boolean } {
  const state = { done: false };
  server.misbehave = {
    dropAfterBytes: 5_000_000,
    onDrop: () => {
      writeFileSync(weights(), v2);
      server.misbehave = {};
      state.done = true;
    },
  };
  return state;
}

let v1Ids: number[];
let v2Ids: number[];

describe('a model file that changes on the server during the load is never mixed', () => {
  beforeAll(async () => {
    await load('v2/');
    v2Ids = await ids();
    await load('m/');
    v1Ids = await ids();
    await engine.unload();
  });

  it('the two versions generate differently, the first as the reference', () => {
    expect(v1Ids).toEqual(reference.prompts[0].greedy_ids.slice(0, v1Ids.length));
    expect(v2Ids).not.toEqual(v1Ids);
  });

  it.each(['streamed', 'fp16'] as const)('%s: replaced mid-body (the connection drops at 5 MB): restarts, loads the new version whole', async (strategy) => {
    const swap = swapAtFirstDrop();
    const report = await load('m/', strategy);
    expect(swap.done).toBe(true);
    expect(await ids()).toEqual(v2Ids);
    expect(report.finalGpuBytes).toBe(await ledger());
  });

  it('replaced between the header read and the body: restarts, loads the new version whole', async () => {
    let swapped = false;
    server.misbehave = {
      onRequest: (r) => {
        if (!swapped && isBody(r)) {
          writeFileSync(weights(), v2);
          swapped = true;
        }
      },
    };
    await load('m/');
    expect(swapped).toBe(true);
    expect(await ids()).toEqual(v2Ids);
  });

  it('with the cache: the mixed blocks are never kept; the restart and the next warm load serve the new version', async () => {
    const cached = new Engine({ gpu: nodeGpu, baseHref: server.url, cacheBackend: new NodeFsBackend(mkdtempSync(join(tmpdir(), 'integrity-cache-'))) });
    await cached.init();
    try {
      const swap = swapAtFirstDrop();
      await load('m/', 'streamed', { cache: 'use' }, cached);
      expect(swap.done).toBe(true);
      expect(await ids(cached)).toEqual(v2Ids);
      server.misbehave = {};
      const warm = await load('m/', 'streamed', { cache: 'use' }, cached);
      expect(warm.cache).toBe('warm');
      expect(await ids(cached)).toEqual(v2Ids);
    } finally {
      await cached.unload();
    }
  });

  it('a file that changes again after the restart fails with file-changed naming it; nothing is left allocated', async () => {
    let n = 0;
    server.misbehave = { onRequest: (r) => void (isBody(r) && writeFileSync(weights(), n++ % 2 ? v1 : v2)) };
    const e = await failure(load('m/'));
    expect(e.code).toBe('file-changed');
    expect(e.details.file).toBe(`${server.url}m/model.safetensors`);
    expect(e.message).toMatch(/model\.safetensors changed on the server during the load/);
    expect(await ledger()).toBe(0);
    expect(await engine.modelInfo()).toBeNull();
  });
});

describe('a device lost during a load', () => {
  it('fails the load with device-lost; no model is reported; generate() says device-lost; init() recovers', async () => {
    const e2 = new Engine({ gpu: nodeGpu, baseHref: server.url });
    await e2.init();
    server.misbehave = { bytesPerSecond: 3_000_000 };
    let destroyed = false;
    const loading = e2.load({ model: 'm/', strategy: 'streamed', contextLength: 64, cache: 'off' }, (p) => {
      if (!destroyed && p.phase === 'download' && p.tensorsDone > 2) {
        destroyed = true;
        (e2 as unknown as { ctx: GpuContext }).ctx.device.destroy();
      }
    });
    const err = await failure(loading);
    expect(destroyed).toBe(true);
    expect(err.code).toBe('device-lost');
    expect(await e2.modelInfo()).toBeNull();
    expect((await failure(e2.generate('In the beginning', greedy, () => {}))).code).toMatch(/device-lost|bad-input/);
    await e2.init();
    expect(await ledger(e2)).toBe(0);
    server.misbehave = {};
    await load('m/', 'streamed', {}, e2);
    expect(await ids(e2)).toEqual(v1Ids);
    await e2.unload();
  });

  it('a loaded model whose device is lost is not reported, and generate() says device-lost (not cancelled)', async () => {
    const e2 = new Engine({ gpu: nodeGpu, baseHref: server.url });
    await e2.init();
    await load('m/', 'streamed', {}, e2);
    const lost = e2.deviceLost();
    (e2 as unknown as { ctx: GpuContext }).ctx.device.destroy();
    await lost;
    expect(await e2.modelInfo()).toBeNull();
    const g = await failure(e2.generate('In the beginning', greedy, () => {}));
    expect(g.code).toBe('device-lost');
    expect(g.message).toMatch(/m\/.*load the model again/);
  });
});

describe('loads, unloads and generations that overlap', () => {
  it('a second load cancels the first and waits for it: each report agrees with the ledger', async () => {
    server.misbehave = { bytesPerSecond: 4_000_000 };
    const started: { second?: Promise<LoadReport> } = {};
    const first = engine.load({ model: 'm/', strategy: 'streamed', contextLength: 64, cache: 'off' }, (p) => {
      if (!started.second && p.phase === 'download' && p.tensorsDone >= 3) {
        server.misbehave = {};
        started.second = engine.load({ model: 'm/', strategy: 'streamed-int8', contextLength: 64, cache: 'off' }, () => {});
      }
    });
    expect((await failure(first)).code).toBe('cancelled');
    const report = await started.second!;
    expect(report.strategy).toBe('streamed-int8');
    expect(report.finalGpuBytes).toBe(await ledger());
    expect(report.peakGpuBytes).toBeGreaterThanOrEqual(report.finalGpuBytes);
    expect((await engine.modelInfo())?.precision).toBe('int8');
  });

  it('unload() during generate() ends it with stopReason cancelled and frees everything', async () => {
    await load('m/');
    const unloading: { done?: Promise<void> } = {};
    // asked from outside the generation (a timer), so that it lands while a decode step runs on the GPU
    const stats = await engine.generate(reference.prompts[0].text, { ...greedy, maxTokens: 400 }, () => {
      if (!('timer' in unloading)) Object.assign(unloading, { timer: setTimeout(() => (unloading.done = engine.unload()), 0) });
    });
    await new Promise((r) => setTimeout(r, 10));
    await unloading.done;
    expect(stats.stopReason).toBe('cancelled');
    expect(stats.generatedTokens).toBeLessThan(400);
    expect(await ledger()).toBe(0);
    expect(await engine.modelInfo()).toBeNull();
  });

  it('a failed load keeps the model that was working before it', async () => {
    await load('m/');
    const before = await ledger();
    expect((await failure(load('no-such-model/'))).details.status).toBe(404);
    expect((await failure(load('m/', 'streamed', { contextLength: 1 << 20 }))).code).toBe('will-not-fit');
    expect((await engine.modelInfo())?.model).toBe('m/');
    expect(await ledger()).toBe(before);
    expect(await ids()).toEqual(v1Ids);
  });
});

describe('a checkpoint that does not match its config', () => {
  it('tensors the model does not use are skipped, named in the plan, never on the GPU', async () => {
    const padded = join(dir, 'padded');
    cpSync(join(dir, 'm'), padded, { recursive: true });
    // kjv's tensors, then 300 tiny unused ones and an old checkpoint's rotary inv_freq
    const json = JSON.parse(new TextDecoder().decode(v1.subarray(8, headerEnd))) as Record<string, { data_offsets: number[] }>;
    const dataBytes = v1.length - headerEnd;
    const extra: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) extra[`pad.${i}`] = { dtype: 'F16', shape: [2], data_offsets: [dataBytes + 4 * i, dataBytes + 4 * i + 4] };
    extra['model.layers.0.self_attn.rotary_emb.inv_freq'] = { dtype: 'F32', shape: [16], data_offsets: [dataBytes + 1200, dataBytes + 1264] };
    const header = safetensorsHeader([], { raw: { ...json, ...extra } });
    const file = new Uint8Array(header.length + dataBytes + 1264);
    file.set(header);
    file.set(v1.subarray(headerEnd), header.length);
    writeFileSync(join(padded, 'model.safetensors'), file);

    const clean = await load('m/');
    const plan = await engine.plan({ model: 'padded/', strategy: 'streamed', contextLength: 64 });
    expect(plan.notes.join(' ')).toMatch(/301 tensors of the checkpoint the model does not use are skipped.*'pad\.0'.* and 293 more/);
    expect(plan.totalBytes).toBe((await engine.plan({ model: 'm/', strategy: 'streamed', contextLength: 64 })).totalBytes);
    const report = await load('padded/');
    expect(report.tensors).toBe(clean.tensors);
    expect(report.finalGpuBytes).toBe(clean.finalGpuBytes);
    expect(await ids()).toEqual(v1Ids);
  });

  it('a config with fewer layers than the checkpoint is refused by name before any weight byte', async () => {
    const short = join(dir, 'short');
    cpSync(join(dir, 'm'), short, { recursive: true });
    const config = JSON.parse(readFileSync(join(short, 'config.json'), 'utf8'));
    writeFileSync(join(short, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: config.num_hidden_layers - 1 }));
    const at = server.log.length;
    const e = await failure(load('short/'));
    expect(e).toMatchObject({ code: 'bad-config', details: { setting: 'num_hidden_layers' } });
    const sent = server.log.slice(at).filter((r) => r.path.endsWith('.safetensors')).reduce((a, r) => a + r.bytesSent, 0);
    expect(sent).toBeLessThanOrEqual(256 * 1024); // the header read only
    expect(await ledger()).toBe(0);
  });
});
