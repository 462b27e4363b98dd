// Model sources: where a model's files live, and the small files read before any weight.
// Accepted inputs:
//   - the base URL of a Hugging Face-style folder: https://example.org/models/tiny/
//   - a huggingface.co repo URL: https://huggingface.co/org/name, .../tree/<rev>, .../resolve/<rev>/<file>,
//     .../blob/<rev>/<file>  → https://huggingface.co/org/name/resolve/<rev>/
//   - a bare hub id `org/name` (exactly two segments, no leading '/' or './', no trailing '/'), or `hf:org/name`
//   - a same-origin path: `/models/kjv-llama`, `./models/kjv-llama`, `models/kjv-llama/` (resolved against baseHref)
import { EngineError } from '../errors.ts';
import { fetchJson, type HttpOptions } from '../net/http.ts';
import { MAX_TENSORS } from './safetensors.ts';

export interface ModelSource {
  /** What the user gave. */
  input: string;
  /** Absolute base URL ending in '/'. */
  baseUrl: string;
  /** config.json, parsed (not validated here: see config.ts). */
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown> | null;
  tokenizer: Record<string, unknown> | null;
  tokenizerConfig: Record<string, unknown> | null;
  /** Absolute URLs of the safetensors files, in index order. */
  weightFiles: string[];
  /** From model.safetensors.index.json: tensor name → file URL (null for a single-file model). */
  weightMap: Map<string, string> | null;
}

const HUB = 'https://huggingface.co/';
const HUB_ID = /^(?:hf:)?([A-Za-z0-9][\w.-]*)\/([\w.-]+)$/;

