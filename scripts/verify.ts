// npm run verify -- --model <dir-or-url> [--precision fp16|int8] [--int8-lm-head] [--json] [--dump-logits <file>] [--adapter swiftshader|lavapipe]
// Runs the model on its folder's reference.json (../shared/models/README.md) and prints max |Δlogit|, top-1 agreement
// (where the reference's top-1/top-2 gap > 0.05), greedy decoding with the KV cache against greedy_ids (with the
// project's own top-1/top-2 gap at a divergence), and, where reference.json has `heldout`, the held-out perplexity.
// Exit status 1 when the acceptance thresholds are not met.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeGpuContext } from '../workers/gpu/node-gpu.ts';
import { describeRecipe } from '../workers/model/config.ts';
import { checkModel, type ModelCheck } from '../workers/testing/reference-check.ts';
import { acceptance } from '../workers/testing/acceptance.ts';
import { encodeHeldout } from '../workers/testing/heldout.ts';
import { fp16LinearFactory } from '../workers/model/weights.ts';
import { DEFAULT_OUTLIER_THRESHOLD, int8LinearFactory } from '../workers/model/int8-linear.ts';
import { loadModelWeights } from '../workers/testing/model-weights.ts';
import { badValue, numberOption, parseCli, runCli, UsageError } from './cli.ts';
import { VERIFY } from './cli-specs.ts';

/** max |Δlogit| of what we computed against reference.json's LLM.int8 emulations (llama-outliers-fp16 has them). */
function int8Comparisons(dir: string, check: ModelCheck): Record<string, number> {
  const raw = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Record<string, unknown>;
  const V = check.config.vocabSize;
  const out: Record<string, number> = {};
  for (const key of ['int8_outlier_logits', 'int8_no_outlier_logits']) {
    const ref = raw[key] as number[][] | undefined;
    if (!ref || check.cases.length !== 1) continue;
    const got = check.cases[0].logits;
    let m = 0;
    ref.forEach((row, p) => row.forEach((v, j) => (m = Math.max(m, Math.abs(got[p * V + j] - v)))));
    out[key] = m;
  }
  return out;
}

const ICDS: Record<string, string> = {
  swiftshader: '/usr/lib/chromium/vk_swiftshader_icd.json',
  lavapipe: '/usr/share/vulkan/icd.d/lvp_icd.json',
};

