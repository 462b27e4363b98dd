// What every kernel owner does once: an explicit bind-group layout, a labelled pipeline, and small uniform buffers
// owned by a BufferGroup (so the ledger sees them). Owners keep their own WGSL file and encode().
import type { GpuContext } from '../gpu/device.ts';
import type { BufferGroup } from '../gpu/ledger.ts';
import { uniformData } from './dispatch.ts';

/** A binding slot as the shader declares it: read-only storage, read-write storage, or uniform. */
export type Slot = 'read' | 'storage' | 'uniform';

export interface KernelPipeline {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}

/** One layout and module, a pipeline per entry point (e.g. `decode` and `prefill` of one kernel file). */
export function createKernelPipelines<E extends string>(
  ctx: GpuContext,
  name: string,
  code: string,
  slots: readonly Slot[],
  entryPoints: readonly E[],
  constants: Record<string, number> = {},
): { layout: GPUBindGroupLayout; pipelines: Record<E, GPUComputePipeline> } {
  const { device } = ctx;
  const layout = device.createBindGroupLayout({
    label: `${name}.layout`,
    entries: slots.map((s, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s === 'read' ? 'read-only-storage' : s === 'storage' ? 'storage' : 'uniform' },
    })),
  });
  const module = device.createShaderModule({ label: `${name}.module`, code });
  const pipelineLayout = device.createPipelineLayout({ label: `${name}.pipelineLayout`, bindGroupLayouts: [layout] });
  const pipelines = {} as Record<E, GPUComputePipeline>;
  for (const entryPoint of entryPoints) {
    pipelines[entryPoint] = device.createComputePipeline({
      label: entryPoints.length === 1 ? `${name}.pipeline` : `${name}.${entryPoint}.pipeline`,
      layout: pipelineLayout,
      compute: { module, entryPoint, constants },
    });
  }
  return { layout, pipelines };
}

/** The common case: one entry point, `main`. */
export function createKernelPipeline(
  ctx: GpuContext,
  name: string,
  code: string,
  slots: readonly Slot[],
  constants: Record<string, number> = {},
): KernelPipeline {
  const { layout, pipelines } = createKernelPipelines(ctx, name, code, slots, ['main'], constants);
  return { layout, pipeline: pipelines.main };
}

/** A bind group of `buffers` at bindings 0, 1, …: whole buffers, or ranges of one ({buffer, offset, size}). */
export function createBindGroup(
  ctx: GpuContext,
  label: string,
  kp: Pick<KernelPipeline, 'layout'>,
  buffers: readonly (GPUBuffer | GPUBufferBinding)[],
): GPUBindGroup {
  return ctx.device.createBindGroup({
    label,
    layout: kp.layout,
    entries: buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } })),
  });
}

/** A uniform buffer written once with `fields` (parameters that never change after bind()). */
export function createParams(
  ctx: GpuContext,
  group: BufferGroup,
  label: string,
  fields: readonly (readonly ['u32' | 'f32' | 'i32', number])[],
): GPUBuffer {
  const data = uniformData(fields);
  const buffer = group.createBuffer({
    label,
    size: data.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    category: 'uniforms',
  });
  ctx.device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** Workgroup size for a kernel that wants `want` threads, within the device's limits. */
export function workgroupSize(ctx: GpuContext, want: number): number {
  return Math.min(want, ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX);
}
