// Owner of shaders/glu.wgsl (with activation.wgsl in front): the gated MLP activation of several tokens over a gate/up
// product whose rows are concatenated in blocks (out = act(gate) · up, act silu or gelu-tanh).
import activationSource from '../../shaders/activation.wgsl?raw';
import source from '../../shaders/glu.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { ElementwiseKernel, type ElementwiseBinding } from './elementwise.ts';

export type GatedActivation = 'silu' | 'gelu_tanh';

/** The activation's code in activation.wgsl. */
export function activationKind(a: GatedActivation | undefined): number {
  return a === 'gelu_tanh' ? 1 : 0;
}

export class Glu extends ElementwiseKernel {
  constructor(ctx: GpuContext) {
    super(ctx, 'glu', withStep(`${activationSource}\n${source}`));
  }

  /** gu: f32 [maxTokens, 2 · hidden] in blocks of `block` gate rows then `block` up rows; out: f32 [maxTokens, hidden]. */
  bind(label: string, out: GPUBuffer, gu: GPUBuffer, hidden: number, block: number, activation: GatedActivation, step: GPUBuffer, group: BufferGroup): ElementwiseBinding {
    if (!(block >= 1 && hidden % block === 0)) throw new Error(`glu: blocks of ${block} do not tile ${hidden} rows`);
    return this.bindBuffers(label, out, gu, hidden, step, group, [
      ['u32', block],
      ['u32', activationKind(activation)],
    ]);
  }
}
