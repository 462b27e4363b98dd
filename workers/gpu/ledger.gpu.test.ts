// The ledger's account of buffers let go: retire() counts a buffer until the device has let its memory go.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from './device.ts';
import { nodeGpuContext } from './node-gpu.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeGpuContext();
});
afterAll(() => ctx?.device.destroy());

const desc = (label: string, size: number) => ({ label, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, category: 'staging' as const });

describe('MemoryLedger.retire', () => {
  it('counts a retired buffer until the queue has moved past it, then not at all', async () => {
    const base = ctx.ledger.current;
    const group = ctx.ledger.group('retire');
    group.createBuffer(desc('keep', 1024));
    const b = group.createBuffer(desc('scratch', 1 << 20));
    ctx.device.queue.writeBuffer(b, 0, new Uint8Array(1 << 20));
    const retired = group.retire(b);
    // the group no longer owns it, the ledger still counts it (the device has not freed it yet)
    expect(group.bytes).toBe(1024);
    expect(ctx.ledger.current).toBe(base + 1024 + (1 << 20));
    expect(ctx.ledger.live().map((l) => l.label)).toContain('scratch');
    await retired;
    expect(ctx.ledger.current).toBe(base + 1024);
    expect(ctx.ledger.live().map((l) => l.label)).not.toContain('scratch');
    // retiring twice, or a buffer of another group, is a bug
    expect(() => group.retire(b)).toThrow(/not in group/);
    group.destroy();
    expect(ctx.ledger.current).toBe(base);
  });

  it('a group destroyed while one of its buffers retires leaves that one to the retire', async () => {
    const base = ctx.ledger.current;
    const group = ctx.ledger.group('retire-destroy');
    const a = group.createBuffer(desc('a', 4096));
    group.createBuffer(desc('b', 4096));
    const retired = group.retire(a);
    group.destroy();
    expect(ctx.ledger.current).toBe(base + 4096);
    await retired;
    expect(ctx.ledger.current).toBe(base);
  });

  it("once retire resolves the device has let the buffer's memory go, even right after a copy read it", async () => {
    // CPU adapters keep GPU memory in this process: 32 MiB written, read by a copy just submitted, retired: the
    // resident size drops by about the buffer's size by the time retire resolves. Dawn frees it in a tick of its
    // own, so this is a rate, not a certainty: with one round of submission and wait lavapipe still held it after
    // 17 of 40 retires (about 3 of these 8); with retire's rounds, none of 80. At most one miss of 8 is allowed.
    const size = 32 << 20;
    const piece = new Uint8Array(1 << 20).fill(7);
    const dst = ctx.ledger.createBuffer({ ...desc('dst', size), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    for (let o = 0; o < size; o += piece.length) ctx.device.queue.writeBuffer(dst, o, piece); // resident before
    const dropsMiB: number[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const b = ctx.ledger.createBuffer({ ...desc('src', size), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
        for (let o = 0; o < size; o += piece.length) ctx.device.queue.writeBuffer(b, o, piece);
        ctx.device.queue.submit([]);
        await ctx.device.queue.onSubmittedWorkDone();
        const enc = ctx.device.createCommandEncoder();
        enc.copyBufferToBuffer(b, 0, dst, 0, size);
        ctx.device.queue.submit([enc.finish()]);
        const before = process.memoryUsage().rss;
        await ctx.ledger.retire(b);
        dropsMiB.push(Math.round((before - process.memoryUsage().rss) / 2 ** 20));
      }
    } finally {
      ctx.ledger.destroy(dst);
    }
    expect(dropsMiB.filter((d) => d < 24).length, `rss drop per retire (MiB): ${dropsMiB.join(' ')}`).toBeLessThanOrEqual(1);
  });
});
