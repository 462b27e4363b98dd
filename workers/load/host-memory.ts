// Host (CPU) memory sampling during loads, the same code in Node and in a browser worker.
// Node: process.memoryUsage().rss, reached through globalThis so the browser bundle never imports node.
// Browser: performance.measureUserAgentSpecificMemory() where allowed (cross-origin isolated), else the JS heap
// size (performance.memory, Chromium), else nothing. A dedicated worker, where the engine runs, has neither: there a
// load reports what it holds itself (host-ledger.ts, source 'loader-accounted'), as it does beside rss in Node.
// Note for CPU WebGPU adapters (SwiftShader, lavapipe): GPU buffers live in the process's own memory and count in
// rss; the load report says so through `source`, and the benchmark subtracts the ledger there.

export interface HostMemorySample {
  bytes: number;
  source: HostMemorySource;
}

export type HostMemorySource = 'rss' | 'measureUserAgentSpecificMemory' | 'jsHeap' | 'none';

interface NodeProcessLike {
  memoryUsage?: { rss?: () => number } & (() => { rss: number });
}

type PerformanceWithMemory = Performance & {
  memory?: { usedJSHeapSize: number };
  measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }>;
};

/** One sample, synchronously where possible (rss, JS heap). */
export function sampleHostMemorySync(): HostMemorySample {
  const proc = (globalThis as { process?: NodeProcessLike }).process;
  const mu = proc?.memoryUsage;
  if (typeof mu === 'function') return { bytes: typeof mu.rss === 'function' ? mu.rss() : mu().rss, source: 'rss' };
  const perf = (globalThis as { performance?: PerformanceWithMemory }).performance;
  if (perf?.memory) return { bytes: perf.memory.usedJSHeapSize, source: 'jsHeap' };
  return { bytes: 0, source: 'none' };
}

/** One sample, using measureUserAgentSpecificMemory in a cross-origin-isolated browser context. */
export async function sampleHostMemory(): Promise<HostMemorySample> {
  const perf = (globalThis as { performance?: PerformanceWithMemory }).performance;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  if (!(globalThis as { process?: unknown }).process && isolated && perf?.measureUserAgentSpecificMemory) {
    try {
      return { bytes: (await perf.measureUserAgentSpecificMemory()).bytes, source: 'measureUserAgentSpecificMemory' };
    } catch {
      // not allowed here: fall back
    }
  }
  return sampleHostMemorySync();
}

/**
 * Samples host memory every `intervalMs` (and whenever `mark()` is called) and keeps the peak. Synchronous sources
 * only, so marks from hot loops are cheap; measureUserAgentSpecificMemory is too slow to sample a load with.
 */
export class HostMemoryMonitor {
  readonly baseline: HostMemorySample;
  private peakBytes: number;
  private timer: ReturnType<typeof setInterval> | null;

  constructor(intervalMs = 20) {
    this.baseline = sampleHostMemorySync();
    this.peakBytes = this.baseline.bytes;
    this.timer = setInterval(() => this.mark(), intervalMs);
  }

  get source(): HostMemorySource {
    return this.baseline.source;
  }

  mark(): void {
    const s = sampleHostMemorySync().bytes;
    if (s > this.peakBytes) this.peakBytes = s;
  }

  get peak(): number {
    return this.peakBytes;
  }

  stop(): number {
    this.mark();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    return this.peakBytes;
  }
}
