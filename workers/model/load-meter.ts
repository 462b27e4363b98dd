// Timings, byte counts, progress callbacks and peaks (GPU ledger, host memory) of one load.
import type { LoadPhase, LoadProgress, LoadTimings } from '../api.ts';
import type { MemoryLedger } from '../gpu/ledger.ts';
import { HostLedger } from './host-ledger.ts';
import { HostMemoryMonitor, type HostMemorySource } from './host-memory.ts';

/** Backpressure: after this many bytes written with queue.writeBuffer, wait for the queue (bounds its staging). */
const UPLOAD_FLUSH_BYTES = 32 * 1024 * 1024;

export class LoadMeter {
  readonly now = () => performance.now();
  readonly t0 = this.now();
  networkMs = 0;
  convertMs = 0;
  uploadMs = 0;
  quantizeMs = 0;
  cacheMs = 0;
  bytesFetched = 0;
  /** Weight bytes read from the cache (count toward progress like network bytes). */
  bytesFromCache = 0;
  tensorsDone = 0;
  currentTensor: string | undefined;
  phase: LoadPhase = 'download';
  private pendingUpload = 0;
  private sinceMark = 0;
  private lastProgress = -Infinity;
  private readonly ledgerStart: number;
  private ledgerPeak: number;
  private readonly unsubscribe: () => void;
  readonly host = new HostMemoryMonitor();
  /** Host bytes the load holds itself (host-ledger.ts); its peak is counted from the load's start. */
  readonly hostBuffers: HostLedger;

  constructor(
    private readonly ledger: MemoryLedger,
    private readonly queue: GPUQueue,
    /** Bytes the load reads; a tensor taken whole from the cache (kept int8) swaps its fp16 bytes for its own. */
    public bytesTotal: number,
    readonly tensorsTotal: number,
    private readonly onProgress?: (p: LoadProgress) => void,
    hostBuffers: HostLedger = new HostLedger(),
  ) {
    this.hostBuffers = hostBuffers;
    hostBuffers.resetPeak();
    this.ledgerStart = ledger.current;
    this.ledgerPeak = ledger.current;
    this.unsubscribe = ledger.subscribe((s) => {
      if (s.total > this.ledgerPeak) this.ledgerPeak = s.total;
    });
  }

  /** Network bytes arrived (counted once, even when a retry re-reads). */
  fetched(n: number): void {
    this.bytesFetched += n;
    this.arrived(n);
  }

  /** Bytes read from the cache. */
  fromCache(n: number): void {
    this.bytesFromCache += n;
    this.arrived(n);
  }

  get bytesDone(): number {
    return this.bytesFetched + this.bytesFromCache;
  }

  private arrived(n: number): void {
    this.sinceMark += n;
    if (this.sinceMark >= 4 << 20) {
      this.sinceMark = 0;
      this.host.mark();
    }
    this.progress(false);
  }

  uploaded(n: number): void {
    this.pendingUpload += n;
  }

  /** Waits for the GPU queue when enough writes are pending, so staging memory stays bounded. */
  async drainIfNeeded(force = false): Promise<void> {
    if (this.pendingUpload < UPLOAD_FLUSH_BYTES && !(force && this.pendingUpload > 0)) return;
    const t = this.now();
    this.host.mark();
    this.queue.submit([]);
    await this.queue.onSubmittedWorkDone();
    this.uploadMs += this.now() - t;
    this.pendingUpload = 0;
  }

  tensorDone(): void {
    this.tensorsDone++;
    this.progress(false);
  }

  progress(force: boolean): void {
    if (!this.onProgress) return;
    const t = this.now();
    if (!force && t - this.lastProgress < 100) return;
    this.lastProgress = t;
    const s = (t - this.t0) / 1000;
    const rate = s > 0 ? this.bytesDone / 1e6 / s : 0;
    this.onProgress({
      phase: this.phase,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      bytesFetched: this.bytesFetched,
      bytesFromCache: this.bytesFromCache,
      tensorsDone: this.tensorsDone,
      tensorsTotal: this.tensorsTotal,
      mbPerS: rate,
      etaS: rate > 0 ? (this.bytesTotal - this.bytesDone) / 1e6 / rate : NaN,
      currentTensor: this.currentTensor,
    });
  }

  /** This load's own GPU peak: the ledger's highest total during the load minus what it held before. */
  get peakGpuBytes(): number {
    return this.ledgerPeak - this.ledgerStart;
  }

  timings(): LoadTimings {
    return {
      totalMs: this.now() - this.t0,
      networkMs: this.networkMs,
      convertMs: this.convertMs,
      uploadMs: this.uploadMs,
      quantizeMs: this.quantizeMs,
      compileMs: 0,
      cacheMs: this.cacheMs,
    };
  }

  /**
   * Ends the sampling. `peakHostGrowth`: the process's growth where it can be measured (rss), else null;
   * `peakHostBuffers`: the most bytes the load held itself at once.
   */
  stop(): { peakHostGrowth: number | null; source: HostMemorySource; peakHostBuffers: number } {
    this.unsubscribe();
    const peak = this.host.stop();
    // Only rss sees ArrayBuffer backing stores; the JS heap size does not, so it is no measure of a load's bytes.
    const growth = this.host.source === 'rss' ? Math.max(0, peak - this.host.baseline.bytes) : null;
    return { peakHostGrowth: growth, source: this.host.source, peakHostBuffers: this.hostBuffers.peak };
  }
}
