// Offline warm start. Besides the weight bytes, a load needs the model's small files: config.json,
// generation_config.json, tokenizer.json, tokenizer_config.json, model.safetensors.index.json (the weight files and
// which tensor is in which) and chat_template.jinja. They are kept as one record per model: a cache entry of kind
// 'source' keyed by the model's base URL, written under the model's lock at the end of an online load whose record
// differs from the stored one (the first, or after the files changed on the server). The record's validator is its
// own SHA-256: every block is checked when read, as every cache block is, and the whole record once more against that
// hash. It also pins each weight file's validator (ETag / size / Last-Modified) as that load saw it, so an offline
// load uses exactly the weight versions the small files came with.
// When the network cannot be reached at all (load/load-model.ts decides), a load takes the small files from the
// record, checks that every weight file is committed whole at its pinned version, and reads only from the cache
// (CachedReader with `noNetwork`); whatever is missing fails the load with EngineError('offline') naming the file.
import { EngineError } from '../errors.ts';
import { fileName } from '../net/http.ts';
import type { ModelSource } from './source.ts';
import { committedBytes, isComplete } from '../cache/entry.ts';
import { sha256Hex } from '../cache/sha256.ts';
import type { ByteCache } from '../cache/store.ts';
import { validatorKey, type Validator } from '../cache/validator.ts';

export const SOURCE_FORMAT = 1;

/** A model's small files as an online load read them, and the weight versions that load used. */
export interface StoredSource {
  format: typeof SOURCE_FORMAT;
  baseUrl: string;
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown> | null;
  tokenizer: Record<string, unknown> | null;
  tokenizerConfig: Record<string, unknown> | null;
  /** Absolute URLs of the safetensors files, in index order. */
  weightFiles: string[];
  /** model.safetensors.index.json's map, tensor name → file URL (null: a single-file model). */
  weightMap: [string, string][] | null;
  /** chat_template.jinja (null when the model has none). */
  chatTemplate: string | null;
  /** Each weight file's validator at that load (URL → validator). */
  weights: Record<string, Validator>;
}

