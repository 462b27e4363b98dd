// The load's back-pressure against a queue whose work completes when the test says: the bound on bytes in flight,
// fences asked for only when a load waits (no GPU promise pending otherwise), submitted work counted toward the bound.
import { describe, expect, it } from 'vitest';
import type { GpuAwait } from '../gpu/gpu-wait.ts';
import type { LoadMeter } from './load-meter.ts';
import { QueueBackpressure } from './queue-backpressure.ts';

/** A queue that counts submissions and fences; each fence resolves when complete() is called. */
function fakeQueue() {
  const pending: (() => void)[] = [];
  const q = {
    submits: 0,
    fences: 0,
    submit: () => void q.submits++,
    onSubmittedWorkDone: () => {
      q.fences++;
      return new Promise<undefined>((r) => pending.push(() => r(undefined)));
    },
    /** The queue reaches every fence asked for so far. */
    complete: () => pending.splice(0).forEach((r) => r()),
    get waiting() {
      return pending.length;
    },
  };
  return q;
}

const meter = { now: () => 0, sampleHost: () => {}, timeSince: () => 0 } as unknown as LoadMeter;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('QueueBackpressure', () => {
  it('submits every fenceBytes and asks for no fence until it has to wait', async () => {
    const q = fakeQueue();
    const bp = new QueueBackpressure(q as unknown as GPUQueue, meter, { fenceBytes: 100, maxFences: 2 });
    for (let i = 0; i < 3; i++) {
      bp.written(100);
      await bp.throttle(); // 300 in flight: within (2 + 1) × 100
    }
    expect(q.submits).toBe(3);
    expect(q.fences).toBe(0);
    expect(bp.bytesInFlight).toBe(300);
  });

  it('waits for the queue past (maxFences + 1) × fenceBytes, then counts from zero', async () => {
    const q = fakeQueue();
    const bp = new QueueBackpressure(q as unknown as GPUQueue, meter, { fenceBytes: 100, maxFences: 2 });
    bp.written(250);
    bp.written(60);
    let through = false;
    const t = bp.throttle().then(() => (through = true));
    await tick();
    expect(q.fences).toBe(1);
    expect(through).toBe(false); // held until the queue has executed what was written
    q.complete();
    await t;
    expect(through).toBe(true);
    expect(bp.bytesInFlight).toBe(0);
  });

  it('counts work submitted over a region (the scratch quantize) toward the bound', async () => {
    const q = fakeQueue();
    const bp = new QueueBackpressure(q as unknown as GPUQueue, meter, { fenceBytes: 100, maxFences: 2 });
    bp.written(50);
    bp.submitted(1000);
    expect(q.submits).toBe(0); // already submitted: no empty submission of its own
    const t = bp.throttle();
    await tick();
    expect(q.waiting).toBe(1);
    q.complete();
    await t;
    expect(bp.bytesInFlight).toBe(0);
  });

  it('keeps writes made during a wait counted', async () => {
    const q = fakeQueue();
    const bp = new QueueBackpressure(q as unknown as GPUQueue, meter, { fenceBytes: 10, maxFences: 0 });
    bp.written(20);
    const t = bp.throttle();
    await tick();
    bp.written(7);
    q.complete();
    await t;
    expect(bp.bytesInFlight).toBe(7);
  });

  it('drain waits for everything through the given await', async () => {
    const q = fakeQueue();
    const seen: Promise<unknown>[] = [];
    const awaitGpu: GpuAwait = (p) => {
      seen.push(p);
      return p;
    };
    const bp = new QueueBackpressure(q as unknown as GPUQueue, meter, { fenceBytes: 100, maxFences: 2 }, awaitGpu);
    bp.written(5);
    const d = bp.drain();
    await tick();
    expect(seen).toHaveLength(1);
    expect(q.submits).toBe(1);
    q.complete();
    await d;
    expect(bp.bytesInFlight).toBe(0);
  });
});
