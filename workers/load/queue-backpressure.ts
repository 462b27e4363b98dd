// The one back-pressure of a load on the GPU queue: Dawn (or the browser) keeps the bytes of a queue.writeBuffer until
// the queue has executed it, so a load counts the bytes it writes (submitting them every `fenceBytes`) and throttle()
// waits for the queue whenever more than (maxFences + 1) × fenceBytes are written and not known to be executed. The
// writes in flight are then bounded by that plus one tensor or chunk, whatever the model's size.
//   streamed strategies: a submission per staging slot, three slots in flight (gpu-upload.ts stages chunk by chunk);
//   naive and fp16: a submission per 32 MiB written, waited for at the next throttle (a tensor's words at a time).
//
// No GPU promise is pending unless the load is waiting for it: the fence (queue.onSubmittedWorkDone, over everything
// submitted) is asked for only when throttle() has to wait, and awaited through the context's awaitGpu
// (gpu/gpu-wait.ts). On dawn.node any pending promise keeps its event polling spinning: fences made ahead, two of
// them pending for nearly the whole load as this file once kept them, had it spin through every wait for the network
// as well (README, "Host memory of streamed-int8").
import type { GpuAwait } from '../gpu/gpu-wait.ts';
import type { LoadMeter } from './load-meter.ts';

export interface BackpressureOptions {
  /** Bytes written between submissions. */
  fenceBytes: number;
  /** Submissions beyond the current one that may be in flight after throttle(). */
  maxFences: number;
}

/** naive and fp16: wait for the queue after every 32 MiB of writes. */
export const WHOLE_FILE_BACKPRESSURE: BackpressureOptions = { fenceBytes: 32 * 1024 * 1024, maxFences: 0 };

export class QueueBackpressure {
  private sinceSubmit = 0;
  /** Bytes written since the last fence was asked for (the queue may not have executed them). */
  private inFlight = 0;

  constructor(
    private readonly queue: GPUQueue,
    private readonly meter: LoadMeter,
    private readonly opts: BackpressureOptions,
    /** How a wait is awaited (GpuContext.awaitGpu). */
    private readonly awaitGpu: GpuAwait = (p) => p,
  ) {}

  /**
   * Counts bytes given to queue.writeBuffer toward the bound, and submits after every `fenceBytes`: writeBuffer alone
   * is not submitted work, and on the CPU-conversion path, where nothing else submits, Dawn's upload buffers for the
   * writes reached 33 MiB beyond the ledger during streamed-int8 on lavapipe (1B checkpoint), 16 MiB with the submit.
   */
  written(n: number): void {
    this.inFlight += n;
    this.sinceSubmit += n;
    if (this.sinceSubmit >= this.opts.fenceBytes) {
      this.sinceSubmit = 0;
      this.queue.submit([]);
    }
  }

  /** Counts GPU work already submitted (a dispatch over `n` bytes) toward the bound: writes after it wait behind it. */
  submitted(n: number): void {
    this.inFlight += n;
  }

  /** Bytes written and not known to be executed. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Waits for the queue while more than (maxFences + 1) × fenceBytes are in flight (call between tensors or chunks). */
  async throttle(): Promise<void> {
    if (this.inFlight <= (this.opts.maxFences + 1) * this.opts.fenceBytes) return;
    const t = this.meter.now();
    this.meter.sampleHost();
    await this.fence();
    this.meter.timeSince('upload', t);
  }

  /** Waits for every write and dispatch queued so far (the end of a load). */
  async drain(): Promise<void> {
    const t = this.meter.now();
    this.meter.sampleHost();
    await this.fence();
    this.sinceSubmit = 0;
    this.meter.timeSince('upload', t);
  }

  /** Submits what is written and waits until the queue has executed everything submitted. */
  private async fence(): Promise<void> {
    const covered = this.inFlight;
    this.queue.submit([]);
    await this.awaitGpu(this.queue.onSubmittedWorkDone());
    // writes made while waiting (none in the strategies, which wait between them) stay counted
    this.inFlight -= covered;
  }
}
