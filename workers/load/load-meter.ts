// Timings, byte counts, progress callbacks and peaks (GPU ledger, host memory) of one load. Every counter is written
// through a method here; the rest of the load reads them.
import type { LoadPhase, LoadProgress, LoadTimings } from '../api.ts';
import type { MemoryLedger } from '../gpu/ledger.ts';
import { HostLedger } from '../gpu/host-ledger.ts';
import { HostMemoryMonitor, type HostMemorySource } from './host-memory.ts';

/** Where a load's time goes (LoadTimings without total and compile, which the meter and load-model.ts give). */
export type LoadTimer = 'network' | 'convert' | 'upload' | 'quantize' | 'cache';

export class LoadMeter {
  readonly now = () => performance.now();
  readonly t0 = this.now();
  private readonly ms: Record<LoadTimer, number> = { network: 0, convert: 0, upload: 0, quantize: 0, cache: 0 };
  private fetchedBytes = 0;
  private cachedBytes = 0;
  private totalBytes: number;
  private doneTensors = 0;
  private tensorNow: string | undefined;
  private phaseNow: LoadPhase = 'download';
  private sinceMark = 0;
  private lastProgress = -Infinity;
  private readonly ledgerStart: number;
  private ledgerPeak: number;
  private readonly unsubscribe: () => void;
  private readonly host = new HostMemoryMonitor();
  /** Host bytes the load holds itself (host-ledger.ts); its peak is counted from the load's start. */
  readonly hostBuffers: HostLedger;

  constructor(
    private readonly ledger: MemoryLedger,
    /** Bytes the load reads; a tensor taken whole from the cache (cached int8) swaps its fp16 bytes for its own. */
    bytesTotal: number,
    readonly tensorsTotal: number,
    private readonly onProgress?: (p: LoadProgress) => void,
    hostBuffers: HostLedger = new HostLedger(),
  ) {
    this.totalBytes = bytesTotal;
    this.hostBuffers = hostBuffers;
    hostBuffers.resetPeak();
    this.ledgerStart = ledger.current;
    this.ledgerPeak = ledger.current;
    this.unsubscribe = ledger.subscribe((s) => {
      if (s.total > this.ledgerPeak) this.ledgerPeak = s.total;
    });
  }

  /** Network bytes arrived (counted once, even when a retry re-reads). */
  get bytesFetched(): number {
    return this.fetchedBytes;
  }

  /** Weight bytes read from the cache (count toward progress like network bytes). */
  get bytesFromCache(): number {
    return this.cachedBytes;
  }

  get bytesDone(): number {
    return this.fetchedBytes + this.cachedBytes;
  }

  get bytesTotal(): number {
    return this.totalBytes;
  }

  get tensorsDone(): number {
    return this.doneTensors;
  }

  /** Adds the time since `from` (a now()) to `timer`; returns now. */
  timeSince(timer: LoadTimer, from: number): number {
    const t = this.now();
    this.ms[timer] += t - from;
    return t;
  }

  /** Network bytes arrived. */
  fetched(n: number): void {
    this.fetchedBytes += n;
    this.arrived(n);
  }

  /** Bytes read from the cache. */
  fromCache(n: number): void {
    this.cachedBytes += n;
    this.arrived(n);
  }

  private arrived(n: number): void {
    this.sinceMark += n;
    if (this.sinceMark >= 4 << 20) {
      this.sinceMark = 0;
      this.sampleHost();
    }
    this.progress(false);
  }

  /** Takes a host memory sample now (besides the one every 4 MiB arrived). */
  sampleHost(): void {
    this.host.mark();
  }

  /** The tensor whose bytes are being written (progress shows it). */
  atTensor(name: string): void {
    this.tensorNow = name;
  }

  tensorDone(): void {
    this.doneTensors++;
    this.progress(false);
  }

  /** A tensor taken whole from the cache instead of its `streamedBytes` of fp16 bytes: `bytes` read from the cache. */
  cachedTensor(bytes: number, streamedBytes: number): void {
    this.totalBytes += bytes - streamedBytes;
    this.fromCache(bytes);
    this.tensorDone();
  }

  /** The load is complete: the last progress report says so. */
  done(): void {
    this.phaseNow = 'done';
    this.progress(true);
  }

  progress(force: boolean): void {
    if (!this.onProgress) return;
    const t = this.now();
    if (!force && t - this.lastProgress < 100) return;
    this.lastProgress = t;
    const s = (t - this.t0) / 1000;
    const rate = s > 0 ? this.bytesDone / 1e6 / s : 0;
    this.onProgress({
      phase: this.phaseNow,
      bytesDone: this.bytesDone,
      bytesTotal: this.totalBytes,
      bytesFetched: this.bytesFetched,
      bytesFromCache: this.bytesFromCache,
      tensorsDone: this.doneTensors,
      tensorsTotal: this.tensorsTotal,
      mbPerS: rate,
      etaS: rate > 0 ? (this.totalBytes - this.bytesDone) / 1e6 / rate : NaN,
      currentTensor: this.tensorNow,
    });
  }

  /** This load's own GPU peak: the ledger's highest total during the load minus what it held before. */
  get peakGpuBytes(): number {
    return this.ledgerPeak - this.ledgerStart;
  }

  timings(): LoadTimings {
    return {
      totalMs: this.now() - this.t0,
      networkMs: this.ms.network,
      convertMs: this.ms.convert,
      uploadMs: this.ms.upload,
      quantizeMs: this.ms.quantize,
      compileMs: 0,
      cacheMs: this.ms.cache,
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
