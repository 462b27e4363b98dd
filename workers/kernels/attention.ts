// Owner of shaders/attention.wgsl, attention_split.wgsl and attention_combine.wgsl (and of attention_reduce.wgsl, the
// window, soft cap and workgroup reductions put in front of them): causal GQA attention of this forward's queries over
// one layer's KV cache. Per layer (bind): the score scale, Gemma 2's soft cap, and a sliding window, whose cache is a
// ring of cacheRows rows (position j in row j mod cacheRows).
// Two paths, chosen at encode() from the number of queries:
// - single pass (attention.wgsl): one workgroup per (query, head) walks the cache positions alone. Prefill has
//   tokens × heads workgroups; a decode step only n_heads, which leaves most of a GPU idle and grows with the context.
// - split-K decode (one query, GPUs): attention_split.wgsl cuts the positions into chunks, one workgroup per
//   (chunk, head) writing a partial max, sum of exp and weighted V; attention_combine.wgsl merges them. The dispatch
//   covers `chunks` chunks per head (fixed at bind(): enough workgroups to fill a GPU, no more than the context needs);
//   the shaders pick the chunk length from the cache length at run time (decodeChunkLength), so a short cache uses
//   one chunk (the split workgroup then writes the output itself and the combine returns) and a long one all of them.
//   CPU adapters keep the single pass (barriers are slow there and a CPU has no SMs to fill) unless asked.
import source from '../../shaders/attention.wgsl?raw';
import combineSource from '../../shaders/attention_combine.wgsl?raw';
import reduceSource from '../../shaders/attention_reduce.wgsl?raw';
import splitSource from '../../shaders/attention_split.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { dispatch1d } from './dispatch.ts';
import { createBindGroup, createKernelPipeline, createParams, workgroupSize, type KernelPipeline } from './pipeline.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

/** The workgroup copies one query head into workgroup memory of this many floats. */
export const MAX_HEAD_DIM = 256;

// Split-K defaults, tuned with scripts/bench-attention.ts on an H200 (32 heads, 4 KV heads, head_dim 64, µs per layer):
// min chunk 16/32/64 are within 13% of each other from T=512 up (at T=64: 21/24/29 µs), 128 is 55% slower at T=512;
// 1024 workgroups (32 chunks per head) against 256: 2.1× faster at T=2048, 2.8× at 8192; against 4096: 10% faster
// at 2048, 15% slower at 8192. The single pass: 14 µs at T=16, 168 at 512, 1085 at 2048, 4280 at 8192.
/** Split-K decode: positions per chunk at least (a chunk shorter than this costs more to merge than it saves). */
export const DEFAULT_MIN_CHUNK = 32;
/** Split-K decode: workgroups (heads × chunks) the split pass dispatches at most on a GPU, enough to fill a large one. */
export const DEFAULT_SPLIT_WORKGROUPS = 1024;

export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Rows of the KV cache (and of each scores row). */
  context: number;
}

export interface AttentionOptions {
  /** Threads per workgroup of the attention passes (a power of two; default 8 on CPU adapters, 64 on GPUs). */
  workgroupSize?: number;
  /**
   * Decode (one query) with split-K: 'auto' (default) on GPUs only, 'always' also on CPU adapters (tests),
   * 'never' the single pass everywhere (benchmarks).
   */
  splitDecode?: 'auto' | 'always' | 'never';
  /** Positions per chunk at least (default DEFAULT_MIN_CHUNK). */
  minChunk?: number;
  /** Workgroups of the split pass at most, heads × chunks (default DEFAULT_SPLIT_WORKGROUPS). */
  splitWorkgroups?: number;
}

/** What a layer's attention computes beyond plain causal softmax attention (recipe options). */
export interface AttentionLayerOptions {
  /** Multiplies q·k (default 1 / sqrt(headDim)). */
  scale?: number;
  /** Scores become softcap · tanh(s / softcap) before the softmax (Gemma 2); null or absent: none. */
  softcap?: number | null;
  /** A query sees itself and the window − 1 positions before it; null or absent: every position before it. */
  window?: number | null;
  /** Rows of the KV cache (default: the context); fewer make it a ring, which needs rows >= window − 1 + tokens. */
  cacheRows?: number;
}

export interface SplitBinding {
  readonly split: GPUBindGroup;
  readonly combine: GPUBindGroup;
  /** Chunks per head in the dispatch (> 1). */
  readonly chunks: number;
}

