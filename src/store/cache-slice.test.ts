import { describe, expect, it } from 'vitest';
import { EngineError } from '../../workers/errors.ts';
import { createEngine } from 'webgpu-llm';
import { createAppStore } from './create-store.ts';
import { FakeEngine } from './fake-engine.ts';

async function ready() {
  const engine = new FakeEngine();
  const client = createEngine({ backend: engine });
  const store = createAppStore({ engine: () => client, schedule: (cb) => cb(), now: () => 0, wallClock: () => 0 });
  await store.getState().connectGpu();
  return { engine, store };
}

describe('cache slice', () => {
  it('lists the cache after a load; the second load is warm; delete and clear empty it', async () => {
    const { store, engine } = await ready();
    await store.getState().load();
    await store.getState().refreshCache();
    expect(store.getState().cachedModels.map((m) => m.model)).toEqual(['models/kjv-llama/']);
    expect(store.getState().cacheAvailable).toBe(true);
    await store.getState().load();
    expect(store.getState().lastReport).toMatchObject({ cache: 'warm', bytesFetched: 0 });
    await store.getState().deleteCached('models/kjv-llama/');
    expect(store.getState().cachedModels).toEqual([]);
    expect(engine.calls).toContain('deleteCache');
    await store.getState().load();
    await store.getState().clearCache();
    expect(store.getState().cachedModels).toEqual([]);
  });

  it("the use-cache box sends cache: 'off'", async () => {
    const { store, engine } = await ready();
    store.getState().setUseCache(false);
    await store.getState().load();
    expect(engine.lastLoad?.cache).toBe('off');
    expect(store.getState().lastReport?.cache).toBe('off');
  });

  it('a storage error reaches the banner with what to do', async () => {
    const { store, engine } = await ready();
    engine.loadError = new EngineError('storage', 'cannot keep model.safetensors in OPFS: it needs 10 MB more');
    await store.getState().load();
    const err = store.getState().error!;
    expect(err.code).toBe('storage');
    expect(err.nextSteps.join(' ')).toMatch(/Cached models/);
  });
});
