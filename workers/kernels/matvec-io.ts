// Owner of shaders/matvec_io.wgsl, the part the one-token products share (matvec.ts for fp16 weights, matvec-int8.ts
// for int8): how x is read (optionally through RMSNorm), the pair layout of the weight's rows, and the epilogue that
// writes the product where the layer needs it — one entry point and one bind-group layout per epilogue, so that each
// pipeline binds only what its epilogue writes (the widest, rope_kv with an int8 weight, uses 8 storage buffers:
// the WebGPU minimum of maxStorageBuffersPerShaderStage).
import activationSource from '../../shaders/activation.wgsl?raw';
import ioSource from '../../shaders/matvec_io.wgsl?raw';
import reduceSubgroup from '../../shaders/matvec_reduce_subgroup.wgsl?raw';
import reduceWorkgroup from '../../shaders/matvec_reduce_workgroup.wgsl?raw';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { dispatch1d } from './dispatch.ts';
import { activationKind, type GatedActivation } from './glu.ts';
import { createParams } from './pipeline.ts';
import { withStep } from './step.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';

export const MATVEC_EPILOGUES = ['store', 'residual', 'glu', 'rope_kv'] as const;
export type MatVecEpilogueKind = (typeof MATVEC_EPILOGUES)[number];

/** RMSNorm applied to x where the product reads it: w · x / rms(x), w in fp16 (+ offset: 1 for Gemma's (1 + w)). */
export interface MatVecNorm {
  weight: GpuTensor;
  eps: number;
  offset?: number;
}

/** One layer's KV cache in one buffer: keys [context, kvDim] from byte 0, values from byte vOffset (f32). */
export interface KvCacheBuffer {
  buffer: GPUBuffer;
  vOffset: number;
}

export type MatVecEpilogue =
  /** y[r] = W x + b (y: f32 [rows]). */
  | { kind: 'store'; y: GPUBuffer }
  /** x[r] += scale · (W x + b): the residual add after o_proj and down_proj (scale: Granite's residual multiplier). */
  | { kind: 'residual'; x: GPUBuffer; scale?: number }
  /**
   * out[j] = act(gate_j) · up_j over a gate/up weight concatenated in blocks of `block` gate rows then `block` up rows
   * (out: f32 [rows / 2]).
   */
  | { kind: 'glu'; out: GPUBuffer; block: number; activation?: GatedActivation }
  /**
   * q, k, v of one token from a weight concatenated [q heads; k heads; v heads]: RoPE (rotate-half) on the first
   * 2·ropeHalf dims of each q and k head with (cos, sin) of position Step.pos from `table` ([context, ropeHalf]; 0:
   * no rotation), q to `q` (f32 [nHeads · headDim]), k and v to the cache row of Step.pos (mod cacheRows: a
   * sliding-window layer's ring).
   */
  | {
      kind: 'rope_kv';
      q: GPUBuffer;
      kv: KvCacheBuffer;
      table: GPUBuffer;
      nHeads: number;
      nKvHeads: number;
      headDim: number;
      ropeHalf: number;
      cacheRows: number;
    };

export interface MatVecIo {
  /** f32 [tokens, k]; the product reads row Step.row. */
  x: GPUBuffer;
  norm: MatVecNorm | null;
  /** fp16 [rows] (one part), or null. */
  bias: GpuTensor | null;
  epilogue: MatVecEpilogue;
  /** The Step uniform (its `row` field: the row of x to read). */
  step: GPUBuffer;
}

/** Kernel variant: how many threads share a group of rows, and how many row pairs that group computes. */
export interface MatVecVariant {
  /** Threads per workgroup (a power of two). */
  workgroupSize: number;
  /** 'workgroup': a row's columns are spread over all threads (GPUs); 'thread': one thread per pair, no reduction. */
  lanes: 'workgroup' | 'thread';
  /** Row pairs per lane group (1..MAX_PAIRS). */
  pairs: number;
  /** Reduce with subgroupAdd (needs the `subgroups` feature) rather than a tree in workgroup memory. */
  subgroups: boolean;
}

