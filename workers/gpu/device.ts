// GPU acquisition: one adapter, one device with the optional features the engine can use and the adapter's highest
// limits. Runs unchanged in a browser worker (navigator.gpu) and in Node with the `webgpu` package (Dawn).
import { EngineError } from '../errors.ts';
import { MemoryLedger } from './ledger.ts';
import { gpuAwaitForRuntime, type GpuAwait } from './gpu-wait.ts';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface GpuFeatures {
  /** Native f16 arithmetic in WGSL (`enable f16;`). Optional fast path only. */
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /** WGSL language feature `packed_4x8_integer_dot_product` (dot4I8Packed). */
  dot4I8Packed: boolean;
}

/** The limits the engine reads. All are the device's (negotiated to the adapter's maximum). */
export interface GpuLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxUniformBufferBindingSize: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  maxComputeWorkgroupStorageSize: number;
  minStorageBufferOffsetAlignment: number;
}

export interface GpuInfo {
  adapter: AdapterSummary;
  /**
   * A CPU implementation (SwiftShader, lavapipe/llvmpipe, or an adapter that says it is a fallback). Kernels pick
   * barrier-free variants there: a workgroup barrier costs far more on a CPU than the arithmetic around it.
   */
  software: boolean;
  features: GpuFeatures;
  limits: GpuLimits;
}

export interface GpuContext extends GpuInfo {
  device: GPUDevice;
  ledger: MemoryLedger;
  /** Resolves when the device is lost, with the reason (never rejects). */
  lost: Promise<GPUDeviceLostInfo>;
  /** How to wait on a GPU promise with nothing else to do (gpu-wait.ts: paced on dawn.node, plain in a browser). */
  awaitGpu: GpuAwait;
}


const LIMIT_KEYS: (keyof GpuLimits)[] = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupStorageSize',
  'minStorageBufferOffsetAlignment',
];

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Turn off optional features (tests use this to exercise the fallback paths on an adapter that has them). */
  disableFeatures?: (keyof GpuFeatures)[];
}

export async function acquireGpu(gpu: GPU | undefined | null, opts: AcquireOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new EngineError(
      'no-webgpu',
      'WebGPU is not available in this browser (navigator.gpu is missing). Use a recent Chrome or Edge; on Linux start ' +
        'Chrome with --enable-unsafe-webgpu.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new EngineError(
      'no-webgpu',
      'WebGPU is present but no GPU adapter was found (requestAdapter returned null). The GPU may be blocklisted or ' +
        'WebGPU disabled in chrome://flags.',
    );
  }
  const off = new Set(opts.disableFeatures ?? []);
  const wanted: GPUFeatureName[] = [];
  if (adapter.features.has('shader-f16') && !off.has('shaderF16')) wanted.push('shader-f16');
  if (adapter.features.has('subgroups') && !off.has('subgroups')) wanted.push('subgroups' as GPUFeatureName);
  if (adapter.features.has('timestamp-query') && !off.has('timestampQuery')) wanted.push('timestamp-query');

  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_KEYS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits, label: 'engine.device' });

  const limits = {} as GpuLimits;
  for (const k of LIMIT_KEYS) limits[k] = (device.limits as unknown as Record<string, number>)[k];
  const info = adapter.info;
  const wgsl = gpu.wgslLanguageFeatures;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const software =
    fallback || /swiftshader|llvmpipe|lavapipe|software/i.test(`${info?.vendor} ${info?.architecture} ${info?.device} ${info?.description}`);
  return {
    device,
    software,
    ledger: new MemoryLedger(device),
    lost: device.lost,
    awaitGpu: gpuAwaitForRuntime(),
    adapter: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
    },
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
      dot4I8Packed: !off.has('dot4I8Packed') && !!wgsl?.has('packed_4x8_integer_dot_product'),
    },
    limits,
  };
}

/** Plain data of a context, safe to send across the worker boundary. */
export function gpuInfo(ctx: GpuContext): GpuInfo {
  return { adapter: { ...ctx.adapter }, software: ctx.software, features: { ...ctx.features }, limits: { ...ctx.limits } };
}
