import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { EngineError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { nodeGpuContext, readBuffer } from '../gpu/node-gpu.ts';
import { bf16BitsToF32, f32ToF16Bits } from '../gpu/half.ts';
import { loadWeights, type LoadWeightsOptions } from './loader.ts';
import { readTensorMap, type TensorMap, type TensorRecord } from './safetensors.ts';
import { rowCount, rowLength, type GpuTensor } from '../gpu/tensor.ts';
import { threadRangeReader, type ThreadReader } from '../net/thread-reader.ts';

const MODELS = ['llama-gqa-bf16', 'llama-tied-mqa-fp16', 'qwen2-bias-fp32'];
const ROOT = new URL('../../../shared/models/random/', import.meta.url).pathname;
// a short backoff, but long enough that a loaded 2-core CI machine gets past a transient socket error
const fast = { retries: 3, backoffMs: 25 };

let ctx: GpuContext;
let server: ServeDirHandle;
/** HTTP on a worker thread, in odd-sized chunks (the benchmark's default reader in Node). */
let thread: ThreadReader;

/** The f16x2 words a tensor must hold, converted on the CPU element by element with half.ts. */
function expectedWords(r: TensorRecord, file: Uint8Array): Uint32Array {
  const dv = new DataView(file.buffer, file.byteOffset + r.start, r.end - r.start);
  const rowLen = rowLength(r.shape);
  const rowWords = Math.ceil(rowLen / 2);
  const out = new Uint32Array(rowCount(r.shape) * rowWords);
  const n = r.shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    const h =
      r.dtype === 'F32' ? f32ToF16Bits(dv.getFloat32(i * 4, true))
      : r.dtype === 'BF16' ? f32ToF16Bits(bf16BitsToF32(dv.getUint16(i * 2, true)))
      : dv.getUint16(i * 2, true);
    const row = Math.floor(i / rowLen);
    const col = i % rowLen;
    out[row * rowWords + (col >> 1)] |= col & 1 ? h << 16 : h;
  }
  return out;
}

async function gpuWords(t: GpuTensor): Promise<Uint32Array> {
  const out = new Uint32Array(rowCount(t.shape) * t.rowWords);
  for (const p of t.parts) out.set(new Uint32Array(await readBuffer(ctx, p.buffer)), p.rowStart * t.rowWords);
  return out;
}

async function tensorMap(model: string): Promise<TensorMap> {
  return readTensorMap([`${server.url}${model}/model.safetensors`], fast);
}