function defaultBaseHref(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

/**
 * Resolves a model input to the absolute base URL of its folder (ending in '/'). `revision` (a branch, tag or commit)
 * applies to hub ids and hub URLs: it replaces 'main', and must agree with a revision the URL names.
 */
export function resolveModelBase(input: string, baseHref: string | undefined = defaultBaseHref(), revision?: string): string {
  const s = input.trim();
  if (!s) throw new EngineError('bad-input', 'no model given', { setting: 'model' });
  const rev = revision?.trim() || undefined;
  const onHub = (org: string, name: string, named?: string) => {
    if (rev !== undefined && named !== undefined && named !== rev) {
      throw new EngineError('bad-input', `${s} names revision '${named}', but the revision asked for is '${rev}'`, { setting: 'revision' });
    }
    // As huggingface_hub quotes it: a branch such as refs/pr/1 becomes one path segment.
    return `${HUB}${org}/${name}/resolve/${encodeURIComponent(named ?? rev ?? 'main')}/`;
  };
  const notHub = () => {
    if (rev !== undefined) {
      throw new EngineError('bad-input', `a revision ('${rev}') applies to Hugging Face hub models only, not to ${s}`, { setting: 'revision' });
    }
  };
  if (/^https?:\/\//i.test(s)) {
    const u = new URL(s);
    if (u.hostname === 'huggingface.co' || u.hostname === 'www.huggingface.co') {
      const seg = u.pathname.split('/').filter(Boolean);
      // Datasets and spaces are not models.
      if (seg[0] === 'datasets' || seg[0] === 'spaces') {
        throw new EngineError('bad-input', `${s} is not a model repository`, { setting: 'model' });
      }
      if (seg.length < 2) throw new EngineError('bad-input', `${s} does not name a repository (org/name)`, { setting: 'model' });
      const [org, name, kind, named] = seg;
      return onHub(org, name, (kind === 'tree' || kind === 'resolve' || kind === 'blob') && named ? decodeURIComponent(named) : undefined);
    }
    notHub();
    return withSlash(u.href.split(/[?#]/)[0]);
  }
  const hub = HUB_ID.exec(s);
  if (hub && (s.startsWith('hf:') || !s.startsWith('.'))) return onHub(hub[1], hub[2]);
  notHub();
  if (!baseHref) {
    throw new EngineError('bad-input', `'${s}' is a relative path, but there is no page URL to resolve it against`, {
      setting: 'model',
    });
  }
  return withSlash(new URL(s, baseHref).href.split(/[?#]/)[0]);
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : u + '/';
}

/**
 * The URL of a shard named by the index, which must stay inside the model's folder: after percent-decoding, a plain
 * file name or a relative path of plain names (no '..', no empty segment, no backslash, colon, '?', '#', '%' left or
 * control character, not absolute); each segment is encoded again, and the result must begin with the folder's URL.
 * Anything else is refused by name: an index that sends a load to another origin or the server's root is hostile.
 */
export function shardUrl(baseUrl: string, file: unknown, tensor: string): string {
  const index = `${baseUrl}model.safetensors.index.json`;
  const refuse = (why: string): never => {
    throw new EngineError('bad-file', `model.safetensors.index.json: tensor '${tensor}' names the file ${JSON.stringify(file)}, ${why}`, {
      file: index,
      tensor,
    });
  };
  if (typeof file !== 'string' || file.length === 0) return refuse('which is not a file name');
  if (file.length > 1024) return refuse('a name longer than 1024 characters');
  let plain: string;
  try {
    plain = decodeURIComponent(file);
  } catch {
    return refuse('which is not valid percent-encoding');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\\:?#%\u0000-\u001f\u007f]/.test(plain)) return refuse("which holds a character a file name inside the model's folder cannot ('\\', ':', '?', '#', '%' or a control character)");
  if (plain.startsWith('/')) return refuse("an absolute path (a shard must be inside the model's folder)");
  const segments = plain.split('/').filter((seg) => seg !== '.');
  if (segments.some((seg) => seg === '' || seg === '..')) return refuse("a path that leaves the model's folder or has an empty part");
  const url = baseUrl + segments.map(encodeURIComponent).join('/');
  const resolved = new URL(url);
  if (resolved.origin !== new URL(baseUrl).origin || !resolved.href.startsWith(baseUrl)) return refuse("a path outside the model's folder");
  return resolved.href;
}

/**
 * The most bytes each small file may have (read whole into memory before any check): far above real ones (a large
 * vocabulary's tokenizer.json is ~30 MB, an index of thousands of tensors ~1 MB), so a hostile file is refused at once.
 */
export const SMALL_FILE_LIMITS = {
  'config.json': 4 << 20,
  'generation_config.json': 4 << 20,
  'tokenizer_config.json': 16 << 20,
  'tokenizer.json': 128 << 20,
  'model.safetensors.index.json': 32 << 20,
  'chat_template.jinja': 1 << 20,
} as const;

/** The most safetensors files one checkpoint may have (each costs a header read). */
export const MAX_SHARDS = 4096;

interface SafetensorsIndex {
  weight_map?: Record<string, string>;
}

/**
 * Resolves the input and fetches config.json (required), generation_config.json, tokenizer.json and
 * tokenizer_config.json (optional: null when absent), and the weight file list: model.safetensors.index.json and its
 * shards, or model.safetensors. No weight byte is read here.
 */
export async function openModelSource(
  input: string,
  opts: HttpOptions & { baseHref?: string; revision?: string } = {},
): Promise<ModelSource> {
  const baseUrl = resolveModelBase(input, opts.baseHref ?? defaultBaseHref(), opts.revision);
  const at = (f: string) => new URL(f, baseUrl).href;
  const config = await fetchJson<Record<string, unknown>>(at('config.json'), opts, false, SMALL_FILE_LIMITS['config.json']);
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    throw new EngineError('bad-file', 'config.json is not a JSON object', { file: at('config.json') });
  }
  const [generationConfig, tokenizer, tokenizerConfig, index] = await Promise.all([
    fetchJson<Record<string, unknown>>(at('generation_config.json'), opts, true, SMALL_FILE_LIMITS['generation_config.json']),
    fetchJson<Record<string, unknown>>(at('tokenizer.json'), opts, true, SMALL_FILE_LIMITS['tokenizer.json']),
    fetchJson<Record<string, unknown>>(at('tokenizer_config.json'), opts, true, SMALL_FILE_LIMITS['tokenizer_config.json']),
    fetchJson<SafetensorsIndex>(at('model.safetensors.index.json'), opts, true, SMALL_FILE_LIMITS['model.safetensors.index.json']),
  ]);
  let weightFiles: string[];
  let weightMap: Map<string, string> | null = null;
  if (index) {
    const wm = index.weight_map;
    if (!wm || typeof wm !== 'object' || Array.isArray(wm)) {
      throw new EngineError('bad-file', 'model.safetensors.index.json has no weight_map', {
        file: at('model.safetensors.index.json'),
      });
    }
    const entries = Object.keys(wm).length;
    if (entries > MAX_TENSORS) {
      throw new EngineError('bad-file', `model.safetensors.index.json lists ${entries} tensors, more than the ${MAX_TENSORS} a checkpoint may hold`, {
        file: at('model.safetensors.index.json'),
      });
    }
    weightMap = new Map();
    const files: string[] = [];
    const seen = new Set<string>();
    for (const [name, file] of Object.entries(wm)) {
      const url = shardUrl(baseUrl, file, name);
      if (!seen.has(url)) {
        seen.add(url);
        files.push(url);
      }
      weightMap.set(name, url);
    }
    if (files.length > MAX_SHARDS) {
      throw new EngineError('bad-file', `model.safetensors.index.json names ${files.length} files, more than the ${MAX_SHARDS} a checkpoint may have`, {
        file: at('model.safetensors.index.json'),
      });
    }
    weightFiles = files;
  } else {
    weightFiles = [at('model.safetensors')];
  }
  return { input, baseUrl, config, generationConfig, tokenizer, tokenizerConfig, weightFiles, weightMap };
}
