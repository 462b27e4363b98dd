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
});
