// Hugging Face's repetition penalty (transformers' RepetitionPenaltyLogitsProcessor, from the CTRL paper): every id
// that occurs anywhere in the sequence so far (prompt and generated ids alike) has its logit l replaced by
//   l < 0 ? l * penalty : l / penalty
// once, however often it occurs, before temperature, top-k and top-p. This file holds the set of ids in the sequence
// (a bitset over the vocabulary, kept on the CPU by generation and copied to the GPU as it changes); the CPU reference
// is workers/testing/repetition-penalty-reference.ts. RepetitionPenalty owns shaders/repetition_penalty.wgsl, which
// applies it to a logits row in place.
import source from '../../shaders/repetition_penalty.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d, uniformData } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

/**
 * The set of ids in a sequence, as bits: word w bit b is id 32w + b (words beyond `words` are all zero: an id past
 * the initial vocabulary grows it). Tracks which words changed since the last takeChanged(), so that the GPU copy is
 * updated by what changed alone.
 */
export class TokenSet {
  words: Uint32Array;
  private changedFrom = Infinity;
  private changedTo = -1;

  constructor(vocab = 0) {
    this.words = new Uint32Array(Math.ceil(vocab / 32));
    if (this.words.length > 0) this.changed(0, this.words.length - 1);
  }

  has(id: number): boolean {
    return (this.words[id >>> 5] & (1 << (id & 31))) !== 0;
  }

  add(id: number): void {
    const w = id >>> 5;
    if (w >= this.words.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const bit = 1 << (id & 31);
    if ((this.words[w] & bit) !== 0) return;
    this.words[w] |= bit;
    this.changed(w, w);
  }

  addAll(ids: Iterable<number>): void {
    for (const id of ids) this.add(id);
  }

  clear(): void {
    this.words.fill(0);
    if (this.words.length > 0) this.changed(0, this.words.length - 1);
  }

  /** The range of words [from, to) changed since the last call (null when none), and forgets it. */
  takeChanged(): { from: number; to: number } | null {
    if (this.changedTo < 0) return null;
    const r = { from: this.changedFrom, to: this.changedTo + 1 };
    this.changedFrom = Infinity;
    this.changedTo = -1;
    return r;
  }

  private changed(from: number, to: number): void {
    this.changedFrom = Math.min(this.changedFrom, from);
    this.changedTo = Math.max(this.changedTo, to);
  }
}

/** Bytes of the GPU copy of a TokenSet over `vocab` ids. */
export function tokenSetBytes(vocab: number): number {
  return Math.max(16, Math.ceil(vocab / 32) * 4);
}

export interface RepetitionPenaltyBinding {
  readonly bindGroup: GPUBindGroup;
  readonly params: GPUBuffer;
  /** The GPU copy of the set: u32 [ceil(vocab / 32)]. */
  readonly seen: GPUBuffer;
  readonly vocab: number;
  readonly rowOffset: number;
  readonly workgroups: [number, number];
}

export class RepetitionPenalty {
  private readonly kp: KernelPipeline;
  private readonly wg: number;

  constructor(private readonly ctx: GpuContext) {
    const lim = Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX, 256);
    this.wg = 1 << Math.floor(Math.log2(lim));
    this.kp = createKernelPipeline(ctx, 'repetitionPenalty', source, ['storage', 'read', 'uniform'], { WG: this.wg });
  }

  /** Penalises logits[rowOffset .. rowOffset + vocab) in place by the ids set in `seen` (see tokenSetBytes). */
  bind(label: string, logits: GPUBuffer, rowOffset: number, vocab: number, seen: GPUBuffer, group: BufferGroup): RepetitionPenaltyBinding {
    const params = group.createBuffer({
      label: `repetitionPenalty.params.${label}`,
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      category: 'uniforms',
    });
    const binding = {
      bindGroup: createBindGroup(this.ctx, `repetitionPenalty.bindGroup.${label}`, this.kp, [logits, seen, params]),
      params,
      seen,
      vocab,
      rowOffset,
      workgroups: dispatch1d(Math.ceil(vocab / this.wg), this.ctx.limits.maxComputeWorkgroupsPerDimension),
    };
    this.setPenalty(binding, 1);
    return binding;
  }

  /** Writes the penalty (> 0; takes effect for the next submitted pass). */
  setPenalty(b: RepetitionPenaltyBinding, penalty: number): void {
    if (!(penalty > 0)) throw new Error(`repetition penalty must be > 0, got ${penalty}`);
    this.ctx.device.queue.writeBuffer(b.params, 0, uniformData([['u32', b.vocab], ['u32', b.rowOffset], ['f32', penalty], ['u32', 0]]));
  }

  /** Copies what changed in `set` since the last call to the GPU copy (ids past the binding's vocab are left out). */
  upload(b: RepetitionPenaltyBinding, set: TokenSet): void {
    const changed = set.takeChanged();
    if (!changed) return;
    const words = Math.ceil(b.vocab / 32);
    const to = Math.min(changed.to, words);
    if (to > changed.from) this.ctx.device.queue.writeBuffer(b.seen, changed.from * 4, set.words, changed.from, to - changed.from);
  }

  encode(pass: ComputePass, b: RepetitionPenaltyBinding): void {
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(...b.workgroups);
  }
}