async function failure(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(() => null, (e: unknown) => e);
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

beforeAll(async () => {
  ctx = await nodeGpuContext();
  server = await serveDir(ROOT);
  thread = threadRangeReader({ chunkBytes: 70_001, buffers: 2 });
});
afterAll(async () => {
  await thread?.close();
  await server?.close();
  ctx?.device.destroy();
});
beforeEach(() => {
  server.misbehave = {};
  server.log.length = 0;
});

describe.each(MODELS)('loadWeights %s', (model) => {
  const file = new Uint8Array(readFileSync(`${ROOT}${model}/model.safetensors`));
  it.each(['naive', 'fp16', 'streamed', 'streamed:gpu', 'streamed:cpu:thread', 'streamed:gpu:thread'] as const)('%s uploads exactly the CPU-converted words', async (variant) => {
    const [strategy, convertOn, reader] = variant.split(':') as ['naive' | 'fp16' | 'streamed', 'gpu' | 'cpu' | undefined, 'thread' | undefined];
    const map = await tensorMap(model);
    const stream = { chunkBytes: 70_001, maxRequestBytes: 300_000, ...(reader ? { read: thread.read } : {}) };
    const loaded = await loadWeights(ctx, map, { strategy, model, convertOn, http: fast, stream });
    try {
      expect(loaded.tensors.size).toBe(map.tensors.size);
      for (const r of map.tensors.values()) {
        const t = loaded.tensors.get(r.name) as GpuTensor;
        expect(Array.from(await gpuWords(t)), r.name).toEqual(Array.from(expectedWords(r, file)));
      }
      const rep = loaded.report;
      expect(rep.weightBytes).toBe(loaded.group.bytes);
      expect(rep.finalGpuBytes).toBe(loaded.group.bytes);
      if (strategy === 'naive') expect(rep.peakGpuBytes).toBeGreaterThan(rep.weightBytes * 1.9);
      else if (strategy === 'fp16') expect(rep.peakGpuBytes).toBe(rep.weightBytes);
      // streamed: the weights plus the staging ring (3 chunks) and the conversion parameters
      else expect(rep.peakGpuBytes).toBeLessThanOrEqual(rep.weightBytes + 3 * (70_004 + 16) + 64 * 256);
      if (strategy === 'streamed') {
        expect(server.log.filter((l) => l.path.endsWith('model.safetensors')).every((l) => l.status === 206)).toBe(true);
        expect(rep.bytesFetched).toBeLessThan(file.length);
      } else {
        expect(rep.bytesFetched).toBe(file.length);
      }
    } finally {
      loaded.group.destroy();
    }
    expect(ctx.ledger.current).toBe(0);
  });
});

describe('loadWeights edge cases', () => {
  it('splits tensors larger than a (forced small) binding and still writes every word', async () => {
    const map = await tensorMap('llama-gqa-bf16');
    const file = new Uint8Array(readFileSync(`${ROOT}llama-gqa-bf16/model.safetensors`));
    for (const [strategy, convertOn] of [['streamed', 'gpu'], ['streamed', 'cpu'], ['fp16', undefined]] as const) {
      const loaded = await loadWeights(ctx, map, { strategy, convertOn, http: fast, maxBindingBytes: 4096, stream: { chunkBytes: 10_007 } });
      const embed = loaded.tensors.get('model.embed_tokens.weight') as GpuTensor;
      expect(embed.parts.length).toBeGreaterThan(1);
      for (const r of map.tensors.values()) {
        expect(Array.from(await gpuWords(loaded.tensors.get(r.name) as GpuTensor)), r.name).toEqual(Array.from(expectedWords(r, file)));
      }
      loaded.group.destroy();
    }
    expect(ctx.ledger.current).toBe(0);
  });

  it('streams from a server that ignores Range with one sequential read, and resumes dropped connections', async () => {
    const map = await tensorMap('qwen2-bias-fp32');
    server.log.length = 0;
    server.misbehave = { ignoreRange: true, dropAfterBytes: 700_000, dropTimes: 2 };
    const loaded = await loadWeights(ctx, { ...map, files: map.files.map((f) => ({ ...f, rangeSupported: false })) }, { strategy: 'streamed', convertOn: 'gpu', http: fast });
    expect(loaded.tensors.size).toBe(map.tensors.size);
    expect(server.log.length).toBe(3); // one read, two resumes
    loaded.group.destroy();
    server.misbehave = { dropAfterBytes: 100_000, dropTimes: 4 };
    const again = await loadWeights(ctx, map, { strategy: 'streamed', http: fast });
    expect(again.tensors.size).toBe(map.tensors.size);
    again.group.destroy();
    expect(ctx.ledger.current).toBe(0);
  });

  const both = ['streamed', 'fp16', 'naive'] as const;
  const failures: [string, Partial<ServeDirHandle['misbehave']>, string, RegExp, readonly ('streamed' | 'fp16' | 'naive')[]][] = [
    ['404 mid-load', { statusByPath: { 'model.safetensors': 404 } }, 'http', /not found/, both],
    ['403', { statusByPath: { 'model.safetensors': 403 } }, 'http', /access denied/, both],
    ['truncated body', { truncateAt: 900_000 }, 'bad-file', /truncated/, both],
    // a whole-file GET is bounded by the size the header read gave (Infinity: an endless body, never held whole)
    ['body longer than the file', { extraBytes: 3_000_000 }, 'bad-file', /more than the \d+ such a file may be/, ['fp16', 'naive']],
    // Only range requests carry a Content-Range (fp16 and naive download with one plain GET).
    ['wrong Content-Range', { contentRangeShift: 2 }, 'http', /Content-Range/, ['streamed']],
    ['wrong file size in Content-Range', { contentRangeTotal: 5 }, 'http', /Content-Range/, ['streamed']],
  ];
  it.each(failures)('%s: a specific error naming file and tensor, and the ledger back to zero', async (_l, misbehave, code, msg, strategies) => {
    const map = await tensorMap('llama-gqa-bf16');
    server.misbehave = misbehave;
    for (const strategy of strategies) {
      const e = await failure(loadWeights(ctx, map, { strategy, http: fast, stream: { maxRequestBytes: 200_000 } }));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(msg);
      expect(e.details.file).toMatch(/llama-gqa-bf16\/model\.safetensors$/);
      if (strategy === 'streamed' && _l !== '404 mid-load' && _l !== '403') expect(e.details.tensor).toBeTruthy();
      expect(ctx.ledger.current).toBe(0);
    }
  });

  it('is cancelled by an AbortSignal mid-load with the ledger back to zero', async () => {
    const map = await tensorMap('llama-outliers-fp16');
    server.misbehave = { bytesPerSecond: 2_000_000 };
    const ac = new AbortController();
    let seen = 0;
    const opts: LoadWeightsOptions = {
      strategy: 'streamed', signal: ac.signal, http: fast,
      stream: { chunkBytes: 65536 },
      onProgress: (p) => { seen = p.tensorsDone; if (p.bytesDone > 300_000) ac.abort(); },
    };
    const e = await failure(loadWeights(ctx, map, opts));
    expect(e.code).toBe('cancelled');
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(map.tensors.size);
    expect(ctx.ledger.current).toBe(0);
  });

  it('runs a transform per tensor after its bytes are in (the streamed-int8 hook), and refuses int8 without one', async () => {
    const map = await tensorMap('llama-tied-mqa-fp16');
    const e = await failure(loadWeights(ctx, map, { strategy: 'streamed-int8' }));
    expect(e.code).toBe('unsupported');
    const seen: string[] = [];
    const loaded = await loadWeights(ctx, map, {
      strategy: 'streamed-int8', convertOn: 'gpu', http: fast, // the transform runs after GPU conversion (queue order)
      transform: async (t, r, group) => {
        seen.push(r.name);
        if (!r.name.endsWith('_proj.weight')) return t;
        const words = await gpuWords(t); // all bytes are there when the transform runs
        for (const p of t.parts) group.release(p.buffer);
        return { replaced: r.name, words: words.length };
      },
    });
    expect(seen.length).toBe(map.tensors.size);
    expect(loaded.tensors.get('model.layers.0.mlp.up_proj.weight')).toMatchObject({ replaced: 'model.layers.0.mlp.up_proj.weight' });
    // the streamed staging ring (3 slots of at most the largest tensor, + conversion parameters) is on top
    const largest = Math.max(...[...map.tensors.values()].map((r) => r.end - r.start));
    const staging = 3 * (Math.ceil(largest / 4) * 4 + 16) + 64 * 256;
    expect(loaded.report.peakGpuBytes).toBeLessThan(loaded.report.finalGpuBytes + loaded.report.finalGpuBytes + staging);
    loaded.group.destroy();
    expect(ctx.ledger.current).toBe(0);
  });
});