/** What an offline load reads instead of the network. */
export interface OfflineSource {
  source: ModelSource;
  chatTemplate: string | null;
  /** The weight files' validators: the versions committed whole in the cache. */
  validators: Map<string, Validator>;
  /** Why the network was not used (the failed request, in words). */
  reason: string;
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** The error of an offline load that cannot go on: the network could not be reached and `file` is not usable. */
/** `kept: false`: nothing of the model is kept (its small files are not in the cache), as opposed to a partial copy. */
export function offlineError(model: string, file: string, what: string, reason: string, kept = true): EngineError {
  return new EngineError(
    'offline',
    `cannot load ${model} offline: the network could not be reached (${reason}), and ${fileName(file)} ${what}. ` +
      'Load the model once with the network (and the cache on) to keep it for offline use.',
    { file, model, reason, kept },
  );
}

export function sourceRecord(source: ModelSource, chatTemplate: string | null, weights: ReadonlyMap<string, Validator>): StoredSource {
  return {
    format: SOURCE_FORMAT,
    baseUrl: source.baseUrl,
    config: source.config,
    generationConfig: source.generationConfig,
    tokenizer: source.tokenizer,
    tokenizerConfig: source.tokenizerConfig,
    weightFiles: [...source.weightFiles],
    weightMap: source.weightMap ? [...source.weightMap] : null,
    chatTemplate,
    weights: Object.fromEntries(weights),
  };
}

function sourceFromRecord(r: StoredSource, input: string): ModelSource {
  return {
    input,
    baseUrl: r.baseUrl,
    config: r.config,
    generationConfig: r.generationConfig,
    tokenizer: r.tokenizer,
    tokenizerConfig: r.tokenizerConfig,
    weightFiles: [...r.weightFiles],
    weightMap: r.weightMap ? new Map(r.weightMap) : null,
  };
}

/**
 * Keeps `record` as the model's source entry; nothing is written when the stored one is the same and whole. Returns
 * whether it wrote. Storage errors are thrown as the cache's 'storage' error.
 */
export async function storeSource(cache: ByteCache, record: StoredSource): Promise<boolean> {
  const bytes = new TextEncoder().encode(JSON.stringify(record));
  const sha = await sha256Hex(bytes);
  const m = await cache.peek(record.baseUrl, 'source');
  if (m && m.validator.sha256 === sha && m.validator.size === bytes.length && isComplete(m)) return false;
  const validator: Validator = { size: bytes.length, etag: sha, lastModified: null, sha256: sha };
  const entry = await cache.entry({ url: record.baseUrl, kind: 'source', model: record.baseUrl, validator });
  for (let i = 0; i < entry.blockCount; i++) {
    if (!entry.has(i)) await entry.writeBlock(i, bytes.subarray(i * entry.blockBytes, i * entry.blockBytes + entry.blockLen(i)));
  }
  return true;
}

/**
 * The stored record of `baseUrl`: 'missing' when there is none, 'damaged' when it is incomplete (a write cut short, a
 * block dropped by an earlier check) or fails a check now.
 */
export async function readStoredSource(cache: ByteCache, baseUrl: string): Promise<StoredSource | 'missing' | 'damaged'> {
  const m = await cache.peek(baseUrl, 'source');
  if (!m) return 'missing';
  if (!m.validator.sha256 || !isComplete(m)) return 'damaged';
  const entry = await cache.entry({ url: baseUrl, kind: 'source', model: m.model, validator: m.validator });
  if (!entry.complete) return 'damaged'; // a block file was missing or truncated (dropped on open)
  const bytes = new Uint8Array(entry.size);
  for (let i = 0; i < entry.blockCount; i++) {
    const block = await entry.readBlock(i); // checked against its SHA-256 (dropped when it fails)
    if (!block) return 'damaged';
    bytes.set(block, i * entry.blockBytes);
  }
  if ((await sha256Hex(bytes)) !== m.validator.sha256) {
    await entry.dropAll();
    return 'damaged';
  }
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes)) as StoredSource;
    return r.format === SOURCE_FORMAT && r.baseUrl === baseUrl && Array.isArray(r.weightFiles) ? r : 'damaged';
  } catch {
    return 'damaged';
  }
}

/**
 * What an offline load of `baseUrl` reads: the stored small files, and the validators of weight files committed whole
 * at the versions the record pins. Throws EngineError('offline') naming the first file that is not there. Reads only
 * (an entry of another version is left as it is). Call it under the model's lock.
 */
export async function openOffline(cache: ByteCache, input: string, baseUrl: string, reason: string): Promise<OfflineSource> {
  const config = new URL('config.json', baseUrl).href;
  const got = await readStoredSource(cache, baseUrl);
  if (got === 'missing') {
    throw offlineError(baseUrl, config, 'is not in the cache (the model was never loaded with the cache on, or its copy was deleted)', reason, false);
  }
  if (got === 'damaged') {
    throw offlineError(baseUrl, config, 'in the cache is incomplete or failed its integrity check (the stored small files cannot be used)', reason);
  }
  const validators = new Map<string, Validator>();
  for (const url of got.weightFiles) {
    const pinned = got.weights[url];
    const m = await cache.peek(url);
    if (!pinned || !m) throw offlineError(baseUrl, url, 'is not in the cache', reason);
    if (validatorKey(m.validator) !== validatorKey(pinned)) {
      throw offlineError(baseUrl, url, 'in the cache is another version than the one its config.json and tokenizer were stored with', reason);
    }
    if (!isComplete(m)) {
      throw offlineError(baseUrl, url, `is only partly in the cache (${mb(committedBytes(m))} of ${mb(m.validator.size)})`, reason);
    }
    validators.set(url, m.validator);
  }
  return { source: sourceFromRecord(got, input), chatTemplate: got.chatTemplate, validators, reason };
}
