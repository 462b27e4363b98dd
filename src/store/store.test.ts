import { createEngine } from 'webgpu-llm';
import { describe, expect, it } from 'vitest';
import type { StateStorage } from 'zustand/middleware';
import { EngineError } from '../../workers/errors.ts';
import { createAppStore } from './create-store.ts';
import { FakeEngine } from './fake-engine.ts';
import { HUB_TOKEN_KEY } from './hub-slice.ts';
import { PERSIST_KEY } from './persisted.ts';

function setup(storage?: StateStorage) {
  const engine = new FakeEngine();
  // the library's client around the fake: the store talks to it as the app does to the worker
  const client = createEngine({ backend: engine });
  const frames: (() => void)[] = [];
  const store = createAppStore({ engine: () => client, schedule: (cb) => frames.push(cb), now: () => 0, wallClock: () => 1_700_000_000_000, storage });
  const runFrames = () => {
    while (frames.length) frames.shift()!();
  };
  return { engine, store, runFrames };
}

async function ready(storage?: StateStorage) {
  const t = setup(storage);
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

  it('chats: the message becomes a user turn, the reply streams in batched per frame, stats with the reused tokens', async () => {
    const { store, engine, runFrames } = await ready();
    await store.getState().generate(); // nothing loaded: nothing happens
    expect(engine.calls).not.toContain('generate');
    await store.getState().load();
    store.getState().setSampling({ temperature: 0, maxTokens: 48 });
    const renders: string[] = [];
    const unsub = store.subscribe((s, p) => {
      if (s.output !== p.output) renders.push(s.output);
    });
    await store.getState().generate();
    unsub();
    runFrames();
    const s = store.getState();
    expect(s.messages).toEqual([
      { role: 'user', content: 'In the beginning' },
      { role: 'assistant', content: ' of the reign' },
    ]);
    expect(s.output).toBe('');
    expect(s.prompt).toBe('');
    // three tokens, one update before the reply joined the conversation
    expect(renders).toEqual([' of the reign', '']);
    expect(s.tokensSoFar).toBe(3);
    expect(s.stats).toMatchObject({ promptTokens: 4, reusedTokens: 2, generatedTokens: 3, decodeTokPerS: 120, stopReason: 'max-tokens' });
    expect(s.generating).toBe(false);
    // only the settings given: the model's defaults fill the rest
    expect(engine.lastGenerate).toEqual({ prompt: [{ role: 'user', content: 'In the beginning' }], opts: { temperature: 0, maxTokens: 48 } });
  });

  it('a follow-up sends the system prompt and the whole conversation; new chat starts over', async () => {
    const { store, engine } = await ready();
    await store.getState().load();
    store.getState().setSystemPrompt('Be brief.');
    await store.getState().generate();
    store.getState().setPrompt('And then?');
    store.getState().setSampling({ repetitionPenalty: 1.2, seed: 7 });
    await store.getState().generate();
    expect(engine.lastGenerate).toEqual({
      prompt: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'In the beginning' },
        { role: 'assistant', content: ' of the reign' },
        { role: 'user', content: 'And then?' },
      ],
      opts: { maxTokens: 128, repetitionPenalty: 1.2, seed: 7 },
    });
    expect(store.getState().messages).toHaveLength(4);
    store.getState().newChat();
    expect(store.getState()).toMatchObject({ messages: [], output: '', stats: null, systemPrompt: 'Be brief.' });
  });

  it('Stop ends the reply; what came so far stays in the conversation', async () => {
    const { store, engine, runFrames } = await ready();
    await store.getState().load();
    engine.holdGenerate = true;
    const running = store.getState().generate();
    await new Promise((r) => setTimeout(r, 0));
    runFrames();
    expect(store.getState()).toMatchObject({ generating: true, output: ' of the reign' });
    store.getState().stopGeneration();
    await running;
    expect(engine.calls).toContain('stopGeneration');
    expect(store.getState().messages.at(-1)).toEqual({ role: 'assistant', content: ' of the reign' });
    expect(store.getState().stats?.stopReason).toBe('cancelled');
  });

  it('a conversation past the context offers to drop its oldest turns, and answers again without them', async () => {
    const { store, engine } = await ready();
    await store.getState().load();
    await store.getState().generate();
    store.getState().setPrompt('second');
    await store.getState().generate();
    store.getState().setPrompt('third');
    engine.generateError = new EngineError('context-full', 'the conversation is 70 tokens', { promptTokens: 70, contextLength: 64, trimTurns: 2 });
    await store.getState().generate();
    expect(store.getState()).toMatchObject({ overflow: { promptTokens: 70, contextLength: 64, trimTurns: 2 }, error: null });
    expect(store.getState().messages.at(-1)).toEqual({ role: 'user', content: 'third' });
    engine.generateError = null;
    await store.getState().trimAndRetry();
    expect(engine.lastGenerate?.prompt).toEqual([{ role: 'user', content: 'third' }]);
    expect(store.getState()).toMatchObject({ overflow: null, messages: [{ role: 'user', content: 'third' }, { role: 'assistant', content: ' of the reign' }] });
  });

  it('another failure puts the message back in the input and says what happened', async () => {
    const { store, engine } = await ready();
    await store.getState().load();
    engine.generateError = new EngineError('device-lost', 'the device was lost');
    await store.getState().generate();
    expect(store.getState()).toMatchObject({ messages: [], prompt: 'In the beginning', error: { code: 'device-lost', context: 'generate' } });
  });

  it('an empty message is an error, not a call', async () => {
    const { store, engine } = await ready();
    await store.getState().load();
    store.getState().setPrompt('   ');
    await store.getState().generate();
    expect(engine.calls).not.toContain('generate');
    expect(store.getState().error?.title).toBe('The message is empty');
  });

  it('new chat during a reply stops it, and the stopped reply does not land in the new conversation', async () => {
    const { store, engine } = await ready();
    await store.getState().load();
    engine.holdGenerate = true;
    const running = store.getState().generate();
    await new Promise((r) => setTimeout(r, 0));
    store.getState().newChat();
    await running;
    expect(engine.calls).toContain('stopGeneration');
    expect(store.getState()).toMatchObject({ messages: [], output: '', generating: false, error: null });
  });

  it('a load starts a new chat', async () => {
    const { store } = await ready();
    await store.getState().load();
    await store.getState().generate();
    expect(store.getState().messages).toHaveLength(2);
    await store.getState().load();
    expect(store.getState().messages).toEqual([]);
  });
});

