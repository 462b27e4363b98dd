// The whole engine as the worker runs it, over HTTP from a local server: load kjv-llama with every strategy, generate
// the reference greedy continuation, free everything; and the failure paths (cancel, will-not-fit, missing model).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from './testing/http-server.ts';
import { LOAD_STRATEGIES, type GenerateOptions } from './api.ts';
import { Engine } from './engine.ts';
import { EngineError } from './errors.ts';
import { nodeGpu } from './gpu/node-gpu.ts';

const MODELS = '../shared/models';
const reference = JSON.parse(readFileSync(`${MODELS}/kjv-llama/reference.json`, 'utf8')) as {
  prompts: { text: string; greedy_ids: number[]; greedy_text: string }[];
};
const greedy: GenerateOptions = { maxTokens: 48, temperature: 0, topK: 0, topP: 1, seed: 1, stop: [], chat: false };

let server: ServeDirHandle;
let engine: Engine;

beforeAll(async () => {
  server = await serveDir(MODELS);
  engine = new Engine({ gpu: nodeGpu, baseHref: server.url });
  await engine.init();
});

afterAll(async () => {
  await engine?.unload();
  await server?.close();
});

async function ledgerBytes(): Promise<number> {
  return (await engine.memory(Infinity)).current;
}

describe('engine on kjv-llama', () => {
  it.each(LOAD_STRATEGIES)('%s: loads, reports, and generates the reference greedy continuation', async (strategy) => {
    const phases = new Set<string>();
    const ledger: number[] = [];
    const report = await engine.load({ model: 'kjv-llama/', strategy, contextLength: 256 }, (p) => {
      phases.add(p.phase);
      ledger.push(p.ledgerBytes ?? -1);
    });
    // every event carries the ledger's bytes; the last (done) holds what the model keeps
    expect(ledger.every((b) => b >= 0)).toBe(true);
    expect(ledger.at(-1)).toBe(report.finalGpuBytes);
    expect(Math.max(...ledger)).toBeGreaterThan(0);
    expect(report.strategy).toBe(strategy);
    expect(report.tensors).toBeGreaterThan(50);
    expect(report.finalGpuBytes).toBe(await ledgerBytes());
    expect(report.peakGpuBytes).toBeGreaterThanOrEqual(report.finalGpuBytes);
    expect([...phases]).toEqual(expect.arrayContaining(['resolve', 'plan', 'download', 'compile', 'done']));
    const info = await engine.modelInfo();
    expect(info).toMatchObject({ architecture: 'LlamaForCausalLM', vocabSize: 4096, contextLength: 256 });
    expect(info!.precision).toBe(strategy === 'streamed-int8' ? 'int8' : 'fp16');

    const p = reference.prompts[0];
    let text = '';
    const ids: number[] = [];
    const stats = await engine.generate(p.text, greedy, (e) => {
      text += e.text;
      ids.push(...e.ids);
    });
    if (strategy === 'streamed-int8') {
      // LLM.int8 may change a late greedy step; the issue asks for the first 8 tokens unchanged.
      expect(ids.slice(0, 8)).toEqual(p.greedy_ids.slice(0, 8));
    } else {
      expect(ids).toEqual(p.greedy_ids.slice(0, ids.length));
      expect(text).toBe(p.greedy_text);
    }
    expect(stats.promptTokens).toBeGreaterThan(1);
    expect(stats.decodeTokPerS).toBeGreaterThan(0);
    await engine.unload();
    expect(await ledgerBytes()).toBe(0);
  });

  it('a cancelled load throws cancelled and leaves the ledger at zero', async () => {
    server.misbehave.bytesPerSecond = 2_000_000; // ~13 MB model: several seconds
    const load = engine.load({ model: 'kjv-llama/', strategy: 'streamed' }, (p) => {
      if (p.phase === 'download' && p.bytesDone > 0) engine.cancelLoad();
    });
    await expect(load).rejects.toMatchObject({ code: 'cancelled' });
    server.misbehave = {};
    expect(await ledgerBytes()).toBe(0);
  });

  it('refuses a load that does not fit the VRAM budget before downloading weights', async () => {
    const before = server.log.length;
    const plan = await engine.plan({ model: 'kjv-llama/', strategy: 'fp16', vramBudgetBytes: 1 << 20 });
    expect(plan.fits).toBe(false);
    expect(plan.reasons.join(' ')).toMatch(/budget/);
    await expect(engine.load({ model: 'kjv-llama/', strategy: 'fp16', vramBudgetBytes: 1 << 20 }, () => {})).rejects.toMatchObject({
      code: 'will-not-fit',
    });
    // only the small files and the safetensors header ranges were requested, never the weights' ~13 MB
    const weightBytes = server.log.slice(before).filter((r) => r.path.endsWith('.safetensors')).reduce((a, r) => a + r.bytesSent, 0);
    expect(weightBytes).toBeLessThan(1 << 20);
    expect(await ledgerBytes()).toBe(0);
  });

  it('names the missing file when the model folder does not exist', async () => {
    const err = await engine.load({ model: 'no-such-model/', strategy: 'streamed' }, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('http');
    expect((err as EngineError).message).toContain('config.json');
    expect(await ledgerBytes()).toBe(0);
  });

  it('refuses a folder without tokenizer.json by name, with nothing left allocated', async () => {
    const err = await engine.load({ model: 'random/llama-gqa-bf16/', strategy: 'streamed' }, () => {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'bad-file' });
    expect((err as EngineError).message).toContain('tokenizer.json');
    expect(await ledgerBytes()).toBe(0);
  });
});
