// Where streamed-int8 lands each linear's fp16 bytes before quantizing them: one scratch region (ledger category
// 'staging'), reused by every quantized linear of the load, instead of buffers created and destroyed per tensor.
// Per-tensor buffers freed one after another held memory in proportion to the model beyond the ledger (measured on
// lavapipe: Dawn frees a destroyed buffer only once a later submission has completed, so the fp16 linear freed last
// was still allocated while the next streamed in: README, "Host memory of streamed-int8"). The
// scratch is sized by the largest linear still to come (the plan's figure, quantizeScratchBytes); it shrinks when
// the largest of those is done and is released after the last one, so the GPU peak stays the final weights plus at
// most one fp16 linear. The quantize uniforms are made once per shape and kept while tensors of that shape remain.
// Nothing per tensor outlives its quantization but its int8 weight and scales.
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { alignedSize } from '../gpu/ledger.ts';
import type { QuantizeRows, QuantizeRowsPlan } from '../kernels/quantize-rows.ts';
import { allocateTensor, rowCount, rowsPerPart, wordsPerRow, type GpuTensor } from '../gpu/tensor.ts';

/** A linear's fp16 row split: bytes of each part, as allocateTensor would split it at `maxBindingBytes`. */
export function fp16PartBytes(name: string, shape: readonly number[], maxBindingBytes: number): number[] {
  const rowBytes = wordsPerRow('f16x2', shape) * 4;
  const rows = rowCount(shape);
  const per = rowsPerPart(name, rowBytes, rows, maxBindingBytes);
  const out: number[] = [];
  for (let r = 0; r < rows; r += per) out.push(alignedSize(Math.min(per, rows - r) * rowBytes));
  return out;
}

/**
 * Part by part, the largest of the given linears' fp16 parts: the scratch that any one of them fits. Unsplit (any
 * linear within one storage binding) it is the largest linear; where linears are split by rows, each part also fits
 * the others' rows of other sizes (a little more than the largest at real sizes, a few rows a part).
 */
export function scratchPartBytes(linears: readonly { name: string; shape: readonly number[] }[], maxBindingBytes: number): number[] {
  const out: number[] = [];
  for (const l of linears) fp16PartBytes(l.name, l.shape, maxBindingBytes).forEach((b, i) => (out[i] = Math.max(out[i] ?? 0, b)));
  return out;
}

/** GPU bytes of the scratch for these linears (the plan's 'staging' of streamed-int8). */
export function quantizeScratchBytes(linears: readonly { name: string; shape: readonly number[] }[], maxBindingBytes: number): number {
  return scratchPartBytes(linears, maxBindingBytes).reduce((a, b) => a + b, 0);
}

/** What quantizeFromScratch hands over: the int8 weight and its scales, created through the load's group. */
export interface QuantizedParts {
  readonly weight: GpuTensor;
  readonly scales: GPUBuffer;
}

const key = (shape: readonly number[]) => shape.join('x');

export class QuantizeScratch {
  private buffers: GPUBuffer[] = [];
  private group: BufferGroup | null = null;
  /** Linears still to come, by shape (begin() counts them; each quantization takes one off). */
  private readonly remaining = new Map<string, { name: string; shape: readonly number[]; count: number }>();
  /** Per shape: the dispatch plan and its uniforms, while tensors of that shape remain. */
  private readonly plans = new Map<string, { plan: QuantizeRowsPlan; uniforms: GPUBuffer[] }>();
  /** The view handed out and not yet quantized (one linear at a time). */
  private pending: GpuTensor | null = null;

  constructor(
    private readonly ctx: GpuContext,
    private readonly kernel: () => QuantizeRows,
    /** Bytes per storage binding, for the fp16 view and the int8 weight alike. */
    private readonly maxBindingBytes: number,
  ) {}

  /** The ledger bytes the scratch holds now (buffers and kept uniforms). */
  get bytes(): number {
    let n = 0;
    for (const b of this.buffers) n += b.size;
    for (const p of this.plans.values()) for (const u of p.uniforms) n += u.size;
    return n;
  }

  /** A new load: the linears it will quantize (their shapes decide the scratch). Releases anything left over. */
  begin(linears: readonly { name: string; shape: readonly number[] }[]): void {
    this.end();
    for (const l of linears) {
      const k = key(l.shape);
      const r = this.remaining.get(k);
      if (r) r.count++;
      else this.remaining.set(k, { name: l.name, shape: l.shape, count: 1 });
    }
  }

  /** Whether `t` is the view this scratch handed out. */
  holds(t: GpuTensor): boolean {
    return t === this.pending;
  }

