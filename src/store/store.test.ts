import { describe, expect, it } from 'vitest';
import type { StateStorage } from 'zustand/middleware';
import { EngineError } from '../../workers/errors.ts';
import { createAppStore } from './create-store.ts';
import { FakeEngine } from './fake-engine.ts';
import { PERSIST_KEY } from './persisted.ts';

function setup(storage?: StateStorage) {
  const engine = new FakeEngine();
  const frames: (() => void)[] = [];
  const store = createAppStore({ engine: () => engine, proxy: (fn) => fn, schedule: (cb) => frames.push(cb), now: () => 0, wallClock: () => 1_700_000_000_000, storage });
  const runFrames = () => {
    while (frames.length) frames.shift()!();
  };
  return { engine, store, runFrames };
}

async function ready() {
  const t = setup();
  await t.store.getState().connectGpu();
  return t;
}

describe('store with a fake engine', () => {
  it('connects to the GPU and shows a device loss', async () => {
    const { store, engine } = await ready();
    expect(store.getState().gpuStatus).toBe('ready');
    engine.loseDevice('destroyed: test');
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().gpuStatus).toBe('lost');
    expect(store.getState().gpuError).toMatch(/destroyed: test/);
  });

  it('builds the load request from the settings', async () => {
    const { store, engine } = await ready();
    const s = store.getState();
    s.setModelUrl(' HuggingFaceTB/SmolLM2-135M-Instruct ');
    s.setStrategy('streamed-int8');
    s.setInt8Threshold(0);
    s.setContextLength(512);
    s.setVramBudgetMiB(100);
    await store.getState().load();
    expect(engine.lastLoad).toEqual({ model: 'HuggingFaceTB/SmolLM2-135M-Instruct', strategy: 'streamed-int8', int8Threshold: 0, contextLength: 512, vramBudgetBytes: 100 * 2 ** 20 });
  });

  it('asks for an int8 lm_head only with streamed-int8 and the box ticked', async () => {
    const { store, engine } = await ready();
    const s = store.getState();
    s.setStrategy('streamed-int8');
    await store.getState().load();
    expect(engine.lastLoad).not.toHaveProperty('int8LmHead');
    s.setInt8LmHead(true);
    await store.getState().load();
    expect(engine.lastLoad).toMatchObject({ strategy: 'streamed-int8', int8LmHead: true });
    s.setStrategy('streamed');
    await store.getState().load();
    expect(engine.lastLoad).not.toHaveProperty('int8LmHead');
  });

  it('estimates, and says why it will not fit', async () => {
    const { store } = await ready();
    await store.getState().estimate();
    expect(store.getState().plan?.fits).toBe(true);
    store.getState().setVramBudgetMiB(1);
    await store.getState().estimate();
    expect(store.getState().plan).toMatchObject({ fits: false, reasons: [expect.stringContaining('budget')] });
  });

  it('refuses a bad URL without calling the engine', async () => {
    const { store, engine } = await ready();
    store.getState().setModelUrl('not a url');
    await store.getState().load();
    await store.getState().estimate();
    expect(engine.calls).toEqual(['init']);
    expect(store.getState().error).toMatchObject({ code: 'bad-input', title: 'Check the model URL' });
    expect(store.getState().modelStatus).toBe('empty');
  });

  it('loads: progress, report, model info, a run, memory samples', async () => {
    const { store, runFrames } = await ready();
    await store.getState().load();
    runFrames();
    const s = store.getState();
    expect(s.modelStatus).toBe('loaded');
    expect(s.lastReport?.strategy).toBe('streamed');
    expect(s.modelInfo?.architecture).toBe('llama');
    expect(s.runs).toHaveLength(1);
    expect(s.runs[0]).toMatchObject({ id: 1, request: { model: 'models/kjv-llama/' } });
    await store.getState().pollMemory();
    expect(store.getState().samples.length).toBeGreaterThan(0);
    expect(store.getState().memPeak).toMatchObject({ total: 6_000_000 });
    // a second load unloads first and adds a second run
    store.getState().setStrategy('naive');
    await store.getState().load();
    expect(store.getState().runs.map((r) => r.report.strategy)).toEqual(['streamed', 'naive']);
    store.getState().clearRuns();
    expect(store.getState().runs).toEqual([]);
  });

  it('cancels a load: back to empty, a notice and no error, ledger at zero', async () => {
    const { store, engine } = await ready();
    engine.holdLoad = true;
    const loading = store.getState().load();
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().modelStatus).toBe('loading');
    store.getState().cancelLoad();
    expect(store.getState().modelStatus).toBe('cancelling');
    await loading;
    expect(store.getState()).toMatchObject({ modelStatus: 'empty', error: null, notice: expect.stringMatching(/cancelled/) });
    await store.getState().pollMemory();
    expect(store.getState().memCurrent).toBe(0);
    expect(store.getState().runs).toEqual([]);
  });

  it('turns a load failure into words', async () => {
    const { store, engine } = await ready();
    engine.loadError = new EngineError('cors', 'blocked', { file: 'https://example.com/config.json' });
    await store.getState().load();
    expect(store.getState().error).toMatchObject({ code: 'cors', context: 'load', title: expect.stringMatching(/CORS/) });
    expect(store.getState().modelStatus).toBe('empty');
  });

  it('generates: tokens batched per frame, stats, sampling options passed', async () => {
    const { store, engine, runFrames } = await ready();
    await store.getState().generate(); // nothing loaded: nothing happens
    expect(engine.calls).not.toContain('generate');
    await store.getState().load();
    store.getState().setSampling({ temperature: 0, maxTokens: 48 });
    store.getState().setChat(true); // no chat template: ignored
    const renders: string[] = [];
    const unsub = store.subscribe((s, p) => {
      if (s.output !== p.output) renders.push(s.output);
    });
    await store.getState().generate();
    unsub();
    runFrames();
    expect(store.getState().output).toBe(' of the reign');
    expect(renders).toEqual([' of the reign']); // three tokens, one update
    expect(store.getState().tokensSoFar).toBe(3);
    expect(store.getState().stats).toMatchObject({ decodeTokPerS: 120, stopReason: 'max-tokens' });
    expect(store.getState().generating).toBe(false);
    expect(engine.lastGenerate).toEqual({ prompt: 'In the beginning', opts: { temperature: 0, topK: 40, topP: 0.9, seed: 42, maxTokens: 48, stop: [], chat: false } });
  });

  it('uses chat mode only when the model has a template', async () => {
    const { store, engine } = await ready();
    engine.hasChatTemplate = true;
    await store.getState().load();
    store.getState().setChat(true);
    await store.getState().generate();
    expect(engine.lastGenerate?.opts.chat).toBe(true);
  });

  it('an empty prompt is an error, not a call', async () => {
    const { store, engine } = await ready();
    await store.getState().load();
    store.getState().setPrompt('   ');
    await store.getState().generate();
    expect(engine.calls).not.toContain('generate');
    expect(store.getState().error?.title).toBe('The prompt is empty');
  });
});

