import { describe, expect, it } from 'vitest';
import { MemoryLedger } from './ledger.ts';

/** A device whose buffers only remember their label (the ledger never touches their memory). */
const device = { createBuffer: (d: { label?: string }) => ({ label: d.label ?? '', destroy() {} }) } as unknown as GPUDevice;

function ledger() {
  let t = 0;
  const l = new MemoryLedger(device, () => t);
  return { l, at: (ms: number) => (t = ms) };
}

const create = (l: MemoryLedger, size: number) => l.createBuffer({ label: `b${size}`, size, usage: 0, category: 'weights' });

describe('MemoryLedger samples', () => {
  it('a burst within a millisecond keeps its highest total and its latest state, never a made-up one', () => {
    const { l, at } = ledger();
    at(10);
    const a = create(l, 400);
    at(10.2);
    const b = create(l, 800); // 1200: the burst's peak
    at(10.4);
    l.destroy(b); // 400
    at(10.6);
    l.destroy(a); // 0
    expect(l.samples().map((s) => [s.t, s.total])).toEqual([
      [0, 0],
      [10.2, 1200],
      [10.6, 0],
    ]);
    expect(Math.max(...l.samples().map((s) => s.total))).toBe(l.peak);
    // the next millisecond starts a new window
    at(12);
    create(l, 4);
    expect(l.samples().at(-1)).toMatchObject({ t: 12, total: 4 });
    expect(l.elapsed()).toBe(12);
  });

  it('a burst that only grows is one sample per millisecond window', () => {
    const { l, at } = ledger();
    for (let i = 0; i < 20; i++) {
      at(5 + i * 0.25);
      create(l, 100);
    }
    expect(l.samples().map((s) => s.total)).toEqual([0, 400, 800, 1200, 1600, 2000]);
  });
});