const FILES = ['config.json', 'reference.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'heldout.txt'];

/** A URL's small files (config, reference, tokenizer, heldout) fetched into a temporary directory; weights stream. */
async function fetchFolder(url: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  const base = url.endsWith('/') ? url : `${url}/`;
  for (const f of FILES) {
    const r = await fetch(new URL(f, base));
    if (r.ok) writeFileSync(join(dir, f), Buffer.from(await r.arrayBuffer()));
    else if (['config.json', 'reference.json'].includes(f)) throw new Error(`${base}${f}: HTTP ${r.status}`);
  }
  return dir;
}

function printHuman(check: ModelCheck, adapter: string, precision: string, ok: boolean, reasons: string[]): void {
  console.log(`model ${check.model} (${check.config.architecture}) on ${adapter}, ${precision}`);
  const recipe = describeRecipe(check.config);
  if (recipe.length > 0) console.log(`  recipe: ${recipe.join('; ')}`);
  for (const c of check.cases) {
    console.log(`  ${JSON.stringify(c.name)}: ${c.positions} positions`);
    console.log(`    max |Δlogit| ${c.maxAbsDiff.toFixed(5)}`);
    console.log(`    top-1 agreement ${c.top1Agree}/${c.top1Considered} (positions where the reference gap > 0.05)`);
    if (c.divergeAt < 0) console.log(`    greedy (KV cache): ${c.greedyGot.length}/${c.greedyWant.length} ids identical`);
    else {
      console.log(
        `    greedy (KV cache): diverges at step ${c.divergeAt} (got ${c.greedyGot[c.divergeAt]}, want ${c.greedyWant[c.divergeAt]}); ` +
          `our top-1/top-2 gap there ${c.gapAtDivergence.toFixed(5)}`,
      );
    }
  }
  if (check.heldout) {
    const h = check.heldout;
    console.log(
      `  held-out perplexity ${h.perplexity.toFixed(4)} (reference ${h.referencePerplexity}, ${(h.relDiff * 100).toFixed(3)} % off; ` +
        `${h.windows} windows, ${h.tokens} predictions)`,
    );
  }
  console.log(precision !== 'fp16' ? '(no acceptance thresholds for this precision)' : ok ? 'PASS' : `FAIL: ${reasons.join('; ')}`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCli(VERIFY, argv);
  if (!values.model) throw new UsageError(`--model <dir-or-url> is required\n${VERIFY.usage}`);
  const threshold = numberOption(VERIFY, 'threshold', values.threshold ?? String(DEFAULT_OUTLIER_THRESHOLD), (n) => n >= 0, 'a threshold ≥ 0');
  const maxTokens = values['max-tokens'] === undefined ? undefined : numberOption(VERIFY, 'max-tokens', values['max-tokens'], (n) => Number.isInteger(n) && n > 0, 'a whole number > 0');
  if (values.adapter) {
    const icd = ICDS[values.adapter];
    if (!icd) throw badValue(VERIFY, 'adapter', values.adapter, `one of ${Object.keys(ICDS).join(', ')}`);
    process.env.VK_ICD_FILENAMES = icd;
  }
  if (values.precision !== 'fp16' && values.precision !== 'int8') throw badValue(VERIFY, 'precision', values.precision, 'fp16 or int8');
  const int8 = values.precision === 'int8';
  if (values['int8-lm-head'] && !int8) throw new UsageError(`--int8-lm-head needs --precision int8\n${VERIFY.usage}`);
  const dir = /^https?:\/\//.test(values.model) ? await fetchFolder(values.model) : values.model;
  const ctx = await nodeGpuContext();
  const adapter = `${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.description}`.trim();
  // The app's loader ('streamed'; int8: 'streamed-int8', decoder linears quantized while loading, lm_head fp16 unless
  // --int8-lm-head, which tied embeddings ignore with a note).
  const weights = await loadModelWeights(ctx, values.model, { precision: int8 ? 'int8' : 'fp16', int8LmHead: values['int8-lm-head'] });
  if (weights.note) console.error(`note: ${weights.note}`);
  try {
    const tensors = weights.tensors;
    const fp16 = fp16LinearFactory(ctx);
    const check = await checkModel(ctx, dir, {
      tensors,
      linear: int8 ? int8LinearFactory(ctx, fp16, { threshold }) : fp16,
      encodeHeldout: values['no-heldout'] ? null : encodeHeldout,
      onProgress: values.verbose ? (line) => console.error(line) : undefined,
      maxTokens,
    });
    // The thresholds are for fp16; int8 is reported against the reference (and its int8 emulations, if any).
    const { ok, reasons } = int8 ? { ok: true, reasons: [] } : acceptance(check);
    const emulations = int8 ? int8Comparisons(dir, check) : null;
    if (values['dump-logits']) {
      const dump = check.cases.map((c) => {
        const V = check.config.vocabSize;
        return {
          logits: Array.from({ length: c.positions }, (_, p) => Array.from(c.logits.subarray(p * V, (p + 1) * V))),
          greedy_ids: c.greedyGot,
        };
      });
      writeFileSync(values['dump-logits'], JSON.stringify(dump.length === 1 && !JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')).prompts ? dump[0] : { prompts: dump }));
    }
    if (values.json) {
      console.log(
        JSON.stringify({
          model: values.model,
          precision: values.precision,
          family: check.config.family,
          recipe: describeRecipe(check.config),
          ...(int8 ? { int8Scope: weights.scope } : {}),
          adapter,
          pass: ok,
          reasons,
          cases: check.cases.map(({ logits: _l, ...c }) => ({ ...c, gapAtDivergence: Number.isNaN(c.gapAtDivergence) ? null : c.gapAtDivergence })),
          heldout: check.heldout,
          int8Emulations: emulations,
        }),
      );
    } else {
      printHuman(check, adapter, int8 ? `int8 (${weights.scope})` : values.precision!, ok, reasons);
      for (const [k, v] of Object.entries(emulations ?? {})) console.log(`  vs reference.json ${k}: max |Δlogit| ${v.toFixed(5)}`);
    }
    return ok ? 0 : 1;
  } finally {
    await weights.close();
    ctx.device.destroy();
  }
}

runCli(() => main(process.argv.slice(2)));
