// Owner of shaders/swiglu.wgsl: the MLP activation gate = silu(gate) * up over [tokens, hidden], in place.
import source from '../../shaders/swiglu.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { ElementwiseKernel, type ElementwiseBinding } from './elementwise.ts';

export class SwiGlu extends ElementwiseKernel {
  constructor(ctx: GpuContext) {
    super(ctx, 'swiglu', withStep(source));
  }

  bind(label: string, gate: GPUBuffer, up: GPUBuffer, hidden: number, step: GPUBuffer, group: BufferGroup): ElementwiseBinding {
    return this.bindBuffers(label, gate, up, hidden, step, group);
  }
}
