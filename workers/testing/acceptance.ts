// The acceptance thresholds for the fp16 path, applied to a reference check (verify and the model tests).
//   random models (one `ids` case): max |Δlogit| <= 0.03, top-1 agreement wherever the reference gap > 0.05, greedy ids
//     equal (a divergence only where our own top-1/top-2 gap is < 0.02);
//   prompt folders (kjv-llama): max |Δlogit| <= 0.15, the first 16 greedy ids of every prompt identical, held-out
//     perplexity within 0.5 %.
import type { ModelCheck } from './reference-check.ts';

export const RANDOM_MAX_ABS = 0.03;
export const PROMPTS_MAX_ABS = 0.15;
export const PROMPTS_GREEDY_PREFIX = 16;
export const DIVERGENCE_GAP = 0.02;
export const HELDOUT_REL = 0.005;

export function acceptance(check: ModelCheck): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  const prompts = check.cases.length > 1 || check.heldout !== null;
  for (const c of check.cases) {
    const maxAbs = prompts ? PROMPTS_MAX_ABS : RANDOM_MAX_ABS;
    if (!(c.maxAbsDiff <= maxAbs)) reasons.push(`${c.name}: max |Δlogit| ${c.maxAbsDiff.toFixed(4)} > ${maxAbs}`);
    if (!prompts && c.top1Agree !== c.top1Considered) reasons.push(`${c.name}: top-1 ${c.top1Agree}/${c.top1Considered}`);
    if (c.divergeAt >= 0) {
      const allowed = prompts ? c.divergeAt >= PROMPTS_GREEDY_PREFIX : c.gapAtDivergence < DIVERGENCE_GAP;
      if (!allowed) reasons.push(`${c.name}: greedy diverges at step ${c.divergeAt} (our gap ${c.gapAtDivergence.toFixed(4)})`);
    }
  }
  if (check.heldout && !(check.heldout.relDiff <= HELDOUT_REL)) {
    reasons.push(`held-out perplexity ${check.heldout.perplexity.toFixed(3)} is ${(check.heldout.relDiff * 100).toFixed(3)} % off`);
  }
  return { ok: reasons.length === 0, reasons };
}
