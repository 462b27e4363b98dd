// `bench decode`: prefill and decode speed of a model at a few context lengths, with the bytes read from GPU memory
// per decoded token (weights + the KV cache up to that position), so tok/s can be set against memory bandwidth:
// effective GB/s = bytes/token × tok/s.
//   npm run bench -- decode --model <dir-or-url> [--precision fp16|int8[,…]] [--contexts 16,128,512] [--steps 16]
//                           [--threshold 6] [--profile] [--prefill 512] [--matvec <variant>] [--json]
// Decode runs as generate() does (each step fed on the GPU by the id its previous forward sampled, the next step
// submitted before that id is read back); decodeTokPerSCpuFed is the same with every step waiting for the previous id.
// Each row also says what one decode step costs besides the GPU's work: dispatches and compute passes per token, CPU
// time to record and submit them, and time waiting for the sampled id. --profile adds, per context, the GPU time of
// each kernel kind per token from timestamp queries (each dispatch in a timed pass of its own, in separate steps) and
// their sum against the wall time per token: near 1, the GPU kernels bound decode; far below, dispatch overhead or
// the CPU does. --prefill N times a prefill of N tokens on its own (tok/s). --matvec picks the one-token products'
// variant (scripts/bench-matvec.ts: e.g. 128:4:sg) instead of the device's default.
import { nodeGpuContext } from '../workers/gpu/node-gpu.ts';
import { parseMatVecVariant } from '../workers/kernels/matvec-io.ts';
import { DEFAULT_OUTLIER_THRESHOLD, int8LinearFactory } from '../workers/model/int8-linear.ts';
import type { SamplingParams } from '../workers/kernels/sample.ts';
import { loadModelWeights } from '../workers/testing/model-weights.ts';
import { Transformer } from '../workers/model/transformer.ts';
import { buildWeights, fp16LinearFactory, type Weights } from '../workers/model/weights.ts';
import type { Config } from '../workers/model/config.ts';
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
    for (const lin of [l.qkv, l.o, l.gateUp, l.down]) weights += lin.bytes;
    const window = c.layers[i].window;
    kv += 2 * Math.min(position + 1, window ?? Infinity) * c.kvDim * 4;
  });
  return { weights, kv };
}

/**
 * GPU time per kernel kind per decode step, from `steps` steps with timestamp queries (each dispatch in a pass of its
 * own), against the wall time per step measured without them.
 */