export interface MatVecOptions {
  workgroupSize?: number;
  lanes?: 'workgroup' | 'thread';
  pairs?: number;
  subgroups?: boolean;
}

export const MAX_PAIRS = 8;

/** A variant by name (benches): `128:4:sg` → lanes over 128 threads, 4 pairs, subgroups (`wg`: workgroup memory); `thread:1` → one thread per pair. */
export function parseMatVecVariant(v: string): MatVecOptions {
  const t = /^thread:(\d)$/.exec(v);
  if (t) return { lanes: 'thread', pairs: Number(t[1]) };
  const m = /^(\d+):(\d):(sg|wg)$/.exec(v);
  if (!m) throw new Error(`matvec variant '${v}': <workgroupSize>:<pairs>:<sg|wg> or thread:<pairs>`);
  return { lanes: 'workgroup', workgroupSize: Number(m[1]), pairs: Number(m[2]), subgroups: m[3] === 'sg' };
}

/**
 * The variant for this device: on CPU adapters one thread per `threadPairs` row pairs (no barrier: they are slow
 * there; the pairs amortize reading x — 2 for fp16, fastest on lavapipe; the int8 owner asks 4, since each thread also
 * quantizes x: kjv-llama int8 decode +15–45 % on lavapipe and SwiftShader against 2), a workgroup per 4 pairs on GPUs.
 */
export function matvecVariant(ctx: GpuContext, opts: MatVecOptions = {}, threadPairs = 2): MatVecVariant {
  const lanes = opts.lanes ?? (ctx.software ? 'thread' : 'workgroup');
  const want = opts.workgroupSize ?? 64;
  const workgroupSize = 1 << Math.floor(Math.log2(Math.min(want, ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX)));
  const pairs = Math.max(1, Math.min(MAX_PAIRS, Math.floor(opts.pairs ?? (lanes === 'thread' ? threadPairs : 4))));
  const subgroups = lanes === 'workgroup' && workgroupSize > 1 && (opts.subgroups ?? ctx.features.subgroups) && ctx.features.subgroups;
  return { workgroupSize, lanes, pairs, subgroups };
}

function matvecConstants(v: MatVecVariant): Record<string, number> {
  const lanes = v.lanes === 'workgroup' ? v.workgroupSize : 1;
  return { WG: v.workgroupSize, LANES: lanes, PAIRS: v.pairs, RED: lanes > 1 ? v.workgroupSize : 1 };
}

/** Rows per workgroup of a variant. */
export function rowsPerWorkgroup(v: MatVecVariant): number {
  return 2 * v.pairs * (v.lanes === 'workgroup' ? 1 : v.workgroupSize);
}

export interface MatVecPipeline {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}

const READ: GPUBufferBindingLayout = { type: 'read-only-storage' };
const WRITE: GPUBufferBindingLayout = { type: 'storage' };
const UNIFORM: GPUBufferBindingLayout = { type: 'uniform' };

/** The bindings of an epilogue's entry point: 0 w, 1 x, 2 norm weight, 3 bias, [4 scales], 5 params, 6 step, 7 out, [8 kv, 9 table]. */
function slots(kind: MatVecEpilogueKind, scales: boolean): [number, GPUBufferBindingLayout][] {
  const s: [number, GPUBufferBindingLayout][] = [[0, READ], [1, READ], [2, READ], [3, READ]];
  if (scales) s.push([4, READ]);
  s.push([5, UNIFORM], [6, UNIFORM], [7, WRITE]);
  if (kind === 'rope_kv') s.push([8, WRITE], [9, READ]);
  return s;
}

/** One pipeline per epilogue from one module (`code`: the kernel with its preludes), each with its own layout. */
/** What a one-token product's owner adds to the shared parts: its enable directives, its prelude and its own file. */
export interface MatVecKernel {
  name: string;
  enables: string[];
  /** Put before the shared parts (half2() for fp16, dot4() for int8). */
  prelude: string;
  source: string;
  /** The kernel binds a scales buffer (int8). */
  scales: boolean;
}

/**
 * The kernel's module — its enables and prelude, then what both products share (Step, the variant's reduction,
 * activation.wgsl, matvec_io.wgsl), then its own file — and a pipeline per epilogue, specialized for the variant.
 */
