// The one back-pressure of a load on the GPU queue: Dawn (or the browser) keeps the bytes of a queue.writeBuffer until
// the queue has executed it, so a load counts the bytes it writes and, after every `fenceBytes`, asks for a fence
// (an empty submission, then queue.onSubmittedWorkDone); throttle() waits while more than `maxFences` fences are outstanding, oldest first.
// The writes in flight are then bounded by about (maxFences + 1) × fenceBytes plus one tensor or chunk, whatever the
// model's size, while the network and the GPU still overlap.
//   streamed strategies: a fence per staging slot, two outstanding (gpu-upload.ts stages chunk by chunk);
//   naive and fp16: a fence per 32 MiB written, none left outstanding at a throttle (a tensor's words at a time).
import type { LoadMeter } from './load-meter.ts';

export interface BackpressureOptions {
  /** Bytes written between fences. */
  fenceBytes: number;
  /** Fences that may be outstanding after throttle(). */
  maxFences: number;
}

/** naive and fp16: wait for the queue after every 32 MiB of writes. */
export const WHOLE_FILE_BACKPRESSURE: BackpressureOptions = { fenceBytes: 32 * 1024 * 1024, maxFences: 0 };

export class QueueBackpressure {
  private readonly fences: Promise<void>[] = [];
  private sinceFence = 0;

  constructor(
    private readonly queue: GPUQueue,
    private readonly meter: LoadMeter,
    private readonly opts: BackpressureOptions,
  ) {}

  /**
   * Counts bytes given to queue.writeBuffer toward the next fence. A fence submits first, so that it covers the writes
   * before it: writeBuffer alone is not submitted work, and on the CPU-conversion path, where nothing else submits,
   * Dawn's upload buffers for the writes reached 33 MiB beyond the ledger during streamed-int8 on lavapipe (1B
   * checkpoint), 16 MiB with the submit.
   */
  written(n: number): void {
    this.sinceFence += n;
    if (this.sinceFence >= this.opts.fenceBytes) {
      this.sinceFence = 0;
      this.queue.submit([]);
      this.fences.push(this.queue.onSubmittedWorkDone());
    }
  }

  /** Waits while more than `maxFences` fences are outstanding (call between tensors or chunks). */
  async throttle(): Promise<void> {
    if (this.fences.length <= this.opts.maxFences) return;
    const t = this.meter.now();
    this.meter.sampleHost();
    while (this.fences.length > this.opts.maxFences) await this.fences.shift();
    this.meter.timeSince('upload', t);
  }

  /** Waits for every fence and every write and dispatch queued so far (the end of a load). */
  async drain(): Promise<void> {
    const t = this.meter.now();
    this.meter.sampleHost();
    await Promise.all(this.fences.splice(0));
    this.queue.submit([]);
    await this.queue.onSubmittedWorkDone();
    this.sinceFence = 0;
    this.meter.timeSince('upload', t);
  }
}