describe('hub access', () => {
  it('sends the token and revision with a load; the token stays in memory unless remembered', async () => {
    const storage = memoryStorage();
    const { store, engine } = await ready(storage);
    store.getState().setModelUrl('org/gated');
    store.getState().setHubToken(' hf_abc ');
    store.getState().setRevision('v2');
    await store.getState().load();
    expect(engine.lastLoad).toMatchObject({ model: 'org/gated', hfToken: 'hf_abc', revision: 'v2' });
    expect(storage.data.has(HUB_TOKEN_KEY)).toBe(false);
    store.getState().setRememberHubToken(true);
    expect(storage.data.get(HUB_TOKEN_KEY)).toBe(' hf_abc ');
    store.getState().setHubToken('hf_new');
    expect(storage.data.get(HUB_TOKEN_KEY)).toBe('hf_new');
    store.getState().setRememberHubToken(false);
    expect(storage.data.has(HUB_TOKEN_KEY)).toBe(false);
    expect(store.getState().hubToken).toBe('hf_new');
  });

  it('a remembered token is there on the next visit; without one nothing is sent', async () => {
    const { store } = await ready(memoryStorage({ [HUB_TOKEN_KEY]: 'hf_kept' }));
    expect(store.getState()).toMatchObject({ hubToken: 'hf_kept', rememberHubToken: true });
    const fresh = await ready();
    await fresh.store.getState().load();
    expect(fresh.engine.lastLoad).not.toHaveProperty('hfToken');
    expect(fresh.engine.lastLoad).not.toHaveProperty('revision');
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

describe('a device lost during a load', () => {
  it('shows the device the library acquired for the load, and watches it', async () => {
    const { store, engine } = await ready();
    const first = store.getState().gpuInfo;
    engine.loseDeviceOnLoad = 'unknown: driver reset';
    await store.getState().load();
    expect(engine.calls.filter((c) => c === 'init' || c === 'load')).toEqual(['init', 'load', 'init', 'load']);
    expect(store.getState()).toMatchObject({ gpuStatus: 'ready', gpuError: null, modelStatus: 'loaded', error: null });
    expect(store.getState().gpuInfo).not.toBe(first);
    // the new device's loss is shown, as the first one's would be
    engine.loseDevice('destroyed: test');
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState()).toMatchObject({ gpuStatus: 'lost', modelStatus: 'empty', gpuError: expect.stringMatching(/destroyed: test/) });
  });
});

/** localStorage as the app sees it, in memory. */
function memoryStorage(init: Record<string, string> = {}): StateStorage & { data: Map<string, string> } {
  const data = new Map(Object.entries(init));
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
      sampling: { temperature: 0, maxTokens: 64, topK: null, topP: null, repetitionPenalty: null, seed: null },
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
    expect(s.sampling).toEqual({ temperature: 0.2, topK: null, topP: null, repetitionPenalty: null, seed: null, maxTokens: 128 });
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
