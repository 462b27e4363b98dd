// Whole-model checks against a folder's reference.json (format: ../shared/models/README.md), shared by
// `npm run verify` and the model GPU tests so both run the same code:
//   max |Δlogit| over every position of `ids`; top-1 agreement where the reference's top-1/top-2 gap > 0.05;
//   greedy decoding with the KV cache against `greedy_ids` (with the project's own top-1/top-2 gap at a divergence);
//   for folders with `heldout` (kjv-llama): perplexity computed as reference.json says.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuContext } from '../gpu/device.ts';
import { parseConfig, type Config } from '../model/config.ts';
import { GREEDY as GREEDY_PARAMS } from '../kernels/sample.ts';
import { Transformer } from '../model/transformer.ts';
import { buildWeights, type LinearFactory } from '../model/weights.ts';

export interface ReferenceCase {
  name: string;
  ids: number[];
  logits: number[][];
  greedy_ids: number[];
}

export interface CaseReport {
  name: string;
  positions: number;
  maxAbsDiff: number;
  /** Positions where the reference's top-1/top-2 gap > 0.05, and how many of them agree on top-1. */
  top1Considered: number;
  top1Agree: number;
  greedyWant: number[];
  greedyGot: number[];
  /** First index where greedyGot differs from greedyWant (-1: identical). */
  divergeAt: number;
  /** The project's own top-1/top-2 logit gap at the divergence step (NaN when identical). */
  gapAtDivergence: number;
  /** What the project computed: one logits row per position of ids. */
  logits: Float32Array;
}

export interface HeldoutReport {
  windows: number;
  tokens: number;
  meanNll: number;
  perplexity: number;
  referencePerplexity: number;
  relDiff: number;
}

export interface ModelCheck {
  model: string;
  config: Config;
  cases: CaseReport[];
  heldout: HeldoutReport | null;
}

export const GAP_CONSIDERED = 0.05;

export function readReference(dir: string): { cases: ReferenceCase[]; raw: Record<string, unknown> } {
  const raw = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Record<string, unknown>;
  const prompts = raw.prompts as (ReferenceCase & { text?: string })[] | undefined;
  const cases = prompts
    ? prompts.map((p, i) => ({ name: p.text ?? `prompt ${i}`, ids: p.ids, logits: p.logits, greedy_ids: p.greedy_ids }))
    : [{ name: String(raw.model ?? dir), ids: raw.ids as number[], logits: raw.logits as number[][], greedy_ids: raw.greedy_ids as number[] }];
  return { cases, raw };
}

function top2(row: ArrayLike<number>): { i: number; gap: number } {
  let a = -Infinity;
  let b = -Infinity;
  let i = 0;
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (v > a) {
      b = a;
      a = v;
      i = j;
    } else if (v > b) b = v;
  }
  return { i, gap: a - b };
}

export async function checkCase(t: Transformer, c: ReferenceCase): Promise<CaseReport> {
  const V = t.config.vocabSize;
  const logits = await t.logits(c.ids, 0);
  let maxAbsDiff = 0;
  let considered = 0;
  let agree = 0;
  c.logits.forEach((ref, p) => {
    const row = logits.subarray(p * V, (p + 1) * V);
    for (let j = 0; j < V; j++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(row[j] - ref[j]));
    const r = top2(ref);
    if (r.gap > GAP_CONSIDERED) {
      considered++;
      if (top2(row).i === r.i) agree++;
    }
  });

  // Greedy with the KV cache, as generate() runs it: prefill, then one step per token, sampling on the GPU.
  const got: number[] = [];
  let next = await t.prefill(c.ids, 0, GREEDY_PARAMS);
  for (let i = 0; i < c.greedy_ids.length; i++) {
    got.push(next);
    if (i + 1 < c.greedy_ids.length) next = await t.step(next, c.ids.length + i, GREEDY_PARAMS);
  }
  const divergeAt = got.findIndex((id, i) => id !== c.greedy_ids[i]);
  let gapAtDivergence = NaN;
  if (divergeAt >= 0) {
    // Recompute that step's logits (the cache before it holds the same ids in both runs).
    const ids = [...c.ids, ...got];
    const pos = c.ids.length + divergeAt - 1;
    gapAtDivergence = top2(await t.logits([ids[pos]], pos)).gap;
  }
  return {
    name: c.name,
    positions: c.ids.length,
    maxAbsDiff,
    top1Considered: considered,
    top1Agree: agree,
    greedyWant: c.greedy_ids,
    greedyGot: got,
    divergeAt,
    gapAtDivergence,
    logits,
  };
}

