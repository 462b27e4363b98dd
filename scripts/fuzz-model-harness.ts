// The engine side of the mutation campaign (scripts/fuzz-model-files.ts is its command line, and
// workers/engine-hostile-files.gpu.test.ts runs a fixed subset): each case of scripts/fuzz-model-cases.ts is a copy of
// a reference model (kjv-llama, or a random / families model with kjv-llama's tokenizer cut to its vocabulary) with one
// file changed in a hostile way, served over HTTP and loaded by the engine in Node + Dawn while a good model is
// loaded. Each outcome is checked against the invariants a load must keep:
//   - it succeeds (and a generation with the model's defaults then runs or fails with an EngineError), or it fails
//     with an EngineError whose code is specific (not 'internal') and whose message or details name what is wrong;
//   - after a failure, the ledger is back to what it was (the good model kept) or at 0 (the good model dropped once
//     the load began to allocate), and a kept model still generates its reference ids;
//   - no uncaptured WebGPU error, and no case runs past its time limit.
import { cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerateOptions, LoadStrategy } from '../workers/api.ts';
import { NodeFsBackend } from '../workers/cache/fs.node.ts';
import { Engine } from '../workers/engine.ts';
import { EngineError } from '../workers/errors.ts';
import type { GpuContext } from '../workers/gpu/device.ts';
import { nodeGpu } from '../workers/gpu/node-gpu.ts';
import { serveDir } from '../workers/testing/http-server.ts';
import { fuzzCases, type FuzzCase } from './fuzz-model-cases.ts';

const KJV = '../shared/models/kjv-llama';
const reference = JSON.parse(readFileSync(`${KJV}/reference.json`, 'utf8')) as { prompts: { text: string; greedy_ids: number[] }[] };
const greedy: GenerateOptions = { maxTokens: 8, temperature: 0, topK: 0, topP: 1, seed: 1, stop: [], chat: false };
const CASE_LIMIT_MS = 60_000;

