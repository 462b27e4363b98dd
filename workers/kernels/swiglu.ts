// Owner of shaders/swiglu.wgsl: the gated MLP activation gate = act(gate) * up over [tokens, hidden], in place, with
// act the recipe's: silu (SwiGLU) or the tanh approximation of GELU (Gemma's GeGLU), an override constant.
import source from '../../shaders/swiglu.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { ElementwiseKernel, type ElementwiseBinding } from './elementwise.ts';

export type GatedActivation = 'silu' | 'gelu_tanh';

export class SwiGlu extends ElementwiseKernel {
  constructor(ctx: GpuContext, activation: GatedActivation = 'silu') {
    super(ctx, `swiglu.${activation}`, withStep(source), { ACT: activation === 'silu' ? 0 : 1 });
  }

  bind(label: string, gate: GPUBuffer, up: GPUBuffer, hidden: number, step: GPUBuffer, group: BufferGroup): ElementwiseBinding {
    return this.bindBuffers(label, gate, up, hidden, step, group);
  }
}