export interface AttentionBinding {
  readonly bindGroup: GPUBindGroup;
  readonly nHeads: number;
  /** The sliding window, or null. */
  readonly window: number | null;
  /** The split-K decode pass, or null where decode runs the single pass. */
  readonly split: SplitBinding | null;
}

/** Bytes of the scores scratch the kernel needs for `maxTokens` queries. */
export function attentionScratchBytes(shape: AttentionShape, maxTokens: number): number {
  return maxTokens * shape.nHeads * shape.context * 4;
}

/** Chunks per head of the split decode pass for this shape (1: no split). */
export function decodeChunks(shape: AttentionShape, minChunk: number, splitWorkgroups: number): number {
  return Math.max(1, Math.min(Math.ceil(shape.context / minChunk), Math.floor(splitWorkgroups / shape.nHeads)));
}

/** The chunk length the split and combine shaders use for a cache of `len` positions (mirrors the WGSL). */
export function decodeChunkLength(len: number, chunks: number, minChunk: number): number {
  return Math.max(minChunk, Math.ceil(len / chunks));
}

/** Bytes of the split pass's partials: (max, sum, head_dim weighted values) per head and chunk. */
export function attentionPartialBytes(shape: AttentionShape, chunks: number): number {
  return shape.nHeads * chunks * (shape.headDim + 2) * 4;
}

export class Attention {
  private readonly kp: KernelPipeline;
  private readonly splitKp: KernelPipeline | null;
  private readonly combineKp: KernelPipeline | null;
  private readonly minChunk: number;
  private readonly splitWorkgroups: number;
  /** One partials buffer per run state (group) and size, shared by its layers: they run one after another. */
  private readonly partials = new WeakMap<BufferGroup, Map<number, GPUBuffer>>();

  constructor(
    private readonly ctx: GpuContext,
    opts: AttentionOptions = {},
  ) {
    // A power of two (tree reductions). 64 fills two GPU warps; a CPU backend pays for every barrier across every
    // thread of the workgroup, so the software adapters get 8 (measured 3-8× faster
    // than 64 on SwiftShader and lavapipe for a 64-token prefill chunk).
    const wg = 1 << Math.floor(Math.log2(workgroupSize(ctx, opts.workgroupSize ?? (ctx.software ? 8 : 64))));
    this.kp = createKernelPipeline(ctx, 'attention', withStep(`${reduceSource}\n${source}`), ['read', 'read', 'read', 'storage', 'storage', 'uniform', 'uniform'], {
      WG: wg,
    });
    const mode = opts.splitDecode ?? 'auto';
    const split = mode === 'always' || (mode === 'auto' && !ctx.software);
    this.minChunk = Math.max(1, Math.floor(opts.minChunk ?? DEFAULT_MIN_CHUNK));
    this.splitWorkgroups = split ? Math.max(1, Math.floor(opts.splitWorkgroups ?? DEFAULT_SPLIT_WORKGROUPS)) : 0;
    this.splitKp = split
      ? createKernelPipeline(
          ctx,
          'attention_split',
          withStep(`${reduceSource}\n${splitSource}`),
          ['read', 'read', 'read', 'storage', 'storage', 'storage', 'uniform', 'uniform'],
          { WG: wg },
        )
      : null;
    this.combineKp = split
      ? createKernelPipeline(ctx, 'attention_combine', withStep(`${reduceSource}\n${combineSource}`), ['read', 'storage', 'uniform', 'uniform'], {
          WG: workgroupSize(ctx, 64),
        })
      : null;
  }

  /** Chunks per head the split decode pass of `shape` dispatches (1: decode runs the single pass). */
  chunksFor(shape: AttentionShape): number {
    return this.splitKp ? decodeChunks(shape, this.minChunk, this.splitWorkgroups) : 1;
  }

