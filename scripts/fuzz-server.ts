// A seeded campaign of hostile HTTP servers against the network layer (workers/net/http.ts) and the byte cache
// (workers/cache/reader.ts), in Node, without a GPU:
//   tsx scripts/fuzz-server.ts [--seed 1] [--cases 40] [--p 0.35]
// Each case serves a small model folder through workers/testing/http-server.ts with a misbehaviour drawn per request
// (with probability p, sometimes two laid over each other) and runs what a load does: the small files (fetchJson,
// fetchBytes with their bounds), the safetensors prefix, ranges of the weights, a whole-file GET, ranges through a
// fresh cache, a cancel; then an honest server reads the whole file through that cache. It holds each to the
// invariants of a load:
//   1. the bytes equal the file's, or an EngineError (not 'internal') naming the file;
//   2. bounded time (stall timeout × retries, plus the slowest drip drawn), and a cancel that ends at once;
//   3. bounded memory: the host's ArrayBuffer bytes never grow past a bound while an operation runs;
//   4. the cache is never poisoned: after the hostile case, an honest read through it gives the file's bytes.
// It prints one JSON object: the cases run and every finding (seed, case, operation, problem, the requests and the
// misbehaviours drawn for them). A clean campaign has no findings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFsBackend } from '../workers/cache/fs.node.ts';
import { CachedReader } from '../workers/cache/reader.ts';
import { ByteCache } from '../workers/cache/store.ts';
import { EngineError } from '../workers/errors.ts';
import { FileVersions } from '../workers/net/file-version.ts';
import { fetchBytes, fetchJson, readPrefix, streamRange, type HttpOptions } from '../workers/net/http.ts';
import { serveDir, type ServeDirHandle } from '../workers/testing/http-server.ts';
import { drawPerRequest, misbehaviours, rng, THE_SERVERS_WORD } from '../workers/testing/misbehaviour-draws.ts';

const SIZE = 200_003;
const BLOCK = 32 * 1024;
const STALL_MS = 300;
const HTTP: HttpOptions = { retries: 2, backoffMs: 5, stallTimeoutMs: STALL_MS };
/**
 * Host ArrayBuffer growth an operation may cause: the file (a whole-file GET holds it), what fetch and the socket hold
 * ahead of a slow reader (about 5 MiB, measured), and chunks read but not yet collected.
 */
const MEMORY_BOUND = 16 << 20;
/** A drip drawn is never slower than this, so an honest-but-slow body of the file takes at most SIZE / DRIP s. */
const DRIP = 80_000; // above the stall floor (STALL_MIN_BYTES per STALL_MS): slow, not stalled

interface Finding {
  seed: number;
  case: number;
  op: string;
  problem: string;
  requests: { path: string; range: string | null; status: number; bytesSent: number; drawn?: string }[];
}

