// The store's hold on the engine: a stop that does not take effect shows the engine as stuck and offers a restart (the
// worker terminated, a new one connected, the model offered again); a model lost with the GPU device is offered
// again; a failed load keeps the model loaded before it.
import { LlmEngine } from 'webgpu-llm';
import { describe, expect, it } from 'vitest';
import type { GenerateStats } from '../../workers/api.ts';
import { EngineError } from '../../workers/errors.ts';
import { createAppStore } from './create-store.ts';
import { STUCK_AFTER_MS } from './engine-slice.ts';
import { FakeEngine } from './fake-engine.ts';

/** A fake engine whose generation never ends and ignores stops (a worker stuck in work it cannot leave). */
class StuckEngine extends FakeEngine {
  override generate(): Promise<GenerateStats> {
    this.calls.push('generate');
    return new Promise(() => {});
  }
}

function setup(first: FakeEngine = new FakeEngine()) {
  const engines: FakeEngine[] = [first];
  let restarts = 0;
  const timers: { at: number; fn: () => void }[] = [];
  let clock = 0;
  // The library's engine, as the app has it: each connection it makes reaches the newest fake, as each worker it
  // starts after a terminate() would be a new one.
  const client = new LlmEngine(() => ({ backend: engines.at(-1)!, callback: (fn) => fn, close: () => {} }));
  const store = createAppStore({
    engine: () => client,
    schedule: (cb) => cb(),
    now: () => clock,
    wallClock: () => clock,
    restart: () => {
      restarts++;
      engines.push(new FakeEngine());
      client.terminate();
    },
    later: (ms, fn) => void timers.push({ at: clock + ms, fn }),
  });
  const advance = (ms: number) => {
    clock += ms;
    for (const t of timers.splice(0).filter((t) => (t.at <= clock ? (t.fn(), false) : true))) timers.push(t);
  };
  return { store, engines, restarts: () => restarts, advance };
}

describe('a stuck engine', () => {
  it('a stop that does not take effect marks the engine stuck; a restart ends it and offers the model again', async () => {
    const t = setup(new StuckEngine());
    await t.store.getState().connectGpu();
    await t.store.getState().load();
    const loadedWith = t.store.getState().loadedRequest;
    expect(loadedWith).toMatchObject({ model: expect.any(String) });
    void t.store.getState().generate();
    expect(t.store.getState().generating).toBe(true);
    t.store.getState().stopGeneration();
    t.advance(STUCK_AFTER_MS - 1);
    expect(t.store.getState().engineStuck).toBe(false);
    t.advance(1);
    expect(t.store.getState().engineStuck).toBe(true);

    await t.store.getState().restartEngine();
    const s = t.store.getState();
    expect(t.restarts()).toBe(1);
    expect(s).toMatchObject({ engineStuck: false, generating: false, modelStatus: 'empty', gpuStatus: 'ready', reloadable: loadedWith });
    expect(t.engines[1].calls).toEqual(['init']); // the new engine was connected

    await t.store.getState().reloadLost();
    expect(t.engines[1].lastLoad).toEqual(loadedWith);
    expect(t.store.getState()).toMatchObject({ modelStatus: 'loaded', reloadable: null });
  });

  it('a stop that takes effect in time is not stuck', async () => {
    const t = setup();
    await t.store.getState().connectGpu();
    await t.store.getState().load();
    await t.store.getState().generate();
    t.store.getState().stopGeneration(); // nothing running: nothing watched
    t.advance(STUCK_AFTER_MS * 2);
    expect(t.store.getState().engineStuck).toBe(false);
  });
});

describe('a model lost with the GPU device', () => {
  it('is offered to load again with the request it was loaded with', async () => {
    const t = setup();
    await t.store.getState().connectGpu();
    t.store.getState().setContextLength(512);
    await t.store.getState().load();
    const req = t.store.getState().loadedRequest;
    t.engines[0].loseDevice('destroyed: test');
    await new Promise((r) => setTimeout(r, 0));
    expect(t.store.getState()).toMatchObject({ gpuStatus: 'lost', modelStatus: 'empty', reloadable: req });
    expect(t.store.getState().gpuError).toMatch(/load .* again/);
    t.store.getState().setContextLength(1024); // the settings changed meanwhile: the lost model comes back as it was
    await t.store.getState().reloadLost();
    expect(t.engines[0].calls.filter((c) => c === 'init').length).toBe(2);
    expect(t.engines[0].lastLoad).toEqual(req);
    expect(t.store.getState().modelStatus).toBe('loaded');
  });
});

describe('a failed load', () => {
  it('keeps the model loaded before it, and says so', async () => {
    const t = setup();
    await t.store.getState().connectGpu();
    await t.store.getState().load();
    const before = t.store.getState().modelInfo;
    t.engines[0].loadError = new EngineError('http', 'config.json: not found (404)', { status: 404 });
    t.store.getState().setModelUrl('models/nothing-here/');
    await t.store.getState().load();
    const s = t.store.getState();
    expect(s.modelStatus).toBe('loaded');
    expect(s.modelInfo).toEqual(before);
    expect(s.error?.code).toBe('http');
    expect(s.error?.nextSteps.at(-1)).toMatch(/loaded before, is still loaded/);
    expect(t.engines[0].calls).not.toContain('unload');
  });
});
