import { describe, expect, it } from 'vitest';
import { gpuAwaitForRuntime, pacedAwait, plainAwait } from './gpu-wait.ts';

describe('gpu-wait', () => {
  it('in Node the wait is paced', () => {
    expect(gpuAwaitForRuntime()).not.toBe(plainAwait);
  });

  it('a paced wait resolves with the value, rejects with the error', async () => {
    const wait = pacedAwait(1);
    await expect(wait(new Promise((r) => setTimeout(() => r(42), 20)))).resolves.toBe(42);
    await expect(wait(new Promise((_, j) => setTimeout(() => j(new Error('lost')), 5)))).rejects.toThrow('lost');
  });

  it('pauses between event-loop turns: far fewer turns than a spin while the promise is pending', async () => {
    // a spin of setImmediate (what dawn.node's event polling does while a promise is pending), counted during a
    // 60 ms wait: plain, every turn runs it; paced, each turn is followed by a 1 ms pause
    const spins = async (wait: (p: Promise<void>) => Promise<void>) => {
      let n = 0;
      let on = true;
      const spin = () => {
        n++;
        if (on) setImmediate(spin);
      };
      setImmediate(spin);
      await wait(new Promise((r) => setTimeout(r, 60)));
      on = false;
      return n;
    };
    const plain = await spins(plainAwait);
    const paced = await spins(pacedAwait(1));
    expect(paced).toBeLessThanOrEqual(70); // about one turn per ms
    expect(plain).toBeGreaterThan(5 * paced);
  });
});
