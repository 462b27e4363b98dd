// A seeded campaign of hostile HTTP servers against whole loads on the GPU (Node + Dawn; pin an adapter with
// VK_ICD_FILENAMES): kjv-llama loaded by load-model.ts through a byte cache, every request answered honestly or with
// a misbehaviour drawn per request (workers/testing/misbehaviour-draws.ts):
//   tsx --import ./scripts/raw-hooks.mjs scripts/fuzz-load.ts [--seed 1] [--cases 6] [--p 0.1] [--strategy streamed]
// Each load must either succeed and decode the reference's greedy ids as an honest load does, or fail with an
// EngineError (not 'internal') naming one of the model's files, with the GPU ledger back to zero; then an honest load
// through the same cache must decode them again (the cache is never poisoned). Prints one JSON object: the
// loads, how many failed, and every finding.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadStrategy } from '../workers/api.ts';
import { NodeFsBackend } from '../workers/cache/fs.node.ts';
import { ByteCache } from '../workers/cache/store.ts';
import { EngineError } from '../workers/errors.ts';
import { nodeGpuContext } from '../workers/gpu/node-gpu.ts';
import type { GpuContext } from '../workers/gpu/device.ts';
import { disposeModel, loadModel } from '../workers/load/load-model.ts';
import { serveDir } from '../workers/testing/http-server.ts';
import { drawPerRequest, misbehaviours, rng } from '../workers/testing/misbehaviour-draws.ts';
import { GREEDY } from '../workers/kernels/sample.ts';
import { readReference } from '../workers/testing/reference-check.ts';

const MODELS = new URL('../../shared/models/', import.meta.url).pathname;
const HTTP = { retries: 2, backoffMs: 5, stallTimeoutMs: 500 };

/** Loads kjv-llama and decodes the reference's first prompt greedily (16 tokens). */
async function greedyIds(ctx: GpuContext, strategy: LoadStrategy, baseHref: string, cache: ByteCache): Promise<number[]> {
  const m = await loadModel(ctx, { model: 'kjv-llama/', strategy, contextLength: 128 }, { baseHref, http: HTTP, cache, reachTimeoutMs: 2000 });
  try {
    const c = readReference(join(MODELS, 'kjv-llama')).cases[0];
    const got: number[] = [];
    let next = await m.transformer.prefill(c.ids, 0, GREEDY);
    for (let i = 0; i < 16; i++) {
      got.push(next);
      next = await m.transformer.step(next, c.ids.length + i, GREEDY);
    }
    return got;
  } finally {
    disposeModel(m);
  }
}

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, d: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : d;
  };
  const seed0 = Number(arg('seed', '1'));
  const cases = Number(arg('cases', '6'));
  const p = Number(arg('p', '0.1'));
  const strategy = arg('strategy', 'streamed') as LoadStrategy;
  const ctx = await nodeGpuContext();
  const server = await serveDir(MODELS);
  const other = await serveDir(MODELS);
  const draws = misbehaviours({ other: other.url, size: 13_054_480, drip: 4_000_000 });
  const findings: { seed: number; case: number; problem: string; drawn: string[] }[] = [];
  const honestDir = mkdtempSync(join(tmpdir(), 'fuzz-load-'));
  const honest = await greedyIds(ctx, strategy, server.url, await ByteCache.open(new NodeFsBackend(honestDir)));
  rmSync(honestDir, { recursive: true, force: true });
  const want = readReference(join(MODELS, 'kjv-llama')).cases[0].greedy_ids.slice(0, 16);
  if (!same(honest, want)) findings.push({ seed: 0, case: -1, problem: `an honest load decodes ${honest}, the reference ${want}`, drawn: [] });
  let failed = 0;
  for (let c = 0; c < cases; c++) {
    const seed = seed0 * 100_003 + c;
    const drawn = new Map<number, string>();
    server.misbehave = { perRequest: drawPerRequest(rng(seed), p, draws, drawn) };
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-load-'));
    const cache = await ByteCache.open(new NodeFsBackend(dir));
    const report = (problem: string) => findings.push({ seed, case: c, problem, drawn: [...drawn.values()] });
    const t0 = performance.now();
    try {
      if (!same(await greedyIds(ctx, strategy, server.url, cache), honest)) report('a load succeeded with greedy ids that differ from an honest load');
    } catch (e) {
      failed++;
      const file = e instanceof EngineError && typeof e.details.file === 'string' ? e.details.file : '';
      if (!(e instanceof EngineError) || e.code === 'internal' || !file.includes('kjv-llama/')) report(`failed without naming a file: ${String(e)}`);
      if (ctx.ledger.current !== 0) report(`GPU ledger at ${ctx.ledger.current} bytes after the failed load`);
    }
    const ms = performance.now() - t0;
    server.misbehave = {};
    try {
      if (!same(await greedyIds(ctx, strategy, server.url, cache), honest)) report('an honest load through the cache after it gave other greedy ids (poisoned)');
    } catch (e) {
      report(`an honest load through the cache after it failed: ${String(e)}`);
    }
    console.error(`case ${c}: ${Math.round(ms)} ms, ${drawn.size} requests misbehaved`);
    rmSync(dir, { recursive: true, force: true });
  }
  await server.close();
  await other.close();
  ctx.device.destroy();
  console.log(JSON.stringify({ seed: seed0, cases, p, strategy, failed, findings }, null, 1));
}

await main(process.argv.slice(2));