export function createMatVecPipelines(ctx: GpuContext, variant: MatVecVariant, kernel: MatVecKernel): Record<MatVecEpilogueKind, MatVecPipeline> {
  const { name, scales } = kernel;
  const enables = [...kernel.enables, ...(variant.subgroups ? ['subgroups'] : [])].map((e) => `enable ${e};\n`).join('');
  const shared = withStep(`${variant.subgroups ? reduceSubgroup : reduceWorkgroup}\n${activationSource}\n${ioSource}`);
  const code = `${enables}${kernel.prelude}\n${shared}\n${kernel.source}`;
  const constants = matvecConstants(variant);
  const { device } = ctx;
  const module = device.createShaderModule({ label: `${name}.module`, code });
  const out = {} as Record<MatVecEpilogueKind, MatVecPipeline>;
  for (const kind of MATVEC_EPILOGUES) {
    const layout = device.createBindGroupLayout({
      label: `${name}.${kind}.layout`,
      entries: slots(kind, scales).map(([binding, buffer]) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer })),
    });
    const pipeline = device.createComputePipeline({
      label: `${name}.${kind}.pipeline`,
      layout: device.createPipelineLayout({ label: `${name}.${kind}.pipelineLayout`, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: kind, constants },
    });
    out[kind] = { layout, pipeline };
  }
  return out;
}

export interface MatVecBinding {
  readonly pipeline: GPUComputePipeline;
  readonly parts: { bindGroup: GPUBindGroup; workgroups: [number, number] }[];
}

/** Rows of a pair block: parts of a split weight must start at multiples of it. */
export function pairSpan(e: MatVecEpilogue): number {
  return e.kind === 'glu' ? 2 * e.block : e.kind === 'rope_kv' ? e.headDim : 2;
}

/** One unused binding per group for the optional slots (norm weight, bias) a product does not read. */
const unused = new WeakMap<BufferGroup, GPUBuffer>();
function unusedBuffer(group: BufferGroup): GPUBuffer {
  let b = unused.get(group);
  if (!b) {
    b = group.createBuffer({ label: `matvec.unused.${group.name}`, size: 16, usage: GPUBufferUsage.STORAGE, category: 'uniforms' });
    unused.set(group, b);
  }
  return b;
}

function outputOf(e: MatVecEpilogue): GPUBuffer {
  switch (e.kind) {
    case 'store':
      return e.y;
    case 'residual':
      return e.x;
    case 'glu':
      return e.out;
    case 'rope_kv':
      return e.q;
  }
}

/**
 * Checks `weight` against io and builds, for each part, the Params uniform and the bind group of the epilogue's
 * pipeline (`scales`: the int8 row scales, or null for fp16; `threshold`: int8 outlier threshold).
 */
