// The float64 reference forward against every fixture's reference logits and greedy ids: it must agree with the
// independent NumPy (families/) and Hugging Face (random/) references before it may judge the GPU path.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readReference } from './reference-check.ts';
import { ReferenceModel } from './reference-forward.ts';

const MODELS = '../shared/models';

function check(dir: string, tolerance: number) {
  const model = ReferenceModel.fromDir(dir);
  const [c] = readReference(dir).cases;
  const rows = model.logits(c.ids);
  let maxAbs = 0;
  rows.forEach((row, p) => row.forEach((v, j) => (maxAbs = Math.max(maxAbs, Math.abs(v - c.logits[p][j])))));
  expect(maxAbs).toBeLessThanOrEqual(tolerance);
  expect(model.greedy(c.ids, c.greedy_ids.length)).toEqual(c.greedy_ids);
}

describe('float64 reference forward', () => {
  // families/: a float64 NumPy forward with float32 RoPE frequencies, as here.
  it.each(readdirSync(`${MODELS}/families`).sort())('families/%s: logits within 1e-5, greedy ids', (name) => {
    check(`${MODELS}/families/${name}`, 1e-5);
  });
  // random/: Hugging Face in float32 with dtype-rounded RoPE frequencies (~1.5e-3 of logit, README of the fixtures).
  it.each(readdirSync(`${MODELS}/random`).sort())('random/%s: logits within 2e-3, greedy ids', (name) => {
    check(`${MODELS}/random/${name}`, 2e-3);
  });
});
