// Owner of shaders/convert_to_f16.wgsl: checkpoint bytes (F16 / BF16 / F32) in a staging buffer → f16x2 words of a
// tensor part, on the GPU, during streamed loads. One pipeline per source dtype (WGSL override DTYPE), built lazily
// and cached; the bind-group layout is built once.
import source from '../../shaders/convert_to_f16.wgsl?raw';
import type { GpuContext } from '../gpu/device.ts';
import type { TensorDtype } from '../gpu/dtypes.ts';
import { dispatch1d } from './dispatch.ts';

const WG = 64;
const DTYPE_CODE: Record<TensorDtype, number> = { F16: 0, BF16: 1, F32: 2 } as Record<TensorDtype, number>;
/** Bytes of one Params struct in the uniform buffer. */
export const CONVERT_PARAMS_BYTES = 32;

/** One conversion: `nWords` words of a tensor starting at word `w0`, into the part whose first word is `dstBase`. */
export interface ConvertDispatch {
  /** Byte in the staging buffer where element `e0` begins (any alignment). */
  srcByte: number;
  e0: number;
  w0: number;
  nWords: number;
  rowLen: number;
  rowWords: number;
  dstBase: number;
}

export function convertParams(d: ConvertDispatch, out: Uint32Array, at = 0): void {
  out[at] = d.srcByte;
  out[at + 1] = d.e0;
  out[at + 2] = d.w0;
  out[at + 3] = d.nWords;
  out[at + 4] = d.rowLen;
  out[at + 5] = d.rowWords;
  out[at + 6] = d.dstBase;
  out[at + 7] = 0;
}

export class ConvertToF16 {
  readonly layout: GPUBindGroupLayout;
  private readonly pipelineLayout: GPUPipelineLayout;
  private readonly module: GPUShaderModule;
  private readonly pipelines = new Map<TensorDtype, GPUComputePipeline>();

  constructor(private readonly ctx: GpuContext) {
    const { device } = ctx;
    this.layout = device.createBindGroupLayout({
      label: 'convert_to_f16.layout',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      ],
    });
    this.pipelineLayout = device.createPipelineLayout({ label: 'convert_to_f16.pipelineLayout', bindGroupLayouts: [this.layout] });
    this.module = device.createShaderModule({ label: 'convert_to_f16.module', code: source });
  }

  pipeline(dtype: TensorDtype): GPUComputePipeline {
    let p = this.pipelines.get(dtype);
    if (!p) {
      const code = DTYPE_CODE[dtype];
      if (code === undefined) throw new Error(`convert_to_f16: unsupported dtype ${dtype}`);
      p = this.ctx.device.createComputePipeline({
        label: `convert_to_f16.pipeline.${dtype}`,
        layout: this.pipelineLayout,
        compute: { module: this.module, entryPoint: 'main', constants: { WG, DTYPE: code } },
      });
      this.pipelines.set(dtype, p);
    }
    return p;
  }

  /** Binds a staging buffer, a destination part and one Params slot (`paramsOffset`, 256-aligned). */
  bind(src: GPUBuffer, dst: GPUBuffer, params: GPUBuffer, paramsOffset: number): GPUBindGroup {
    return this.ctx.device.createBindGroup({
      label: `convert_to_f16.bindGroup.${dst.label}`,
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: src } },
        { binding: 1, resource: { buffer: dst } },
        { binding: 2, resource: { buffer: params, offset: paramsOffset, size: CONVERT_PARAMS_BYTES } },
      ],
    });
  }

  encode(pass: GPUComputePassEncoder, dtype: TensorDtype, bindGroup: GPUBindGroup, nWords: number): void {
    const [x, y] = dispatch1d(Math.ceil(nWords / WG), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    pass.setPipeline(this.pipeline(dtype));
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
  }
}
