// `bench decode`: prefill and decode speed of a model at a few context lengths, with the bytes read from GPU memory
// per decoded token (weights + the KV cache up to that position), so tok/s can be set against memory bandwidth:
// effective GB/s = bytes/token × tok/s.
//   npm run bench -- decode --model <dir-or-url> [--precision fp16|int8[,…]] [--contexts 16,128,512] [--steps 16]
//                           [--threshold 6] [--json]
import { nodeGpuContext } from '../workers/gpu/node-gpu.ts';
import { DEFAULT_OUTLIER_THRESHOLD, int8LinearFactory } from '../workers/model/int8-linear.ts';
import type { Config } from '../workers/model/config.ts';
import type { SamplingParams } from '../workers/kernels/sample.ts';
import { loadModelWeights } from '../workers/testing/model-weights.ts';
import { Transformer } from '../workers/model/transformer.ts';
import { buildWeights, fp16LinearFactory, type Weights } from '../workers/model/weights.ts';
import { badValue, numberOption, parseCli, UsageError } from './cli.ts';
import { BENCH_DECODE } from './cli-specs.ts';
import { readModelConfig } from './model-files.ts';

const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, u: 0 };

/**
 * GPU bytes one decode step reads: every linear layer, the norms, one embedding row, and the KV cache positions each
 * layer's query sees (all so far, or its sliding window).
 */
export function bytesPerToken(w: Weights, c: Config, position: number): { weights: number; kv: number } {
  let weights = w.lmHead.bytes + w.finalNorm.rowWords * 4 + Math.ceil(c.dim / 2) * 4;
  let kv = 0;
  w.layers.forEach((l, i) => {
    for (const norm of [l.attnNorm, l.qNorm, l.kNorm, l.postAttnNorm, l.ffnNorm, l.postFfnNorm]) weights += (norm?.rowWords ?? 0) * 4;
    for (const lin of [l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down]) weights += lin.bytes;
    const window = c.layers[i].window;
    kv += 2 * Math.min(position + 1, window ?? Infinity) * c.kvDim * 4;
  });
  return { weights, kv };
}

export async function benchDecode(argv: string[]): Promise<void> {
  const { values } = parseCli(BENCH_DECODE, argv);
  if (!values.model) throw new UsageError(`--model <dir-or-url> is required\n${BENCH_DECODE.usage}`);
  const threshold = numberOption(BENCH_DECODE, 'threshold', values.threshold ?? String(DEFAULT_OUTLIER_THRESHOLD), (n) => n >= 0, 'a threshold ≥ 0');
  const precisions = values.precision.split(',');
  for (const p of precisions) if (p !== 'fp16' && p !== 'int8') throw badValue(BENCH_DECODE, 'precision', p, 'fp16 or int8');
  const config = await readModelConfig(values.model);
  const steps = numberOption(BENCH_DECODE, 'steps', values.steps, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1');
  const contexts = values.contexts.split(',').map((c) => numberOption(BENCH_DECODE, 'contexts', c, (n) => Number.isInteger(n) && n >= 1, 'whole numbers ≥ 1'));
  const ctx = await nodeGpuContext();
  const adapter = `${ctx.adapter.vendor} ${ctx.adapter.architecture}`.trim();
  for (const precision of precisions as ('fp16' | 'int8')[]) {
    const loaded = await loadModelWeights(ctx, values.model, { precision });
    const fp16 = fp16LinearFactory(ctx);
    const factory = precision === 'int8' ? int8LinearFactory(ctx, fp16, { threshold }) : fp16;
    const weights = buildWeights(config, loaded.tensors, factory);
    const maxCtx = Math.max(...contexts) + steps + 1;
    const t = new Transformer(ctx, config, weights, { contextLength: maxCtx, maxTokens: 64 });
    try {
      // Deterministic prompt ids (a fixed stride through the vocabulary), and one warm-up step for pipeline caches.
      const ids = Array.from({ length: Math.max(...contexts) }, (_, i) => (i * 7919 + 13) % config.vocabSize);
      await t.prefill(ids.slice(0, 4), 0, GREEDY);
      for (const c of contexts) {
        const t0 = performance.now();
        let next = await t.prefill(ids.slice(0, c), 0, GREEDY);
        const prefillMs = performance.now() - t0;
        const t1 = performance.now();
        for (let s = 0; s < steps; s++) next = await t.step(next, c + s, GREEDY);
        const decodeMs = performance.now() - t1;
        const b = bytesPerToken(weights, config, c + steps / 2);
        const decodeTokPerS = (steps * 1000) / decodeMs;
        const row = {
          bench: 'decode',
          model: values.model,
          precision,
          adapter,
          context: c,
          steps,
          prefillTokPerS: (c * 1000) / prefillMs,
          decodeTokPerS,
          msPerToken: decodeMs / steps,
          bytesPerToken: b.weights + b.kv,
          weightBytesPerToken: b.weights,
          kvBytesPerToken: b.kv,
          effectiveGBPerS: ((b.weights + b.kv) * decodeTokPerS) / 1e9,
        };
        if (values.json) console.log(JSON.stringify(row));
        else {
          console.log(
            `${precision} ctx ${c}: prefill ${row.prefillTokPerS.toFixed(1)} tok/s, decode ${decodeTokPerS.toFixed(2)} tok/s ` +
              `(${row.msPerToken.toFixed(1)} ms), ${(row.bytesPerToken / 2 ** 20).toFixed(1)} MiB/token → ${row.effectiveGBPerS.toFixed(2)} GB/s`,
          );
        }
      }
    } finally {
      t.destroy();
      await loaded.close();
    }
  }
}