/** Peak growth of host ArrayBuffer bytes while `run` runs, sampled every few ms. */
async function peakArrayBuffers<T>(run: () => Promise<T>): Promise<{ value?: T; error?: unknown; peak: number; ms: number }> {
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 2);
  const t0 = performance.now();
  try {
    return { value: await run(), peak, ms: performance.now() - t0 };
  } catch (error) {
    return { error, peak, ms: performance.now() - t0 };
  } finally {
    clearInterval(t);
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Why an error breaks invariant 1 (null: it is a specific EngineError naming the file). */
function badError(e: unknown, file: string): string | null {
  if (!(e instanceof EngineError)) return `not an EngineError: ${String(e)}`;
  if (e.code === 'internal') return `'internal': ${e.message}`;
  const named = typeof e.details.file === 'string' ? e.details.file : '';
  if (!named.endsWith(file) && !e.message.includes(file)) return `does not name ${file}: ${e.code}: ${e.message}`;
  return null;
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, d: number) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  const seed0 = arg('seed', 1);
  const cases = arg('cases', 40);
  const p = arg('p', 0.35);
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-server-'));
  const otherDir = mkdtempSync(join(tmpdir(), 'fuzz-other-'));
  const data = new Uint8Array(SIZE).map((_, i) => (i * 131 + (i >> 9) * 7) & 0xff);
  const config = { architectures: ['LlamaForCausalLM'], hidden_size: 64, note: 'x'.repeat(3000) };
  const template = '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}'.repeat(20);
  for (const d of [dir, otherDir]) {
    writeFileSync(join(d, 'model.safetensors'), d === dir ? data : data.map((b) => b ^ 0xff));
    writeFileSync(join(d, 'config.json'), JSON.stringify(d === dir ? config : { ...config, hidden_size: 32 }));
    writeFileSync(join(d, 'chat_template.jinja'), template);
    writeFileSync(join(d, 'other.bin'), data.map((b) => b ^ 0x0f));
  }
  const other: ServeDirHandle = await serveDir(otherDir);
  const server: ServeDirHandle = await serveDir(dir);
  const draws = misbehaviours({ other: other.url, size: SIZE, drip: DRIP });
  const findings: Finding[] = [];
  let ops = 0;
  let failedOps = 0;
  for (let c = 0; c < cases; c++) {
    const seed = seed0 * 100_003 + c;
    const r = rng(seed);
    const drawn = new Map<number, string>();
    server.log.length = 0;
    server.misbehave = { perRequest: drawPerRequest(r, p, draws, drawn) };
    const http: HttpOptions = { ...HTTP, versions: new FileVersions() };
    const base = server.url;
    const cacheDir = mkdtempSync(join(tmpdir(), 'fuzz-cache-'));
    const cache = await ByteCache.open(new NodeFsBackend(cacheDir), { blockBytes: BLOCK });
    const report = (op: string, problem: string) =>
      findings.push({
        seed,
        case: c,
        op,
        problem,
        requests: server.log.map((e) => ({ path: e.path, range: e.range, status: e.status, bytesSent: e.bytesSent, drawn: drawn.get(e.n ?? 0) })),
      });
    /** Runs one operation and holds it to invariants 1-3; `want` is the bytes it must give when it succeeds. */
    const check = async (op: string, file: string, want: Uint8Array, run: () => Promise<Uint8Array | null>, memory = MEMORY_BOUND) => {
      ops++;
      const before = server.log.length;
      const res = await peakArrayBuffers(run);
      const requests = server.log.length - before;
      const slow = server.log.slice(before).some((e) => drawn.get(e.n ?? 0)?.includes('bytesPerSecond'));
      const bound = (HTTP.retries! + 1) * (STALL_MS * 2 + 200) + requests * 400 + (slow ? (SIZE / DRIP) * 1000 * (HTTP.retries! + 2) : 0) + 3000;
      if (res.ms > bound) report(op, `took ${Math.round(res.ms)} ms (bound ${Math.round(bound)} ms)`);
      if (res.peak > memory) report(op, `host ArrayBuffers grew by ${res.peak} bytes (bound ${memory})`);
      if (res.error !== undefined) {
        failedOps++;
        const why = badError(res.error, file);
        if (why) report(op, why);
      } else if (!res.value || !equal(res.value, want)) {
        const word = server.log.slice(before).some((e) => THE_SERVERS_WORD.test(drawn.get(e.n ?? 0) ?? ''));
        if (word && (op.startsWith('fetch') || op === 'readPrefix')) return;
        report(op, `succeeded with wrong bytes (${res.value?.length ?? 'null'} bytes, want ${want.length})`);
      }
    };
    const enc = new TextEncoder();
    await check('fetchJson config.json', 'config.json', enc.encode(JSON.stringify(config)), async () => {
      const got = await fetchJson(base + 'config.json', http, false, 4 << 20);
      return enc.encode(JSON.stringify(got));
    });
    await check('fetchBytes chat_template.jinja', 'chat_template.jinja', enc.encode(template), () => fetchBytes(base + 'chat_template.jinja', http, true, 1 << 20));
    const url = base + 'model.safetensors';
    await check('readPrefix', 'model.safetensors', data.subarray(0, 4096), async () => {
      return (await readPrefix(url, 4096, http)).bytes;
    });
    const ranges = Array.from({ length: 3 }, () => {
      const a = Math.floor(r() * SIZE);
      return { start: a, end: Math.min(SIZE, a + 1 + Math.floor(r() * 80_000)) };
    });
    const gather = async (read: typeof streamRange, range: { start: number; end: number }) => {
      const out = new Uint8Array(range.end - range.start);
      let next = range.start;
      await read(url, range, { ...http, expectSize: SIZE }, (chunk, at) => {
        if (at !== next) throw new Error(`chunk at ${at}, expected ${next}`);
        out.set(chunk, at - range.start);
        next = at + chunk.length;
      });
      if (next !== range.end) throw new Error(`range ended at ${next}, not ${range.end}`);
      return out;
    };
    for (const range of ranges) {
      await check(`streamRange ${range.start}-${range.end}`, 'model.safetensors', data.subarray(range.start, range.end), () => gather(streamRange, range));
    }
    // As strategies.ts fetchWhole: bounded by the size the header read gave, and held to it.
    await check('fetchWhole model.safetensors', 'model.safetensors', data, async () => {
      const got = (await fetchBytes(url, http, false, SIZE))!;
      if (got.length !== SIZE) throw new EngineError('bad-file', `model.safetensors: the download is ${got.length} bytes`, { file: url });
      return got;
    });
    // Through a fresh cache, as a load with the cache reads: a new reader, its own version pins.
    const reader = new CachedReader(cache, base);
    const cachedHttp: HttpOptions = { ...HTTP, versions: new FileVersions() };
    for (const range of ranges) {
      await check(`cached ${range.start}-${range.end}`, 'model.safetensors', data.subarray(range.start, range.end), () =>
        gather((u, rg, o, cb) => reader.streamRange(u, rg, { ...o, versions: cachedHttp.versions }, cb), range),
      );
    }
    // A cancel lands at a random moment: the operation ends promptly, as a cancel or with the right bytes.
    {
      ops++;
      const ac = new AbortController();
      const at = Math.floor(r() * 200);
      const t0 = performance.now();
      setTimeout(() => ac.abort(), at);
      const res = await streamRange(url, { start: 0, end: SIZE }, { ...HTTP, signal: ac.signal }, () => {}).then(
        () => null,
        (e: unknown) => e,
      );
      const late = performance.now() - t0 - at;
      const why = res === null || (res instanceof EngineError && res.code === 'cancelled') ? null : badError(res, 'model.safetensors');
      if (why) {
        report('cancel', `a cancelled read failed with ${why}`);
      }
      if (late > 1000) report('cancel', `a cancel took ${Math.round(late)} ms to take effect`);
    }
    // Invariant 4: an honest server, a new reader over the same cache: the whole file, right.
    server.misbehave = {};
    const honest = new CachedReader(cache, base);
    try {
      const got = await gather((u, rg, o, cb) => honest.streamRange(u, rg, { ...o, versions: new FileVersions() }, cb), { start: 0, end: SIZE });
      if (!equal(got, data)) report('cache after', 'the cache gave wrong bytes to an honest load (poisoned)');
    } catch (e) {
      report('cache after', `an honest load through the cache failed: ${String(e)}`);
    }
    rmSync(cacheDir, { recursive: true, force: true });
  }
  await server.close();
  await other.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(otherDir, { recursive: true, force: true });
  console.log(JSON.stringify({ seed: seed0, cases, p, ops, failedOps, findings }, null, 1));
}

await main(process.argv.slice(2));