export interface Finding {
  id: string;
  outcome: 'loaded' | 'refused';
  code?: string;
  message?: string;
  generate?: string;
  /** A load's notes (LoadReport.notes): what it did not take as given. */
  notes?: string[];
  ms: number;
  violations: string[];
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} ran past ${ms} ms`)), ms);
    p.then((v) => (clearTimeout(t), resolve(v)), (e: unknown) => (clearTimeout(t), reject(e as Error)));
  });
}

/** kjv-llama's tokenizer cut to the ids below `vocabSize` (and the merges among them), for the smaller random models. */
function smallerTokenizer(path: string, vocabSize: number): unknown {
  const t = JSON.parse(readFileSync(path, 'utf8')) as { model: { vocab: Record<string, number>; merges: (string | string[])[] }; added_tokens: { id: number }[] };
  const vocab = Object.fromEntries(Object.entries(t.model.vocab).filter(([, id]) => id < vocabSize));
  const merges = t.model.merges.filter((m) => {
    const [a, b] = typeof m === 'string' ? m.split(' ') : m;
    return a in vocab && b in vocab && a + b in vocab;
  });
  return { ...t, model: { ...t.model, vocab, merges }, added_tokens: t.added_tokens.filter((a) => a.id < vocabSize) };
}

/** A copy of `from` in `to` whose files are hard links (a case replaces a file: put() unlinks it first). */
function linkCopy(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) linkSync(join(from, f), join(to, f));
}

/**
 * Runs the cases whose id passes `select` and returns one finding per case (each also given to `log`). Findings with
 * violations broke an invariant.
 */
export interface FuzzOptions {
  /** How each case is loaded (default 'streamed'; the good model always loads streamed). */
  strategy?: LoadStrategy;
  /** Load the cases through the byte cache (a fresh directory), as the browser does by default. */
  cache?: boolean;
  log?: (f: Finding) => void;
}

export async function fuzzModelFiles(select: (id: string) => boolean, opts: FuzzOptions = {}): Promise<Finding[]> {
  const log = opts.log ?? (() => {});
  const root = mkdtempSync(join(tmpdir(), 'fuzz-model-files-'));
  const bases: Record<string, string> = {};
  const base = (name: string, src: string, tokenizerFrom?: string): string => {
    const dir = join(root, '_base', name);
    cpSync(src, dir, { recursive: true });
    if (tokenizerFrom) {
      cpSync(join(tokenizerFrom, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
      const vocabSize = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size?: number; text_config?: { vocab_size?: number } });
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(smallerTokenizer(join(tokenizerFrom, 'tokenizer.json'), vocabSize.vocab_size ?? vocabSize.text_config?.vocab_size ?? 0)));
    }
    bases[name] = dir;
    return dir;
  };
  base('kjv', KJV);
  for (const m of readdirSync('../shared/models/random')) base(m, `../shared/models/random/${m}`, KJV);
  for (const m of readdirSync('../shared/models/families')) base(m, `../shared/models/families/${m}`, KJV);
  cpSync(join(KJV, 'model.safetensors'), join(root, 'kjv-good.safetensors'));
  cpSync(KJV, join(root, 'good'), { recursive: true });

  const server = await serveDir(root);
  const cacheBackend = opts.cache ? new NodeFsBackend(join(root, '_cache')) : null;
  const engine = new Engine({ gpu: nodeGpu, baseHref: server.url, cacheBackend });
  await engine.init();
  const ctx = (engine as unknown as { ctx: GpuContext }).ctx;
  const uncaptured: string[] = [];
  ctx.device.addEventListener('uncapturederror', (ev) => void uncaptured.push((ev as GPUUncapturedErrorEvent).error.message));
  const ledger = async () => (await engine.memory(Infinity)).current;
  const load = (model: string, strategy: LoadStrategy = 'streamed', cache: 'use' | 'off' = 'off') =>
    engine.load({ model, strategy, contextLength: 64, cache }, () => {});
  const goodIds = async (): Promise<number[]> => {
    const out: number[] = [];
    await engine.generate(reference.prompts[0].text, greedy, (t) => void out.push(...t.ids));
    return out;
  };
  const want = reference.prompts[0].greedy_ids.slice(0, greedy.maxTokens);

  const findings: Finding[] = [];
  const cases = fuzzCases().filter((c) => select(c.id));
  let n = 0;
  for (const c of cases) {
    n++;
    const dir = join(root, `c${n}`);
    linkCopy(bases[c.base ?? 'kjv'], dir);
    const put = (name: string, data: string | Uint8Array) => {
      try {
        unlinkSync(join(dir, name));
      } catch {
        /* a new file */
      }
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), data);
    };
    const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
    const remove = (name: string) => unlinkSync(join(dir, name));
    c.apply({ put, read, remove, dir });
    findings.push(await runCase(c, `c${n}/`));
    rmSync(dir, { recursive: true, force: true });
  }

  async function runCase(c: FuzzCase, model: string): Promise<Finding> {
    const violations: string[] = [];
    if ((await engine.modelInfo()) === null) await load('good/');
    const before = await ledger();
    uncaptured.length = 0;
    const t0 = performance.now();
    let outcome: Finding['outcome'] = 'loaded';
    let code: string | undefined;
    let message: string | undefined;
    let generate: string | undefined;
    let notes: string[] | undefined;
    try {
      ({ notes } = await withTimeout(load(model, opts.strategy, opts.cache ? 'use' : 'off'), CASE_LIMIT_MS, 'the load'));
      try {
        let text = '';
        const stats = await withTimeout(
          engine.generate('In the beginning', { maxTokens: 4, stop: [], chat: c.chat ?? false }, (t) => void (text += t.text)),
          CASE_LIMIT_MS,
          'the generation',
        );
        generate = `ok ${stats.stopReason} ${JSON.stringify(text)}`;
      } catch (e) {
        generate = e instanceof EngineError ? `${e.code}: ${e.message}` : `raw ${String(e)}`;
        if (!(e instanceof EngineError)) violations.push(`generate threw a raw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        else if (e.code === 'internal') violations.push(`generate failed 'internal': ${e.message}`);
      }
      await engine.unload();
    } catch (e) {
      outcome = 'refused';
      if (!(e instanceof EngineError)) {
        message = String((e as Error)?.stack ?? e);
        violations.push(`a raw ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message}`);
      } else {
        code = e.code;
        message = e.message;
        if (e.code === 'internal') violations.push(`code 'internal': ${e.message}`);
        const named = /\.json|\.safetensors|'[^']+'|setting|tensor/.test(e.message) || Object.keys(e.details).some((k) => ['file', 'tensor', 'setting'].includes(k));
        if (!named) violations.push(`the message names no file, tensor or setting: ${e.message}`);
      }
      const kept = (await engine.modelInfo()) !== null;
      const now = await ledger();
      if (kept && now !== before) violations.push(`ledger ${now} after the failure, ${before} before (the previous model kept)`);
      if (!kept && now !== 0) violations.push(`ledger ${now} after the failure, the previous model dropped`);
      if (kept) {
        const got = await goodIds().catch((err: unknown) => [`${String(err)}`]);
        if (JSON.stringify(got) !== JSON.stringify(want)) violations.push(`the kept model generates ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
      }
    }
    const ms = Math.round(performance.now() - t0);
    if (uncaptured.length) violations.push(`uncaptured WebGPU errors: ${uncaptured.slice(0, 3).join(' | ')}`);
    const f: Finding = { id: c.id, outcome, code, message: message?.slice(0, 300), generate: generate?.slice(0, 200), notes, ms, violations };
    log(f);
    return f;
  }

  await engine.unload();
  await server.close();
  rmSync(root, { recursive: true, force: true });
  return findings;
}
