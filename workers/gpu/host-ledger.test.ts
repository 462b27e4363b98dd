import { describe, expect, it } from 'vitest';
import { HostLedger } from './host-ledger.ts';

describe('HostLedger', () => {
  it('counts holds and releases, keeping the peak', () => {
    const h = new HostLedger();
    const a = h.hold(100);
    const b = h.hold(50);
    expect(h.current).toBe(150);
    a();
    expect(h.current).toBe(50);
    const c = h.hold(20);
    expect(h.current).toBe(70);
    expect(h.peak).toBe(150);
    b();
    c();
    expect(h.current).toBe(0);
    expect(h.peak).toBe(150);
  });

  it('releases once however often a release is called', () => {
    const h = new HostLedger();
    const a = h.hold(10);
    h.hold(5);
    a();
    a();
    expect(h.current).toBe(5);
  });

  it('holds during a call and releases when it throws', async () => {
    const h = new HostLedger();
    await expect(h.during(64, () => (expect(h.current).toBe(64), 'ok'))).resolves.toBe('ok');
    await expect(
      h.during(32, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(h.current).toBe(0);
    expect(h.peak).toBe(64);
  });

  it('restarts the peak from what is held now', () => {
    const h = new HostLedger();
    const a = h.hold(1000);
    const b = h.hold(10);
    a();
    h.resetPeak();
    expect(h.peak).toBe(10);
    b();
    expect(h.peak).toBe(10);
  });

  it('refuses a negative or non-finite size', () => {
    const h = new HostLedger();
    expect(() => h.hold(-1)).toThrow(RangeError);
    expect(() => h.hold(NaN)).toThrow(RangeError);
    expect(() => h.hold(Infinity)).toThrow(RangeError);
  });
});
