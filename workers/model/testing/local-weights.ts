// Node-only stand-in for the streaming loader in tests and CLIs: reads a local model folder's safetensors with fs,
// converts every tensor to fp16 (half.ts) and uploads it with allocateTensor + writeRows into one BufferGroup.
// The one place to replace with workers/model/loader.ts's loadWeights once local folders go through it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuContext } from '../../gpu/device.ts';
import type { BufferGroup } from '../../gpu/ledger.ts';
import { bf16BitsToF32, f16BitsToF32, packF16 } from '../half.ts';
import { allocateTensor, writeRows, type GpuTensor } from '../tensor.ts';

export interface LocalWeights {
  tensors: Map<string, GpuTensor>;
  group: BufferGroup;
}

function safetensorsFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (!existsSync(index)) return [join(dir, 'model.safetensors')];
  const map = JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>;
  return [...new Set(Object.values(map))].map((f) => join(dir, f));
}

function toFloats(dtype: string, bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes); // an aligned copy (a Node Buffer view may share a larger pool)
  if (dtype === 'F32') return new Float32Array(copy.buffer);
  const halves = new Uint16Array(copy.buffer);
  if (dtype === 'BF16') return Float32Array.from(halves, bf16BitsToF32);
  if (dtype === 'F16') return Float32Array.from(halves, f16BitsToF32);
  throw new Error(`local-weights: dtype ${dtype} is not supported`);
}

export function loadLocalWeights(ctx: GpuContext, dir: string, opts: { maxBindingBytes?: number } = {}): LocalWeights {
  const group = ctx.ledger.group(`weights:${dir}`);
  const tensors = new Map<string, GpuTensor>();
  const maxBindingBytes = opts.maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize;
  try {
    for (const file of safetensorsFiles(dir)) {
      const buf = readFileSync(file);
      const headerLen = Number(buf.readBigUInt64LE(0));
      const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<
        string,
        { dtype: string; shape: number[]; data_offsets: [number, number] }
      >;
      const base = 8 + headerLen;
      for (const [name, rec] of Object.entries(header)) {
        if (name === '__metadata__') continue;
        const values = toFloats(rec.dtype, buf.subarray(base + rec.data_offsets[0], base + rec.data_offsets[1]));
        const t = allocateTensor(group, name, rec.shape, 'f16x2', { maxBindingBytes });
        const rows = rec.shape.length <= 1 ? 1 : rec.shape[0];
        const k = values.length / rows;
        const packed = new Uint32Array(rows * t.rowWords);
        for (let r = 0; r < rows; r++) packed.set(packF16(values.subarray(r * k, (r + 1) * k)), r * t.rowWords);
        writeRows(ctx.device.queue, t, 0, packed);
        tensors.set(name, t);
      }
    }
  } catch (e) {
    group.destroy();
    throw e;
  }
  return { tensors, group };
}
