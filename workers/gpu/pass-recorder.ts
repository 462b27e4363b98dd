// Recording a forward's compute passes: what kernels record into (ComputePass, the part of GPUComputePassEncoder they
// use), how many dispatches and passes a forward took, and — when profiling — the GPU time of each kernel kind.
// Core WebGPU writes timestamps only at pass boundaries (timestampWrites), so a profiled forward puts every dispatch in
// a pass of its own, labelled by its pipeline; that adds a little cost per dispatch, so counts and wall times are
// measured with profiling off and kernel times with it on.
import type { GpuContext } from './device.ts';

/** The commands a kernel owner's encode() records. A GPUComputePassEncoder is one; so is a RecordingPass. */
export interface ComputePass {
  setPipeline(pipeline: GPUComputePipeline): void;
  setBindGroup(index: number, group: GPUBindGroup): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
}

export interface RecordCounts {
  dispatches: number;
  passes: number;
}

/** GPU time per kernel kind (the pipeline label without `.pipeline`) over the forwards profiled since the last take. */
export interface KernelTimes {
  [kind: string]: { dispatches: number; gpuMs: number };
}

/** A compute pass that counts its dispatches and, when profiling, gives each one a timed pass of its own. */
export class RecordingPass implements ComputePass {
  private pass: GPUComputePassEncoder | null;
  private pipeline: GPUComputePipeline | null = null;
  private readonly groups: GPUBindGroup[] = [];

  constructor(
    private readonly recorder: PassRecorder,
    private readonly enc: GPUCommandEncoder,
    private readonly label: string,
  ) {
    this.pass = recorder.profiling ? null : enc.beginComputePass({ label });
    if (this.pass) recorder.counts.passes++;
  }

  setPipeline(pipeline: GPUComputePipeline): void {
    this.pipeline = pipeline;
    this.pass?.setPipeline(pipeline);
  }

  setBindGroup(index: number, group: GPUBindGroup): void {
    this.groups[index] = group;
    this.pass?.setBindGroup(index, group);
  }

  dispatchWorkgroups(x: number, y?: number, z?: number): void {
    this.recorder.counts.dispatches++;
    if (this.pass) return this.pass.dispatchWorkgroups(x, y, z);
    if (!this.pipeline) throw new Error(`${this.label}: dispatch before setPipeline`);
    const pass = this.enc.beginComputePass({ label: `${this.label}.${this.pipeline.label}`, timestampWrites: this.recorder.nextTimestamps(this.pipeline.label) });
    this.recorder.counts.passes++;
    pass.setPipeline(this.pipeline);
    this.groups.forEach((g, i) => pass.setBindGroup(i, g));
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
  }

  end(): void {
    this.pass?.end();
  }
}

/** The most queries one query set may hold (WebGPU). */
const MAX_QUERIES = 4096;

interface Profile {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
  /** Kind of each recorded pair of timestamps. */
  kinds: string[];
  capacity: number;
}

/** Counts what forwards record (reset per forward by the caller) and, with profiling on, times each dispatch. */
export class PassRecorder {
  readonly counts: RecordCounts = { dispatches: 0, passes: 0 };
  private profile: Profile | null = null;
  private readonly times: KernelTimes = {};

  constructor(private readonly ctx: GpuContext) {}

  get profiling(): boolean {
    return this.profile !== null;
  }

  resetCounts(): void {
    this.counts.dispatches = 0;
    this.counts.passes = 0;
  }

  begin(enc: GPUCommandEncoder, label: string): RecordingPass {
    return new RecordingPass(this, enc, label);
  }

  /**
   * Profiles the forwards from now on, up to `maxDispatches` dispatches each (the device must have timestamp-query).
   * Query set and buffers go through the ledger (category 'staging'); stopProfiling() frees them.
   */
  startProfiling(maxDispatches: number): void {
    if (!this.ctx.features.timestampQuery) throw new Error('profiling needs the timestamp-query feature, which this device lacks');
    this.stopProfiling();
    const capacity = 2 * Math.min(maxDispatches, MAX_QUERIES / 2);
    const bytes = capacity * 8;
    this.profile = {
      querySet: this.ctx.device.createQuerySet({ label: 'profile.timestamps', type: 'timestamp', count: capacity }),
      resolve: this.ctx.ledger.createBuffer({ label: 'profile.resolve', size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, category: 'staging' }),
      readback: this.ctx.ledger.createBuffer({ label: 'profile.readback', size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, category: 'staging' }),
      kinds: [],
      capacity,
    };
  }

  stopProfiling(): void {
    if (!this.profile) return;
    this.profile.querySet.destroy();
    this.ctx.ledger.destroy(this.profile.resolve);
    this.ctx.ledger.destroy(this.profile.readback);
    this.profile = null;
  }

  /** The timestamp writes of the next profiled dispatch, of kind `label`. */
  nextTimestamps(label: string): GPUComputePassTimestampWrites {
    const p = this.profile!;
    const i = 2 * p.kinds.length;
    if (i + 2 > p.capacity) throw new Error(`profile: more than ${p.capacity / 2} dispatches in one forward`);
    p.kinds.push(label.replace(/\.pipeline$/, ''));
    return { querySet: p.querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  /** Records the resolve of this forward's timestamps into `enc` (before it is finished); no-op when not profiling. */
  finish(enc: GPUCommandEncoder): void {
    const p = this.profile;
    if (!p || p.kinds.length === 0) return;
    const n = 2 * p.kinds.length;
    enc.resolveQuerySet(p.querySet, 0, n, p.resolve, 0);
    enc.copyBufferToBuffer(p.resolve, 0, p.readback, 0, n * 8);
  }

  /** After the forward's submit: reads its timestamps and adds them to the kernel times. */
  async collect(): Promise<void> {
    const p = this.profile;
    if (!p || p.kinds.length === 0) return;
    const n = 2 * p.kinds.length;
    await p.readback.mapAsync(GPUMapMode.READ, 0, n * 8);
    const ts = new BigUint64Array(p.readback.getMappedRange(0, n * 8).slice(0));
    p.readback.unmap();
    p.kinds.forEach((kind, i) => {
      const t = (this.times[kind] ??= { dispatches: 0, gpuMs: 0 });
      t.dispatches++;
      // a driver may report an end before its begin (timestamps are not ordered across passes everywhere): count 0
      const ns = ts[2 * i + 1] > ts[2 * i] ? Number(ts[2 * i + 1] - ts[2 * i]) : 0;
      t.gpuMs += ns / 1e6;
    });
    p.kinds.length = 0;
  }

  /** The kernel times gathered since the last take, and a fresh start. */
  takeTimes(): KernelTimes {
    const out = { ...this.times };
    for (const k of Object.keys(this.times)) delete this.times[k];
    return out;
  }
}
