// Node only (tests, benchmarks, CLIs): WebGPU through Dawn from the `webgpu` npm package.
// The adapter is chosen by the Vulkan driver in VK_ICD_FILENAMES (see scripts/run-gpu-tests.mjs and the README).
// The browser bundle never imports this file.
import { create, globals } from 'webgpu';
import { acquireGpu, type AcquireOptions, type GpuContext } from './device.ts';

let instance: GPU | null = null;

/** The process's one Dawn instance (creating a second one in the same process aborts inside Dawn). */
export function nodeGpu(): GPU {
  if (!instance) {
    Object.assign(globalThis, globals);
    instance = create([]) as GPU;
  }
  return instance;
}

/**
 * A device for a GPU test or benchmark. When EXPECT_ADAPTER is set (the GPU test runner sets it), the adapter must
 * match it, so a misconfigured driver path fails instead of quietly testing something else. No adapter always throws:
 * a GPU test never skips.
 */
export async function nodeGpuContext(opts: AcquireOptions = {}): Promise<GpuContext> {
  const ctx = await acquireGpu(nodeGpu(), opts);
  const expect = process.env.EXPECT_ADAPTER;
  if (expect) {
    const seen = `${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.device} ${ctx.adapter.description}`;
    if (!seen.toLowerCase().includes(expect.toLowerCase())) {
      throw new Error(`expected a '${expect}' adapter (EXPECT_ADAPTER), got '${seen}'`);
    }
  }
  return ctx;
}

/** Reads a GPU buffer back (tests and CLIs only; the engine's hot path reads back only sampled ids). */
export async function readBuffer(ctx: GpuContext, src: GPUBuffer, offset = 0, size = src.size - offset): Promise<ArrayBuffer> {
  const staging = ctx.ledger.createBuffer({
    label: 'test.readback',
    size,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    category: 'staging',
  });
  try {
    const enc = ctx.device.createCommandEncoder({ label: 'test.readback' });
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    ctx.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0);
  } finally {
    ctx.ledger.destroy(staging);
  }
}