/** Held-out perplexity as kjv-llama's reference.json describes it (windows of `window` tokens, no KV across them). */
export async function heldoutPerplexity(
  t: Transformer,
  stream: number[],
  spec: { window: number; windows: number; perplexity: number },
  onProgress?: (line: string) => void,
): Promise<HeldoutReport> {
  const V = t.config.vocabSize;
  let nll = 0;
  let n = 0;
  for (let w = 0; w < spec.windows; w++) {
    const ids = stream.slice(w * spec.window, (w + 1) * spec.window);
    const targets = stream.slice(w * spec.window + 1, (w + 1) * spec.window + 1);
    const logits = await t.logits(ids, 0);
    for (let p = 0; p < targets.length; p++) {
      const row = logits.subarray(p * V, (p + 1) * V);
      let m = -Infinity;
      for (let j = 0; j < V; j++) m = Math.max(m, row[j]);
      let z = 0;
      for (let j = 0; j < V; j++) z += Math.exp(row[j] - m);
      nll += m + Math.log(z) - row[targets[p]];
      n++;
    }
    onProgress?.(`held-out window ${w + 1}/${spec.windows}: mean NLL so far ${(nll / n).toFixed(4)}`);
  }
  const meanNll = nll / n;
  const perplexity = Math.exp(meanNll);
  return {
    windows: spec.windows,
    tokens: n,
    meanNll,
    perplexity,
    referencePerplexity: spec.perplexity,
    relDiff: Math.abs(perplexity - spec.perplexity) / spec.perplexity,
  };
}

export interface CheckOptions {
  /** The weights, loaded by the caller (local folder or the streaming loader). */
  tensors: ReadonlyMap<string, unknown>;
  linear: LinearFactory;
  /** Encodes heldout.txt's documents (null: skip the perplexity). */
  encodeHeldout?: ((dir: string) => Promise<number[][] | null>) | null;
  maxTokens?: number;
  onProgress?: (line: string) => void;
}

export async function checkModel(ctx: GpuContext, dir: string, opts: CheckOptions): Promise<ModelCheck> {
  const config = parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const { cases, raw } = readReference(dir);
  const weights = buildWeights(config, opts.tensors, opts.linear);
  const heldoutSpec = raw.heldout as { window: number; windows: number; perplexity: number } | undefined;
  const longest = Math.max(...cases.map((c) => c.ids.length + c.greedy_ids.length), heldoutSpec?.window ?? 0);
  const t = new Transformer(ctx, config, weights, {
    contextLength: longest + 1,
    maxTokens: opts.maxTokens ?? 64,
    allLogits: true,
  });
  try {
    const reports: CaseReport[] = [];
    for (const c of cases) {
      const t0 = performance.now();
      reports.push(await checkCase(t, c));
      opts.onProgress?.(`checked ${c.name} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    let heldout: HeldoutReport | null = null;
    if (heldoutSpec && opts.encodeHeldout && existsSync(join(dir, 'heldout.txt'))) {
      const docs = await opts.encodeHeldout(dir);
      if (docs) {
        // "documents encoded as [0] + ids + [1], concatenated in file order"
        const stream = docs.flatMap((d) => d);
        heldout = await heldoutPerplexity(t, stream, heldoutSpec, opts.onProgress);
      }
    }
    return { model: dir, config, cases: reports, heldout };
  } finally {
    t.destroy();
  }
}
