// Owner of shaders/add.wgsl: the residual add x += scale · y over [tokens, dim] (scale: Granite's residual_multiplier,
// 1 elsewhere, where the sum is exactly x + y).
import source from '../../shaders/add.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { ElementwiseKernel, type ElementwiseBinding } from './elementwise.ts';

export class ResidualAdd extends ElementwiseKernel {
  constructor(ctx: GpuContext) {
    super(ctx, 'add', withStep(source));
  }

  bind(label: string, x: GPUBuffer, y: GPUBuffer, dim: number, step: GPUBuffer, group: BufferGroup, scale = 1): ElementwiseBinding {
    return this.bindBuffers(label, x, y, dim, step, group, [['f32', scale]]);
  }
}
