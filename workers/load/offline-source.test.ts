// The stored small files (one 'source' entry per model) and an offline load's view of the cache: the record is kept
// once per version and read back checked; openOffline names the first file it lacks; a reader with `noNetwork`
// serves committed bytes and sends no request at all (serve-dir's log is the witness).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveDir, type ServeDirHandle } from '../testing/http-server.ts';
import { EngineError } from '../errors.ts';
import type { ModelSource } from './source.ts';
import { NodeFsBackend } from '../cache/fs.node.ts';
import { offlineError, openOffline, readStoredSource, sourceRecord, storeSource } from './offline-source.ts';
import { CachedReader } from '../cache/reader.ts';
import { sha256Hex } from '../cache/sha256.ts';
import { ByteCache } from '../cache/store.ts';
import type { Validator } from '../cache/validator.ts';

const SIZE = 300_000;
const B = 64 * 1024;
const data = new Uint8Array(SIZE).map((_, i) => (i * 97 + (i >> 7)) & 0xff);
const fast = { retries: 1, backoffMs: 1 };
const WHY = 'could not fetch config.json: fetch failed';
let server: ServeDirHandle;
let base: string;
let url: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'offline-serve-'));
  writeFileSync(join(dir, 'model.safetensors'), data);
  server = await serveDir(dir);
  base = server.url;
  url = base + 'model.safetensors';
});
afterAll(() => server.close());
beforeEach(() => {
  server.misbehave = {};
  server.log.length = 0;
});

const newCache = async (root = mkdtempSync(join(tmpdir(), 'offline-cache-'))) => ({
  root,
  cache: await ByteCache.open(new NodeFsBackend(root), { blockBytes: B }),
});

/** A model source with a tokenizer big enough that the record spans several blocks. */
function source(vocab = 30_000): ModelSource {
  return {
    input: 'my-model',
    baseUrl: base,
    config: { architectures: ['LlamaForCausalLM'], hidden_size: 64 },
    generationConfig: { eos_token_id: 2 },
    tokenizer: { model: { type: 'BPE', vocab: Object.fromEntries(Array.from({ length: vocab }, (_, i) => [`tok${i}`, i])) } },
    tokenizerConfig: { bos_token: '<s>' },
    weightFiles: [url],
    weightMap: new Map([['model.embed_tokens.weight', url]]),
  };
}

/** Reads the whole file through an online reader (cold: the cache keeps every block); returns its validator. */
async function cacheWeights(cache: ByteCache, end = SIZE): Promise<Validator> {
  const reader = new CachedReader(cache, base);
  await reader.streamRange(url, { start: 0, end }, { ...fast, expectSize: SIZE }, () => {});
  return (await reader.entryFor(url))!.manifest.validator;
}

