// Owner of shaders/bias_add.wgsl: a linear layer's bias, y[t] += b over [tokens, n] with b fp16 [n].
import source from '../../shaders/bias_add.wgsl?raw';
import { withStep } from './step.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { ElementwiseKernel, type ElementwiseBinding } from './elementwise.ts';

export class BiasAdd extends ElementwiseKernel {
  constructor(ctx: GpuContext) {
    super(ctx, 'bias_add', withStep(source));
  }

  bind(bias: GpuTensor, y: GPUBuffer, step: GPUBuffer, group: BufferGroup): ElementwiseBinding {
    if (bias.format !== 'f16x2' || bias.parts.length !== 1) throw new Error(`bias_add: '${bias.name}' must be one f16x2 part`);
    return this.bindBuffers(bias.name, y, bias.parts[0].buffer, bias.shape[0], step, group);
  }
}