  /**
   * The fp16 tensor `name` [out, in] laid over the scratch (allocated through `group` if it is missing or too small).
   * The caller writes the linear's words into it and then calls quantize(); the next view reuses the same bytes.
   */
  view(group: BufferGroup, name: string, shape: readonly number[]): GpuTensor {
    if (this.pending) throw new Error(`quantize scratch: '${name}' while '${this.pending.name}' is not quantized yet`);
    const parts = fp16PartBytes(name, shape, this.maxBindingBytes);
    const need = this.need();
    parts.forEach((b, i) => (need[i] = Math.max(need[i] ?? 0, b)));
    if (this.group !== group || parts.some((b, i) => !this.buffers[i] || this.buffers[i].size < b)) {
      // Only a linear that begin() did not announce finds a scratch too small: let that one go at once.
      if (this.group && !this.group.isDestroyed) for (const b of this.buffers) this.group.release(b);
      this.buffers = [];
      this.allocate(group, need);
    }
    const rowWords = wordsPerRow('f16x2', shape);
    const rows = rowCount(shape);
    const per = rowsPerPart(name, rowWords * 4, rows, this.maxBindingBytes);
    this.pending = {
      name,
      shape,
      format: 'f16x2',
      rowWords,
      parts: parts.map((_, i) => ({ buffer: this.buffers[i], rowStart: i * per, rows: Math.min(per, rows - i * per) })),
    };
    return this.pending;
  }

  /**
   * Quantizes the view into a new int8 weight + scales (through the view's group) and submits the work, without
   * waiting for it: the queue runs the next linear's writes into the scratch after this dispatch. Waits only where
   * the scratch shrinks (the largest linear still to come is smaller): until the device has let the old one go.
   */
  async quantize(view: GpuTensor): Promise<QuantizedParts> {
    if (view !== this.pending || !this.group) throw new Error(`quantize scratch: '${view.name}' is not the pending view`);
    const group = this.group;
    const k = key(view.shape);
    const weight = allocateTensor(group, view.name, view.shape, 'i8x4', { maxBindingBytes: this.maxBindingBytes, category: 'weights' });
    const scales = group.createBuffer({
      label: `${view.name}.scales`,
      size: rowCount(view.shape) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      category: 'scales',
    });
    const kernel = this.kernel();
    let p = this.plans.get(k);
    if (!p) {
      const plan = kernel.plan(view, weight);
      p = { plan, uniforms: kernel.createUniforms(plan, group, `scratch.${k}`) };
      this.plans.set(k, p);
    }
    const binding = kernel.bindPlan(p.plan, view, weight, scales, p.uniforms);
    const enc = this.ctx.device.createCommandEncoder({ label: `quantize_rows.${view.name}` });
    const pass = enc.beginComputePass({ label: `quantize_rows.${view.name}` });
    kernel.encode(pass, binding);
    pass.end();
    this.ctx.device.queue.submit([enc.finish()]);
    this.pending = null;
    await this.done(k);
    return { weight, scales };
  }

  /**
   * Releases the scratch and the uniforms, once the device has freed the scratch (a load that failed has destroyed
   * its group: then only forgets them).
   */
  async end(): Promise<void> {
    const retired = this.releaseBuffers();
    for (const k of [...this.plans.keys()]) this.releasePlan(k);
    this.remaining.clear();
    this.pending = null;
    this.group = null;
    await retired;
  }

  /** One linear of this shape done: its plan goes when none of the shape remains, the scratch shrinks to what is left. */
  private async done(k: string): Promise<void> {
    const r = this.remaining.get(k);
    if (r && --r.count <= 0) this.remaining.delete(k);
    if (!this.remaining.has(k)) this.releasePlan(k);
    const need = this.need();
    const have = this.buffers.reduce((a, b) => a + b.size, 0);
    if (need.reduce((a, b) => a + b, 0) < have) await this.releaseBuffers(); // re-created, smaller, by the next view()
  }

  /** Part sizes that fit every linear still to come. */
  private need(): number[] {
    return scratchPartBytes([...this.remaining.values()], this.maxBindingBytes);
  }

  private allocate(group: BufferGroup, partBytes: readonly number[]): void {
    if (this.group && this.group !== group) for (const k of [...this.plans.keys()]) this.releasePlan(k);
    this.group = group;
    this.buffers = partBytes.map((size, i) =>
      group.createBuffer({
        label: `load.quantizeScratch.${i}`,
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        category: 'staging',
      }),
    );
  }

  /** Lets the scratch go; resolves once the device has freed it (BufferGroup.retire) and the ledger says so. */
  private async releaseBuffers(): Promise<void> {
    const g = this.group;
    const buffers = this.buffers;
    this.buffers = [];
    if (g && !g.isDestroyed) await Promise.all(buffers.map((b) => g.retire(b)));
  }

  private releasePlan(k: string): void {
    const p = this.plans.get(k);
    this.plans.delete(k);
    const g = this.group;
    if (p && g && !g.isDestroyed) for (const u of p.uniforms) g.release(u);
  }
}
