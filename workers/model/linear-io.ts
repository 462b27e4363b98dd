// The input norm and the epilogue of a linear layer's product over several tokens (a prompt chunk): what both layer
// kinds record around their tiled product, since a product over many rows cannot hold them in its own threads.
//   before: x through RMSNorm into xn (when the layer reads x normed)
//   after:  residual  x += scale · y                     (add.wgsl)
//           glu       out = act(gate rows) · (up rows)    (glu.wgsl)
//           rope_kv   q rotated into q, k rotated and v into the cache rows pos .. pos + T  (rope.wgsl)
//           store     nothing: the product wrote y itself
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { ComputePass } from '../gpu/pass-recorder.ts';
import { ResidualAdd } from '../kernels/add.ts';
import type { ElementwiseBinding } from '../kernels/elementwise.ts';
import { Glu } from '../kernels/glu.ts';
import { perDevice } from '../kernels/kernel-cache.ts';
import { RmsNorm, type RmsNormBinding } from '../kernels/rmsnorm.ts';
import { fusedQkvSource, Rope, type RopeBinding } from '../kernels/rope.ts';
import type { LinearIo } from './linear.ts';

/** The kernels around a product of several tokens, one set per device. */
export class PrefillIoKernels {
  readonly rmsnorm: RmsNorm;
  readonly add: ResidualAdd;
  readonly glu: Glu;
  readonly rope: Rope;

  static for(ctx: GpuContext): PrefillIoKernels {
    return perDevice(ctx, 'linear-io', (c) => new PrefillIoKernels(c));
  }

  private constructor(ctx: GpuContext) {
    this.rmsnorm = new RmsNorm(ctx);
    this.add = new ResidualAdd(ctx);
    this.glu = new Glu(ctx);
    this.rope = new Rope(ctx);
  }
}

type After =
  | { kind: 'none' }
  | { kind: 'add'; b: ElementwiseBinding }
  | { kind: 'glu'; b: ElementwiseBinding }
  | { kind: 'rope'; b: RopeBinding };

export interface PrefillIo {
  /** What the tiled product reads: x, or xn after the norm. */
  readonly input: GPUBuffer;
  /** Where it writes: the store target, or the scratch y its epilogue reads. */
  readonly output: GPUBuffer;
  readonly norm: RmsNormBinding | null;
  readonly after: After;
}

/** Builds the norm and the epilogue of `layer` for several tokens of io (which must give xn and y where needed). */
export function bindPrefillIo(
  ctx: GpuContext,
  io: LinearIo,
  layer: { name: string; inFeatures: number; outFeatures: number },
  group: BufferGroup,
): PrefillIo {
  const k = PrefillIoKernels.for(ctx);
  const e = io.epilogue;
  const need = (b: GPUBuffer | undefined, what: string): GPUBuffer => {
    if (!b) throw new Error(`linear '${layer.name}': several tokens with ${what} need a scratch buffer (LinearIo.${what === 'a norm' ? 'xn' : 'y'})`);
    return b;
  };
  const input = io.norm ? need(io.xn, 'a norm') : io.x;
  const norm = io.norm ? k.rmsnorm.bind(io.norm.weight, io.norm.eps, io.x, input, io.step, group, { weightOffset: io.norm.offset ?? 0 }) : null;
  if (e.kind === 'store') return { input, output: e.y, norm, after: { kind: 'none' } };
  const y = need(io.y, `the ${e.kind} epilogue`);
  let after: After;
  switch (e.kind) {
    case 'residual':
      after = { kind: 'add', b: k.add.bind(layer.name, e.x, y, layer.outFeatures, io.step, group, e.scale ?? 1) };
      break;
    case 'glu':
      after = { kind: 'glu', b: k.glu.bind(layer.name, e.out, y, layer.outFeatures / 2, e.block, e.activation ?? 'silu', io.step, group) };
      break;
    case 'rope_kv':
      after = { kind: 'rope', b: k.rope.bind(layer.name, e, { src: fusedQkvSource(y, e), q: e.q, kv: e.kv, table: e.table }, io.step, group) };
      break;
  }
  return { input, output: y, norm, after };
}

export function encodePrefillNorm(ctx: GpuContext, pass: ComputePass, b: PrefillIo, tokens: number): void {
  if (b.norm) PrefillIoKernels.for(ctx).rmsnorm.encode(pass, b.norm, tokens);
}

export function encodePrefillEpilogue(ctx: GpuContext, pass: ComputePass, b: PrefillIo, tokens: number): void {
  const k = PrefillIoKernels.for(ctx);
  const a = b.after;
  if (a.kind === 'add') k.add.encode(pass, a.b, tokens);
  else if (a.kind === 'glu') k.glu.encode(pass, a.b, tokens);
  else if (a.kind === 'rope') k.rope.encode(pass, a.b, tokens);
}