export function bindMatVec(
  ctx: GpuContext,
  kernel: string,
  pipelines: Record<MatVecEpilogueKind, MatVecPipeline>,
  variant: MatVecVariant,
  weight: GpuTensor,
  io: MatVecIo,
  group: BufferGroup,
  extra: { scales: GPUBuffer | null; threshold: number },
): MatVecBinding {
  const [rows, k] = weight.shape;
  const e = io.epilogue;
  const name = `${kernel}.${weight.name}`;
  if (k % 4 !== 0) {
    throw new EngineError('unsupported', `${kernel}: '${weight.name}' has ${k} input features; the one-token products read x 4 floats at a time`, { tensor: weight.name });
  }
  if (weight.rowWords % 4 !== 0) {
    throw new Error(`${kernel}: '${weight.name}' rows are ${weight.rowWords} words; the product reads them as vec4<u32> (a multiple of 4)`);
  }
  if (io.norm && (io.norm.weight.format !== 'f16x2' || io.norm.weight.parts.length !== 1 || io.norm.weight.shape[0] !== k)) {
    throw new Error(`${kernel}: norm weight '${io.norm.weight.name}' must be one f16x2 part of ${k} values`);
  }
  if (io.bias && (io.bias.format !== 'f16x2' || io.bias.parts.length !== 1 || io.bias.shape[0] !== rows)) {
    throw new Error(`${kernel}: bias '${io.bias.name}' must be one f16x2 part of ${rows} values`);
  }
  const span = pairSpan(e);
  // store and residual pair rows within a part, any rows; glu and rope_kv pair rows of whole blocks
  const blocks = e.kind === 'glu' || e.kind === 'rope_kv';
  if (span % 2 !== 0 || (blocks && rows % span !== 0)) {
    throw new Error(`${kernel}: '${weight.name}' has ${rows} rows, not a whole number of ${span}-row blocks (${e.kind})`);
  }
  for (const part of weight.parts) {
    if (blocks && part.rowStart % span !== 0) throw new Error(`${kernel}: part of '${weight.name}' at row ${part.rowStart} splits a ${span}-row block`);
  }
  if (e.kind === 'rope_kv') {
    const want = (e.nHeads + 2 * e.nKvHeads) * e.headDim;
    if (rows !== want) throw new Error(`${kernel}: '${weight.name}' has ${rows} rows, q/k/v heads need ${want}`);
    if (2 * e.ropeHalf > e.headDim) throw new Error(`${kernel}: ${2 * e.ropeHalf} rotary dims > head_dim ${e.headDim}`);
    if (e.kv.vOffset % 4 !== 0) throw new Error(`${kernel}: value cache offset ${e.kv.vOffset} is not a whole f32`);
    if (!(e.cacheRows >= 1)) throw new Error(`${kernel}: cache rows ${e.cacheRows}`);
  }
  const half = span / 2;
  const perWorkgroup = rowsPerWorkgroup(variant);
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const pipe = pipelines[e.kind];
  const parts = weight.parts.map((part, i) => {
    const params = createParams(ctx, group, `${name}.params.${i}`, [
      ['u32', part.rows],
      ['u32', weight.rowWords],
      ['u32', part.rowStart],
      ['u32', k],
      ['u32', span],
      ['u32', e.kind === 'rope_kv' ? e.ropeHalf : half],
      ['u32', io.bias ? 1 : 0],
      ['u32', io.norm ? 1 : 0],
      ['f32', io.norm?.eps ?? 0],
      ['f32', io.norm?.offset ?? 0],
      ['f32', e.kind === 'residual' ? (e.scale ?? 1) : 1],
      ['u32', e.kind === 'glu' ? activationKind(e.activation) : 0],
      ['u32', e.kind === 'rope_kv' ? e.nHeads : 0],
      ['u32', e.kind === 'rope_kv' ? e.nKvHeads : 0],
      ['u32', e.kind === 'rope_kv' ? e.headDim : 0],
      ['u32', e.kind === 'rope_kv' ? e.kv.vOffset / 4 : 0],
      ['f32', extra.threshold],
      ['u32', e.kind === 'rope_kv' ? e.cacheRows : 1],
      ['u32', 0],
      ['u32', 0],
    ]);
    const resources: [number, GPUBuffer][] = [
      [0, part.buffer],
      [1, io.x],
      [2, io.norm ? io.norm.weight.parts[0].buffer : unusedBuffer(group)],
      [3, io.bias ? io.bias.parts[0].buffer : unusedBuffer(group)],
    ];
    if (extra.scales) resources.push([4, extra.scales]);
    resources.push([5, params], [6, io.step], [7, outputOf(e)]);
    if (e.kind === 'rope_kv') resources.push([8, e.kv.buffer], [9, e.table]);
    const bindGroup = ctx.device.createBindGroup({
      label: `${name}.bindGroup.${i}`,
      layout: pipe.layout,
      entries: resources.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
    });
    return { bindGroup, workgroups: dispatch1d(Math.ceil(part.rows / perWorkgroup), maxDim) };
  });
  return { pipeline: pipe.pipeline, parts };
}

export function encodeMatVec(pass: ComputePass, b: MatVecBinding): void {
  pass.setPipeline(b.pipeline);
  for (const p of b.parts) {
    pass.setBindGroup(0, p.bindGroup);
    pass.dispatchWorkgroups(p.workgroups[0], p.workgroups[1]);
  }
}
