// A mutation campaign against the engine's model loading (scripts/fuzz-model-harness.ts says what it checks; the
// mutations are in scripts/fuzz-model-cases.ts): prints one JSON line per case, then a summary of the cases that broke
// an invariant, and exits 1 when there is any.
//   npx tsx --import ./scripts/raw-hooks.mjs scripts/fuzz-model-files.ts [--only <substring of a case id>]
//     [--strategy naive|fp16|streamed|streamed-int8] [--cache]
// Pin the adapter with VK_ICD_FILENAMES as for the GPU tests. ~700 cases, a few minutes on lavapipe: not part of
// `npm test` (workers/engine-hostile-files.gpu.test.ts runs a fixed subset there).
import { LOAD_STRATEGIES, type LoadStrategy } from '../workers/api.ts';
import { fuzzModelFiles } from './fuzz-model-harness.ts';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : null);
const only = arg('--only');
const strategy = arg('--strategy');
if (strategy !== null && !(LOAD_STRATEGIES as readonly string[]).includes(strategy)) throw new Error(`--strategy: one of ${LOAD_STRATEGIES.join(', ')}`);
const findings = await fuzzModelFiles((id) => !only || id.includes(only), {
  strategy: (strategy ?? undefined) as LoadStrategy | undefined,
  cache: process.argv.includes('--cache'),
  log: (f) => console.log(JSON.stringify(f)),
});
const bad = findings.filter((f) => f.violations.length);
console.log(JSON.stringify({ cases: findings.length, violations: bad.length, failing: bad.map((f) => f.id) }));
process.exit(bad.length ? 1 : 0);