async function failure(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

const entryDir = async (root: string, kind: string, u: string) => join(root, 'v1', (await sha256Hex(new TextEncoder().encode(`${kind}\n${u}`))).slice(0, 32));

describe('stored small files', () => {
  it('are kept once per version, over several blocks, and read back as they were', async () => {
    const { cache } = await newCache();
    const v = await cacheWeights(cache);
    const rec = sourceRecord(source(), '{{ messages }}', new Map([[url, v]]));
    expect(await storeSource(cache, rec)).toBe(true);
    const m = (await cache.peek(base, 'source'))!;
    expect(m.validator.size).toBeGreaterThan(2 * B);
    expect(m.verified).toBe(true); // the whole record matched its own SHA-256 once written
    expect(await storeSource(cache, rec)).toBe(false); // the same record: nothing written
    expect((await cache.peek(base, 'source'))!.seq).toBe(m.seq);
    expect(await readStoredSource(cache, base)).toEqual(rec);
    const changed = sourceRecord({ ...source(), tokenizerConfig: { bos_token: '<|begin|>' } }, null, new Map([[url, v]]));
    expect(await storeSource(cache, changed)).toBe(true);
    expect(await readStoredSource(cache, base)).toEqual(changed);
    expect(await readStoredSource(cache, 'http://elsewhere/m/')).toBe('missing');
    // listed with the model, and deleted with it
    const [listed] = await cache.list();
    expect(listed.files.map((f) => f.kind).sort()).toEqual(['file', 'source']);
    await cache.deleteModel(base);
    expect(await readStoredSource(cache, base)).toBe('missing');
  });

  it('a damaged record (a flipped byte in a block) is not used', async () => {
    const { cache, root } = await newCache();
    const v = await cacheWeights(cache);
    await storeSource(cache, sourceRecord(source(), null, new Map([[url, v]])));
    const block = join(await entryDir(root, 'source', base), 'b000001');
    const bytes = readFileSync(block);
    bytes[10] ^= 0x20;
    writeFileSync(block, bytes);
    const again = (await newCache(root)).cache;
    expect(await readStoredSource(again, base)).toBe('damaged');
    const e = await failure(openOffline(again, 'my-model', base, WHY));
    expect(e.code).toBe('offline');
    expect(e.message).toMatch(/config\.json in the cache is incomplete or failed its integrity check/);
    // the block that failed was dropped: still not used, and said the same way
    expect(await readStoredSource(again, base)).toBe('damaged');
  });
});

describe('openOffline', () => {
  it('names config.json when the model was never kept, and says the network could not be reached', async () => {
    const { cache } = await newCache();
    const e = await failure(openOffline(cache, 'my-model', base, WHY));
    expect(e.code).toBe('offline');
    expect(e.details).toMatchObject({ file: base + 'config.json', model: base, reason: WHY, kept: false });
    expect(e.message).toContain(`cannot load ${base} offline: the network could not be reached (${WHY}), and config.json is not in the cache`);
  });

  it('names a weight file that is missing, partial, or another version than the record pins; never changes the cache', async () => {
    const { cache, root } = await newCache();
    const probe = async () => (await new CachedReader(cache, base).entryFor(url))!.manifest.validator;
    const v = await probe();
    await storeSource(cache, sourceRecord(source(), null, new Map([[url, v]])));
    await cache.deleteModel(base);
    await storeSource(cache, sourceRecord(source(), null, new Map([[url, v]])));
    expect((await failure(openOffline(cache, 'my-model', base, WHY))).message).toMatch(/model\.safetensors is not in the cache/);

    await cacheWeights(cache, 1000); // one block of five
    const partial = await failure(openOffline(cache, 'my-model', base, WHY));
    expect(partial).toMatchObject({ code: 'offline', details: { file: url, kept: true } });
    expect(partial.message).toMatch(/model\.safetensors is only partly in the cache \(0\.1 MB of 0\.3 MB\)/);

    await cacheWeights(cache);
    const other = { ...v, etag: '"another"' };
    await storeSource(cache, sourceRecord(source(), null, new Map([[url, other]])));
    const stale = await failure(openOffline(cache, 'my-model', base, WHY));
    expect(stale.message).toMatch(/model\.safetensors in the cache is another version/);
    expect((await (await newCache(root)).cache.list())[0]).toMatchObject({ complete: true, bytes: expect.any(Number) });
    expect((await cache.peek(url))!.validator).toEqual(v); // the entry of the other version was left alone
  });

  it('gives the stored source and the weight validators when every weight file is whole', async () => {
    const { cache } = await newCache();
    const v = await cacheWeights(cache);
    await storeSource(cache, sourceRecord(source(), '{{ x }}', new Map([[url, v]])));
    const o = await openOffline(cache, 'typed-input', base, WHY);
    expect(o.source).toEqual({ ...source(), input: 'typed-input' });
    expect(o.chatTemplate).toBe('{{ x }}');
    expect([...o.validators]).toEqual([[url, v]]);
    expect(o.reason).toBe(WHY);
  });
});

describe('a reader with noNetwork (an offline load)', () => {
  it('serves committed bytes with no request, and names the file for anything it would have to fetch', async () => {
    const { cache, root } = await newCache();
    const v = await cacheWeights(cache);
    server.log.length = 0;
    const noNetwork = (file: string, what: string) => offlineError(base, file, what, WHY);
    const offline = () => new CachedReader(cache, base, new Map([[url, v]]), noNetwork);
    let got = 0;
    await offline().streamRange(url, { start: 0, end: SIZE }, { expectSize: SIZE }, (c) => void (got += c.length));
    expect(got).toBe(SIZE);
    expect((await offline().readPrefix(url, 1000, {})).bytes).toEqual(data.subarray(0, 1000));

    // a block that fails its check is dropped, and the read stops there instead of fetching it
    const b2 = join(await entryDir(root, 'file', url), 'b000002');
    const bytes = readFileSync(b2);
    bytes[0] ^= 1;
    writeFileSync(b2, bytes);
    const e = await failure(offline().streamRange(url, { start: 0, end: SIZE }, {}, () => {}));
    expect(e).toMatchObject({ code: 'offline', details: { file: url } });
    expect(e.message).toMatch(/model\.safetensors is not whole in the cache \(block 2 is missing or failed its check\)/);
    expect(await offline().fill(url).catch((x: EngineError) => x.code)).toBe('offline');
    // a file it has no validator for is not probed
    const unknown = await failure(offline().streamRange(base + 'other.safetensors', { start: 0, end: 10 }, {}, () => {}));
    expect(unknown.message).toMatch(/other\.safetensors is not in the cache/);
    expect(server.log).toEqual([]);

    // the header block gone: the prefix read fails the same way (an online reader would read it from the network)
    await cache.deleteModel(base);
    await cacheWeights(cache, 2 * B + 1);
    const b0 = join(await entryDir(root, 'file', url), 'b000000');
    writeFileSync(b0, readFileSync(b0).subarray(0, 5));
    server.log.length = 0;
    const prefix = await failure(new CachedReader(await (await newCache(root)).cache, base, new Map([[url, v]]), noNetwork).readPrefix(url, 100, {}));
    expect(prefix.message).toMatch(/block 0 is missing/);
    expect(server.log).toEqual([]);
  });
});