  /**
   * q, out: f32 [maxTokens, nHeads*headDim]; caches: f32 [cacheRows, nKvHeads*headDim]; scores:
   * attentionScratchBytes. The split pass's partials (attentionPartialBytes) are created through `group`, once for
   * all its layers.
   */
  bind(
    label: string,
    shape: AttentionShape,
    bufs: { q: GPUBuffer; kCache: GPUBuffer | GPUBufferBinding; vCache: GPUBuffer | GPUBufferBinding; scores: GPUBuffer; out: GPUBuffer },
    step: GPUBuffer,
    group: BufferGroup,
    layer: AttentionLayerOptions = {},
  ): AttentionBinding {
    if (shape.headDim > MAX_HEAD_DIM) throw new Error(`attention: head_dim ${shape.headDim} > ${MAX_HEAD_DIM}`);
    const window = layer.window ?? null;
    const cacheRows = layer.cacheRows ?? shape.context;
    if (window !== null && !(window >= 1)) throw new Error(`attention: window ${window}`);
    if (!(cacheRows >= 1 && cacheRows <= shape.context)) throw new Error(`attention: ${cacheRows} cache rows for a context of ${shape.context}`);
    if (cacheRows < shape.context && window === null) throw new Error('attention: a ring cache (fewer rows than the context) needs a window');
    const chunks = this.chunksFor(shape);
    const params = createParams(this.ctx, group, `attention.params.${label}`, [
      ['u32', shape.nHeads],
      ['u32', shape.nKvHeads],
      ['u32', shape.headDim],
      ['u32', shape.nHeads / shape.nKvHeads],
      ['u32', shape.context],
      ['f32', layer.scale ?? 1 / Math.sqrt(shape.headDim)],
      ['u32', chunks],
      ['u32', this.minChunk],
      ['u32', window ?? 0],
      ['u32', cacheRows],
      ['f32', layer.softcap ?? 0],
    ]);
    const bindGroup = createBindGroup(this.ctx, `attention.bindGroup.${label}`, this.kp, [
      bufs.q,
      bufs.kCache,
      bufs.vCache,
      bufs.scores,
      bufs.out,
      params,
      step,
    ]);
    let split: SplitBinding | null = null;
    if (chunks > 1 && this.splitKp && this.combineKp) {
      const partials = this.partialsFor(group, attentionPartialBytes(shape, chunks));
      split = {
        split: createBindGroup(this.ctx, `attention_split.bindGroup.${label}`, this.splitKp, [
          bufs.q,
          bufs.kCache,
          bufs.vCache,
          bufs.scores,
          partials,
          bufs.out,
          params,
          step,
        ]),
        combine: createBindGroup(this.ctx, `attention_combine.bindGroup.${label}`, this.combineKp, [partials, bufs.out, params, step]),
        chunks,
      };
    }
    return { bindGroup, nHeads: shape.nHeads, window, split };
  }

  /**
   * Records the attention of `tokens` queries. One query (decode) takes the split-K passes where bind() set them up;
   * a caller that knows the cache length (`kvLen`, positions 0 .. pos + tokens) lets a query that sees one chunk
   * (a short cache, or a short sliding window) take the single pass instead, which saves the combine dispatch (a few
   * µs per layer on a GPU).
   */
  encode(pass: ComputePass, b: AttentionBinding, tokens: number, kvLen?: number): void {
    const maxPerDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const seen = kvLen === undefined ? undefined : b.window === null ? kvLen : Math.min(kvLen, b.window);
    const oneChunk = seen !== undefined && seen <= this.minChunk;
    if (tokens === 1 && !oneChunk && b.split && this.splitKp && this.combineKp) {
      pass.setPipeline(this.splitKp.pipeline);
      pass.setBindGroup(0, b.split.split);
      pass.dispatchWorkgroups(...dispatch1d(b.split.chunks * b.nHeads, maxPerDim));
      pass.setPipeline(this.combineKp.pipeline);
      pass.setBindGroup(0, b.split.combine);
      pass.dispatchWorkgroups(...dispatch1d(b.nHeads, maxPerDim));
      return;
    }
    const [wx, wy] = dispatch1d(tokens * b.nHeads, maxPerDim);
    pass.setPipeline(this.kp.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(wx, wy);
  }

  private partialsFor(group: BufferGroup, bytes: number): GPUBuffer {
    let bySize = this.partials.get(group);
    if (!bySize) this.partials.set(group, (bySize = new Map()));
    let buffer = bySize.get(bytes);
    if (!buffer) {
      buffer = group.createBuffer({
        label: `attention.partials.${group.name}`,
        size: bytes,
        usage: GPUBufferUsage.STORAGE,
        category: 'activations',
      });
      bySize.set(bytes, buffer);
    }
    return buffer;
  }
}
