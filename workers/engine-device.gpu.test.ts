// A lost GPU device is a state, not a crash: the engine reports it, drops what lived on the device, and init()
// makes a new device without restarting anything.
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.ts';
import type { GpuContext } from './gpu/device.ts';
import { nodeGpu } from './gpu/node-gpu.ts';

describe('engine after a device loss', () => {
  it('reports the loss, refuses GPU work, and recovers with init()', async () => {
    const engine = new Engine({ gpu: nodeGpu, baseHref: 'http://127.0.0.1/' });
    const info = await engine.init();
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const lost = engine.deviceLost();
    // What a driver reset or a GPU process crash does to the page's device:
    (engine as unknown as { ctx: GpuContext }).ctx.device.destroy();
    expect(await lost).toMatch(/destroyed/);
    await expect(engine.memory(0)).rejects.toMatchObject({ code: 'device-lost' });
    await expect(engine.generate('x', { maxTokens: 1, temperature: 0, topK: 0, topP: 1, seed: 0, stop: [], chat: false }, () => {}))
      .rejects.toMatchObject({ code: 'bad-input' });

    const again = await engine.init();
    expect(again.adapter).toEqual(info.adapter);
    expect((await engine.memory(0)).current).toBe(0);
    const lostAgain = engine.deviceLost();
    await engine.unload();
    (engine as unknown as { ctx: GpuContext }).ctx.device.destroy();
    expect(await lostAgain).toMatch(/destroyed/);
  });
});