async function profileSteps(t: Transformer, id: number, pos: number, steps: number, wallMsPerToken: number) {
  const rec = t.recorder;
  try {
    rec.startProfiling(4096);
  } catch (e) {
    return { unavailable: e instanceof Error ? e.message : String(e) };
  }
  try {
    let next = await t.step(id, pos, GREEDY); // warm-up: the split passes' first use
    rec.takeTimes();
    for (let s = 1; s <= steps; s++) next = await t.step(next, pos + s, GREEDY);
    const kinds = rec.takeTimes();
    const perToken = Object.fromEntries(
      Object.entries(kinds)
        .sort((a, b) => b[1].gpuMs - a[1].gpuMs)
        .map(([k, v]) => [k, { dispatches: v.dispatches / steps, gpuMs: v.gpuMs / steps }]),
    );
    const gpuMsPerToken = Object.values(kinds).reduce((n, v) => n + v.gpuMs, 0) / steps;
    return { kernels: perToken, gpuMsPerToken, wallMsPerToken, gpuOverWall: gpuMsPerToken / wallMsPerToken };
  } finally {
    rec.stopProfiling();
  }
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
  const prefillTokens = values.prefill ? numberOption(BENCH_DECODE, 'prefill', values.prefill, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1') : 0;
  let matvec;
  try {
    matvec = values.matvec ? parseMatVecVariant(values.matvec) : undefined;
  } catch (e) {
    throw badValue(BENCH_DECODE, 'matvec', values.matvec, e instanceof Error ? e.message : String(e));
  }
  const ctx = await nodeGpuContext();
  const adapter = `${ctx.adapter.vendor} ${ctx.adapter.architecture}`.trim();
  for (const precision of precisions as ('fp16' | 'int8')[]) {
    const loaded = await loadModelWeights(ctx, values.model, { precision });
    const fp16 = fp16LinearFactory(ctx, { matvec });
    const factory = precision === 'int8' ? int8LinearFactory(ctx, fp16, { threshold, matvec }) : fp16;
    const weights = buildWeights(config, loaded.tensors, factory);
    // per context: the GPU-fed steps, the CPU-fed ones, then the profiled ones
    const maxCtx = Math.max(...contexts, prefillTokens) + 3 * steps + 3;
    const t = new Transformer(ctx, config, weights, { contextLength: maxCtx, maxTokens: 64 });
    try {
      // Deterministic prompt ids (a fixed stride through the vocabulary).
      const ids = Array.from({ length: Math.max(...contexts, prefillTokens) }, (_, i) => (i * 7919 + 13) % config.vocabSize);
      // warm-up: a prompt chunk and two decode steps (CPU-fed and GPU-fed), so no first use of a pipeline is timed
      await t.step(await t.prefill(ids.slice(0, 4), 0, GREEDY), 4, GREEDY);
      await t.queueStep(5, GREEDY);
      if (prefillTokens > 0) {
        await t.prefill(ids.slice(0, prefillTokens), 0, GREEDY); // warm-up: every chunk size's pipelines
        const t0 = performance.now();
        await t.prefill(ids.slice(0, prefillTokens), 0, GREEDY);
        const ms = performance.now() - t0;
        const row = { bench: 'prefill', model: values.model, precision, adapter, tokens: prefillTokens, chunk: t.maxTokens, prefillTokPerS: (prefillTokens * 1000) / ms, ms };
        console.log(values.json ? JSON.stringify(row) : `${precision} prefill of ${prefillTokens}: ${row.prefillTokPerS.toFixed(1)} tok/s (${ms.toFixed(0)} ms)`);
      }
      for (const c of contexts) {
        const t0 = performance.now();
        await t.prefill(ids.slice(0, c), 0, GREEDY);
        const prefillMs = performance.now() - t0;
        // decode as generate() runs it: each step fed on the GPU by the id its previous forward sampled, the next step
        // submitted before this one's id is read back
        const cost = { dispatches: 0, passes: 0, recordMs: 0, waitMs: 0 };
        const queue = (pos: number) => {
          const p = t.queueStep(pos, GREEDY);
          cost.dispatches += t.lastForward.dispatches;
          cost.passes += t.lastForward.passes;
          cost.recordMs += t.lastForward.recordMs;
          return p;
        };
        const t1 = performance.now();
        let pending = queue(c);
        let next = 0;
        for (let s = 0; s < steps; s++) {
          const ahead = s + 1 < steps ? queue(c + s + 1) : null;
          const w0 = performance.now();
          next = await pending;
          cost.waitMs += performance.now() - w0;
          if (ahead) pending = ahead;
        }
        const decodeMs = performance.now() - t1;
        // the same fed from the CPU, each step waiting for the previous id (what the GPU-fed loop saves)
        const t2 = performance.now();
        for (let s = 0; s < steps; s++) next = await t.step(next, c + steps + s, GREEDY);
        const blockingMs = performance.now() - t2;
        const b = bytesPerToken(weights, config, c + steps / 2);
        const decodeTokPerS = (steps * 1000) / decodeMs;
        const row = {
          bench: 'decode',
          model: values.model,
          precision,
          adapter,
          matvec: values.matvec ?? 'default',
          context: c,
          steps,
          prefillTokPerS: (c * 1000) / prefillMs,
          decodeTokPerS,
          msPerToken: decodeMs / steps,
          decodeTokPerSCpuFed: (steps * 1000) / blockingMs,
          bytesPerToken: b.weights + b.kv,
          weightBytesPerToken: b.weights,
          kvBytesPerToken: b.kv,
          effectiveGBPerS: ((b.weights + b.kv) * decodeTokPerS) / 1e9,
          dispatchesPerToken: cost.dispatches / steps,
          passesPerToken: cost.passes / steps,
          recordMsPerToken: cost.recordMs / steps,
          readbackWaitMsPerToken: cost.waitMs / steps,
          profile: values.profile ? await profileSteps(t, next, c + 2 * steps, steps, decodeMs / steps) : undefined,
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
