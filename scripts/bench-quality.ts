// `bench quality`: perplexity of the fp16 and the LLM.int8 path on the same text, their relative difference, and the
// top-1 agreement between the two paths at every predicted position.
//   npm run bench -- quality --model <dir> [--threshold 6] [--windows N] [--int8-lm-head] [--json]
// --int8-lm-head quantizes lm_head too on the int8 path (ignored, with a note, for tied embeddings).
// The text and windows are reference.json's `heldout` (kjv-llama: heldout.txt, documents encoded as [BOS] + ids +
// [EOS], concatenated, non-overlapping windows, no KV cache across windows), computed exactly as it describes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuContext } from '../workers/gpu/device.ts';
import { nodeGpuContext } from '../workers/gpu/node-gpu.ts';
import type { Config } from '../workers/model/config.ts';
import { DEFAULT_OUTLIER_THRESHOLD, int8LinearFactory } from '../workers/model/int8-linear.ts';
import { encodeHeldout } from '../workers/testing/heldout.ts';
import { loadModelWeights } from '../workers/testing/model-weights.ts';
import { Transformer } from '../workers/model/transformer.ts';
import { buildWeights, fp16LinearFactory } from '../workers/model/weights.ts';
import { numberOption, parseCli } from './cli.ts';
import { BENCH_QUALITY } from './cli-specs.ts';
import { readModelConfig } from './model-files.ts';

interface PathResult {
  perplexity: number;
  meanNll: number;
  predictions: number;
  /** argmax at every predicted position, for the agreement between paths */
  top1: Int32Array;
}

async function evaluate(
  ctx: GpuContext,
  dir: string,
  config: Config,
  precision: 'fp16' | 'int8',
  threshold: number,
  stream: number[],
  window: number,
  windows: number,
  int8LmHead = false,
): Promise<PathResult & { scope: string; note: string | null }> {
  const loaded = await loadModelWeights(ctx, dir, { precision, int8LmHead: precision === 'int8' && int8LmHead });
  const fp16 = fp16LinearFactory(ctx);
  const factory = precision === 'int8' ? int8LinearFactory(ctx, fp16, { threshold }) : fp16;
  const t = new Transformer(ctx, config, buildWeights(config, loaded.tensors, factory), {
    contextLength: window + 1,
    // a whole window in one forward: LLM.int8 picks outlier columns over the tokens of a forward, as the reference does
    maxTokens: window,
    allLogits: true,
  });
  try {
    const V = config.vocabSize;
    const top1 = new Int32Array(windows * window);
    let nll = 0;
    let n = 0;
    for (let w = 0; w < windows; w++) {
      const ids = stream.slice(w * window, (w + 1) * window);
      const targets = stream.slice(w * window + 1, (w + 1) * window + 1);
      const logits = await t.logits(ids, 0);
      for (let p = 0; p < targets.length; p++) {
        const row = logits.subarray(p * V, (p + 1) * V);
        let m = -Infinity;
        let arg = 0;
        for (let j = 0; j < V; j++) {
          if (row[j] > m) {
            m = row[j];
            arg = j;
          }
        }
        let z = 0;
        for (let j = 0; j < V; j++) z += Math.exp(row[j] - m);
        nll += m + Math.log(z) - row[targets[p]];
        top1[n++] = arg;
      }
    }
    return { perplexity: Math.exp(nll / n), meanNll: nll / n, predictions: n, top1: top1.subarray(0, n), scope: loaded.scope, note: loaded.note };
  } finally {
    t.destroy();
    await loaded.close();
  }
}

export async function benchQuality(argv: string[]): Promise<void> {
  const { values } = parseCli(BENCH_QUALITY, argv);
  const dir = values.model;
  const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as {
    heldout?: { window: number; windows: number; perplexity: number };
  };
  const spec = reference.heldout;
  if (!spec) throw new Error(`bench quality: ${dir}/reference.json has no 'heldout' section (text and windows)`);
  const docs = await encodeHeldout(dir);
  if (!docs) throw new Error(`bench quality: ${dir} needs heldout.txt and tokenizer.json`);
  const stream = docs.flat();
  const windows = Math.min(spec.windows, numberOption(BENCH_QUALITY, 'windows', values.windows ?? String(spec.windows), (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1'));
  const config = await readModelConfig(dir);
  const ctx = await nodeGpuContext();
  const threshold = numberOption(BENCH_QUALITY, 'threshold', values.threshold ?? String(DEFAULT_OUTLIER_THRESHOLD), (n) => n >= 0, 'a threshold ≥ 0');
  const t0 = performance.now();
  const f = await evaluate(ctx, dir, config, 'fp16', threshold, stream, spec.window, windows);
  const t1 = performance.now();
  const q = await evaluate(ctx, dir, config, 'int8', threshold, stream, spec.window, windows, values['int8-lm-head']);
  if (q.note) console.error(`note: ${q.note}`);
  const t2 = performance.now();
  let agree = 0;
  for (let i = 0; i < f.predictions; i++) if (f.top1[i] === q.top1[i]) agree++;
  const row = {
    bench: 'quality',
    model: dir,
    adapter: `${ctx.adapter.vendor} ${ctx.adapter.architecture}`.trim(),
    text: 'heldout.txt',
    windows,
    window: spec.window,
    predictions: f.predictions,
    threshold,
    int8Scope: q.scope,
    fp16Perplexity: f.perplexity,
    int8Perplexity: q.perplexity,
    referencePerplexity: windows === spec.windows ? spec.perplexity : null,
    int8VsFp16RelDiff: (q.perplexity - f.perplexity) / f.perplexity,
    top1Agreement: agree / f.predictions,
    fp16Ms: t1 - t0,
    int8Ms: t2 - t1,
  };
  if (values.json) console.log(JSON.stringify(row));
  else {
    console.log(
      `${dir}: perplexity fp16 ${f.perplexity.toFixed(3)}, int8 (${q.scope}) ${q.perplexity.toFixed(3)} ` +
        `(${(row.int8VsFp16RelDiff * 100).toFixed(3)} %), top-1 agreement ${(row.top1Agreement * 100).toFixed(2)} % ` +
        `over ${f.predictions} predictions`,
    );
  }
}