describe('GPU reconnection', () => {
  it('ignores the loss of a device that a newer connection replaced', async () => {
    const { store, engine } = setup();
    await store.getState().connectGpu();
    await store.getState().connectGpu();
    engine.loseDevice('destroyed: replaced', 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().gpuStatus).toBe('ready');
    engine.loseDevice('unknown: driver reset', 1);
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState()).toMatchObject({ gpuStatus: 'lost', gpuError: expect.stringMatching(/driver reset/) });
  });
});

/** localStorage as the app sees it, in memory. */
function memoryStorage(): StateStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v), removeItem: (k) => void data.delete(k) };
}

describe('persistence across a reload', () => {
  it('keeps the settings and the runs, never transient state', async () => {
    const storage = memoryStorage();
    const first = setup(storage);
    await first.store.getState().connectGpu();
    const s = first.store.getState();
    s.setModelUrl('HuggingFaceTB/SmolLM2-135M-Instruct');
    s.setStrategy('streamed-int8');
    s.setContextLength(512);
    s.setVramBudgetMiB(900);
    s.setSampling({ temperature: 0, maxTokens: 64 });
    s.setUseCache(false);
    s.setPrompt('not kept');
    await first.store.getState().load();
    first.engine.loadError = new EngineError('http', 'x', { status: 404 });
    await first.store.getState().load(); // an error in the banner: not kept
    expect(first.store.getState().error).not.toBeNull();
    const kept = JSON.parse(storage.data.get(PERSIST_KEY)!);
    expect(Object.keys(kept.state).sort()).toEqual(['contextLength', 'int8LmHead', 'int8Threshold', 'modelUrl', 'runs', 'sampling', 'strategy', 'useCache', 'vramBudgetMiB']);

    const reloaded = setup(storage).store.getState(); // a new page over the same storage
    expect(reloaded).toMatchObject({
      modelUrl: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      strategy: 'streamed-int8',
      contextLength: 512,
      vramBudgetMiB: 900,
      useCache: false,
      sampling: { temperature: 0, maxTokens: 64, topK: 40, topP: 0.9, seed: 42 },
      prompt: 'In the beginning',
      error: null,
      modelStatus: 'empty',
      gpuStatus: 'idle',
    });
    expect(reloaded.runs).toHaveLength(1);
    expect(reloaded.runs[0]).toMatchObject({ id: 1, finishedAt: 1_700_000_000_000, report: { strategy: 'streamed-int8' } });
  });

  it('ignores stored values that are not valid any more, keeping the defaults for them', () => {
    const storage = memoryStorage();
    storage.setItem(
      PERSIST_KEY,
      JSON.stringify({
        version: 1,
        state: { modelUrl: 42, strategy: 'warp-drive', contextLength: -3, sampling: { temperature: 0.2, topK: 'many' }, runs: [{ id: 'x' }], useCache: false },
      }),
    );
    const s = setup(storage).store.getState();
    expect(s).toMatchObject({ modelUrl: 'models/kjv-llama/', strategy: 'streamed', contextLength: null, useCache: false, runs: [] });
    expect(s.sampling).toEqual({ temperature: 0.2, topK: 40, topP: 0.9, seed: 42, maxTokens: 128 });
    storage.setItem(PERSIST_KEY, 'not json');
    expect(setup(storage).store.getState().strategy).toBe('streamed');
  });

  it('writes only when a kept field changed (not on every progress frame or memory poll)', async () => {
    const storage = memoryStorage();
    let writes = 0;
    const counting: StateStorage = { ...storage, setItem: (k, v) => (writes++, storage.setItem(k, v)) };
    const { store } = setup(counting);
    await store.getState().connectGpu();
    const before = writes;
    for (let i = 0; i < 20; i++) await store.getState().pollMemory();
    store.getState().setPrompt('typing…');
    expect(writes).toBe(before);
    store.getState().setStrategy('fp16');
    expect(writes).toBe(before + 1);
    expect(JSON.parse(storage.data.get(PERSIST_KEY)!).state.strategy).toBe('fp16');
  });

  it('a storage that throws (full, or denied) keeps nothing and breaks nothing', () => {
    const failing: StateStorage = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('quota'); }, removeItem: () => {} };
    const { store } = setup(failing);
    store.getState().setStrategy('naive');
    expect(store.getState().strategy).toBe('naive');
  });
});
