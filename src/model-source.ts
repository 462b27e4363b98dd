// What the model field accepts, checked before anything is sent to the engine: a same-origin folder path, an
// http(s) URL (a model folder or a huggingface.co repo), or a Hugging Face repo id `org/name`.

export type ModelSourceKind = 'path' | 'url' | 'hub';

export type ModelSourceCheck = { ok: true; kind: ModelSourceKind; value: string } | { ok: false; reason: string };

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const PATH = /^(\.{0,2}\/)?[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/;

export function checkModelSource(input: string): ModelSourceCheck {
  const value = input.trim();
  if (!value) return { ok: false, reason: 'Enter a model URL, a Hugging Face repo id (org/name) or pick a preset.' };
  if (/\s/.test(value)) return { ok: false, reason: 'A model URL or repo id cannot contain spaces.' };
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return { ok: false, reason: `"${value}" is not a valid URL.` };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return { ok: false, reason: `Only http(s) URLs can be fetched, not ${url.protocol.replace(':', '')}.` };
    }
    if (!url.hostname) return { ok: false, reason: `"${value}" has no host name.` };
    return { ok: true, kind: 'url', value };
  }
  // A folder path ends with "/" (or starts with "/" or "./"); "org/name" without a trailing slash is a hub id.
  if (value.endsWith('/') || value.startsWith('/') || value.startsWith('./')) {
    const folder = value.endsWith('/') ? value : `${value}/`;
    if (PATH.test(folder)) return { ok: true, kind: 'path', value: folder };
    return { ok: false, reason: `"${value}" is not a valid folder path (letters, digits, ".", "_" and "-" only).` };
  }
  if (HUB_ID.test(value)) return { ok: true, kind: 'hub', value };
  return {
    ok: false,
    reason: `"${value}" is neither a URL, a folder path ending in "/", nor a Hugging Face repo id like "org/name".`,
  };
}

export interface ModelPreset {
  label: string;
  value: string;
  note: string;
}

export const MODEL_PRESETS: readonly ModelPreset[] = [
  { label: 'kjv-llama (embedded, 6.5M)', value: 'models/kjv-llama/', note: 'Tiny Llama trained on the KJV Bible, served with this app' },
  { label: 'SmolLM2 135M Instruct', value: 'HuggingFaceTB/SmolLM2-135M-Instruct', note: 'Llama architecture, 135M parameters' },
  { label: 'SmolLM2 360M Instruct', value: 'HuggingFaceTB/SmolLM2-360M-Instruct', note: 'Llama architecture, 360M parameters' },
  { label: 'Qwen2.5 0.5B Instruct', value: 'Qwen/Qwen2.5-0.5B-Instruct', note: 'Qwen2 architecture, 494M parameters' },
  { label: 'TinyLlama 1.1B Chat', value: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', note: 'Llama architecture, 1.1B parameters' },
  { label: 'Llama 3.2 1B Instruct', value: 'meta-llama/Llama-3.2-1B-Instruct', note: 'Gated: needs an accepted license on Hugging Face' },
  { label: 'Qwen3 0.6B', value: 'Qwen/Qwen3-0.6B', note: 'Qwen3 architecture (per-head q/k norms), 0.6B parameters' },
  { label: 'Gemma 2 2B Instruct', value: 'google/gemma-2-2b-it', note: 'Gemma 2 (sandwich norms, soft caps, sliding window), 2.6B; gated: needs an accepted license' },
  { label: 'Gemma 3 1B Instruct', value: 'google/gemma-3-1b-it', note: 'Gemma 3 text (5 sliding : 1 global layers, q/k norms), 1B; gated: needs an accepted license' },
  { label: 'Phi-4 mini Instruct', value: 'microsoft/Phi-4-mini-instruct', note: 'Phi-3 architecture (fused projections, partial rotary, LongRoPE), 3.8B parameters' },
  { label: 'SmolLM3 3B', value: 'HuggingFaceTB/SmolLM3-3B', note: 'SmolLM3 architecture (every 4th layer without RoPE), 3B parameters' },
  { label: 'OLMo 2 1B Instruct', value: 'allenai/OLMo-2-0425-1B-Instruct', note: 'OLMo 2 architecture (post-norms, q/k norms over the projection), 1.5B parameters' },
  { label: 'Granite 3.3 2B Instruct', value: 'ibm-granite/granite-3.3-2b-instruct', note: 'Granite architecture (embedding, residual, attention and logit multipliers), 2.5B parameters' },
];

export const DEFAULT_MODEL = MODEL_PRESETS[0].value;

/**
 * A model's short name for labels: `org/name` for a hub repo URL, else the folder's last path segment
 * ("kjv-llama" for http://host/models/kjv-llama/), else what was given.
 */
export function modelName(model: string): string {
  let u: URL;
  try {
    u = new URL(model);
  } catch {
    return model.replace(/\/+$/, '').split('/').pop() || model;
  }
  const seg = u.pathname.split('/').filter(Boolean).map((x) => decodeURIComponent(x));
  if ((u.hostname === 'huggingface.co' || u.hostname === 'www.huggingface.co') && seg.length >= 2) return `${seg[0]}/${seg[1]}`;
  return seg.at(-1) ?? u.host;
}
