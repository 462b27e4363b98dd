// Engine errors in words a person understands, with what to do next. The worker throws EngineError with a code; the
// UI maps the code (and its details: the file, the HTTP status, what was missing) to a title that names the cause,
// the engine's own message as the detail, and next steps. Every code has its own words (error-messages.test.ts).
import { EngineError, type EngineErrorCode } from '../workers/errors.ts';

export type ErrorContext = 'gpu' | 'plan' | 'load' | 'generate' | 'input' | 'cache';

export interface UiError {
  code: EngineErrorCode;
  context: ErrorContext;
  title: string;
  /** The engine's message, kept for people who want the detail. */
  detail: string;
  nextSteps: string[];
}

/** Every code the engine throws (a Record, so that a new code fails to compile until it is worded here). */
const CODES: Record<EngineErrorCode, true> = {
  'no-webgpu': true,
  'device-lost': true,
  'out-of-memory': true,
  'will-not-fit': true,
  network: true,
  cors: true,
  http: true,
  'bad-file': true,
  unsupported: true,
  cancelled: true,
  'bad-input': true,
  'bad-config': true,
  'file-changed': true,
  storage: true,
  offline: true,
  'context-full': true,
  internal: true,
};
export const ERROR_CODES = Object.keys(CODES) as EngineErrorCode[];

const ACTION: Record<ErrorContext, string> = {
  gpu: 'Connecting to the GPU',
  plan: 'The estimate',
  load: 'Loading the model',
  generate: 'Generating',
  input: 'The settings',
  cache: 'Managing the model cache',
};

const HUB_HOSTS = new Set(['huggingface.co', 'www.huggingface.co']);

/** The file's name (last path segment) of a URL or path. */
function baseName(file: string): string {
  const path = file.split(/[?#]/)[0];
  return path.slice(path.lastIndexOf('/') + 1) || file;
}

/** Where a file is served from, in words: "the Hugging Face hub", "example.org", or null for this site / unknown. */
function serverOf(file: string | undefined): { name: string; hub: boolean } | null {
  if (!file) return null;
  try {
    const u = new URL(file);
    if (u.origin === globalThis.location?.origin) return null;
    return HUB_HOSTS.has(u.hostname) ? { name: 'the Hugging Face hub', hub: true } : { name: u.host, hub: false };
  } catch {
    return null;
  }
}

function httpSteps(status: number | undefined, file: string | undefined): { title: string; steps: string[] } {
  const where = file ? ` (${baseName(file)})` : '';
  if (status === 401 || status === 403) {
    return {
      title: `The server refused access${where}`,
      steps: [
        'This model is gated or private: accept its license on huggingface.co, then give an access token with read access (Hugging Face hub, above).',
        'Or pick an open model, or mirror the files to a folder you host.',
      ],
    };
  }
  if (status === 404) {
    return {
      title: `A model file was not found${where}`,
      steps: [
        'Check the spelling of the URL or repo id (org/name, case-sensitive).',
        'The folder needs config.json, tokenizer.json and *.safetensors files.',
      ],
    };
  }
  if (status === 429) return { title: 'The server is rate limiting requests', steps: ['Wait a minute, then load again.'] };
  return {
    title: `The server answered with HTTP ${status ?? 'an error'}${where}`,
    steps: ['Try again in a moment; if it persists, check that the URL points at a model folder.'],
  };
}

function badFile(e: EngineError | null, file: string | undefined): { title: string; nextSteps: string[] } {
  const name = file ? baseName(file) : 'a model file';
  if (e?.details.missing === true) {
    return {
      title: `The model folder has no ${name}`,
      nextSteps: [
        `This app needs ${name} in the model folder, beside config.json: add it (the Hugging Face format), or pick a model that has one.`,
      ],
    };
  }
  if (e?.details.mismatch === 'sha256') {
    return {
      title: `${name} does not match the SHA-256 its server publishes`,
      nextSteps: ['The damaged copy was discarded: load again to download it anew.', 'If it happens again, the file on the server may have changed during the download.'],
    };
  }
  return {
    title: `${name} could not be read`,
    nextSteps: [`${name} is truncated or not in the format expected (safetensors or JSON): replace it in the model folder, or pick another model.`],
  };
}

function fromCode(code: EngineErrorCode, e: EngineError | null, context: ErrorContext): Omit<UiError, 'detail' | 'code' | 'context'> {
  const file = typeof e?.details.file === 'string' ? e.details.file : undefined;
  const server = serverOf(file);
  switch (code) {
    case 'no-webgpu':
      return {
        title: 'WebGPU is not available in this browser',
        nextSteps: [
          'Open the app in a recent Chrome or Edge (version 113 or later) on a machine with a GPU.',
          'On Linux, Chrome may need the --enable-unsafe-webgpu flag or chrome://flags/#enable-vulkan.',
        ],
      };
    case 'device-lost':
      return {
        title: 'The GPU device was lost',
        nextSteps: ['Reconnect the GPU (button above), then load the model again.', 'Close other GPU-heavy tabs if it keeps happening.'],
      };
    case 'out-of-memory':
      return {
        title: 'The GPU ran out of memory',
        nextSteps: [
          'Choose the streamed-int8 strategy (about half the weight memory of fp16).',
          'Lower the context length to shrink the KV cache, or pick a smaller model.',
          'Close other tabs that use the GPU.',
        ],
      };
    case 'will-not-fit':
      return {
        title: 'The model will not fit',
        nextSteps: [
          'Run the estimate to see which part is too large.',
          'Try streamed-int8, a shorter context length, a larger VRAM budget, or a smaller model.',
        ],
      };
    case 'cors':
      // The hub allows cross-origin requests: a refused request to it means it could not be reached.
      if (server?.hub) {
        return {
          title: 'The Hugging Face hub could not be reached',
          nextSteps: ['Check your internet connection, then load again.', 'Models loaded once with “Keep downloaded weights” also load without the network.'],
        };
      }
      return {
        title: `The browser blocked the download from ${server?.name ?? 'another site'} (CORS)`,
        nextSteps: [
          'The server must send Access-Control-Allow-Origin and allow Range requests; huggingface.co does.',
          'Host the model files on this site (a folder under public/) or on a CORS-enabled server.',
        ],
      };
    case 'network':
      if (e?.details.redirect === true) {
        return {
          title: 'The server redirects without end',
          nextSteps: ['The URL leads into a redirect loop (or to a place that cannot be fetched): check it, or host the files elsewhere.'],
        };
      }
      if (e?.details.stalled === true) {
        return {
          title: 'The server stopped sending',
          nextSteps: ['No data arrived for a long time, even after retries: try again later, or load from another server.'],
        };
      }
      return {
        title: server?.hub ? 'The Hugging Face hub could not be reached' : `The network request failed${file ? ` (${baseName(file)})` : ''}`,
        nextSteps: [`Check your connection and that ${server?.name ?? 'the server'} is reachable, then load again.`, `Check the URL${file ? ` (${file})` : ''}.`],
      };
    case 'http': {
      const status = typeof e?.details.status === 'number' ? e.details.status : undefined;
      const h = httpSteps(status, file);
      return { title: h.title, nextSteps: h.steps };
    }
    case 'bad-config':
      return {
        title: `The model’s ${file ? baseName(file) : 'config.json'} holds a value it cannot run with`,
        nextSteps: [`Check the setting named in the detail${typeof e?.details.setting === 'string' ? ` (${e.details.setting})` : ''} against the model’s checkpoint.`],
      };
    case 'file-changed':
      return {
        title: `A model file changed on the server during the load${file ? ` (${baseName(file)})` : ''}`,
        nextSteps: ['Nothing of the two versions was mixed. Load again once the server has finished updating the model.'],
      };
    case 'bad-file':
      return badFile(e, file);
    case 'unsupported':
      return {
        title: 'This model or feature is not supported',
        nextSteps: [
          'Supported families: Llama, Mistral, Qwen2, Qwen3, Gemma 2, Gemma 3 (text), Phi-3 / Phi-4-mini, SmolLM3, OLMo 2, Granite 3 (for example the presets).',
          'Pick a preset, or another strategy.',
        ],
      };
    case 'cancelled':
      return { title: context === 'generate' ? 'Generation stopped' : 'Loading cancelled', nextSteps: [] };
    case 'bad-input':
      if (e?.details.setting === 'chat_template') {
        // The template's own message (e.g. Gemma's "System role not supported") is the detail.
        return {
          title: "The model's chat template refused this conversation",
          nextSteps: ['Turn chat mode off to send the prompt as plain text.', 'Or change the conversation as the message above asks.'],
        };
      }
      return { title: `${ACTION[context]} has an invalid setting`, nextSteps: ['Correct the highlighted setting and try again.'] };
    case 'storage':
      if (e?.details.reason === 'removed') {
        return {
          title: 'The model cache was removed during the load',
          nextSteps: ['Load again: the cache is rebuilt (site data was cleared, or the model deleted in another tab).'],
        };
      }
      return {
        title: 'Browser storage is full or unavailable',
        nextSteps: [
          'Delete cached models you no longer need in the Cached models panel, then load again.',
          'Or untick “Keep downloaded weights” to load this model without the cache.',
          'Or free disk space (the browser gives each site a share of the free space).',
        ],
      };
    case 'offline': {
      const model = typeof e?.details.model === 'string' ? e.details.model : file;
      const where = serverOf(model)?.name ?? 'the network';
      if (e?.details.kept === false) {
        // nothing of this model is kept: the cause is the network alone
        return {
          title: `${where.charAt(0).toUpperCase()}${where.slice(1)} could not be reached`,
          nextSteps: [
            'Check your internet connection, then load again.',
            'This model was never kept in this browser: once loaded online with a streamed strategy and “Keep downloaded weights” ticked, it also loads offline.',
          ],
        };
      }
      return {
        title: `The network could not be reached, and the model is not all in the cache${file ? ` (${baseName(file)})` : ''}`,
        nextSteps: [
          'Reconnect, then load the model once with “Keep downloaded weights” ticked and a streamed strategy: its files are then kept for loading offline.',
          'Models marked “loads offline” in the Cached models panel load without the network.',
        ],
      };
    }
    case 'context-full':
      return {
        title: 'The conversation no longer fits the context',
        nextSteps: ['Drop its oldest turns (offered in the chat), or start a new chat.', 'Or load the model again with a longer context length.'],
      };
    case 'internal':
    default:
      return {
        title: `${ACTION[context]} failed unexpectedly`,
        nextSteps: ['Try again; if it repeats, reload the page.', 'The detail below helps when reporting the problem.'],
      };
  }
}

export function describeError(e: unknown, context: ErrorContext): UiError {
  const engineError = e instanceof EngineError ? e : null;
  const code: EngineErrorCode = engineError
    ? engineError.code
    : typeof e === 'object' && e !== null && (e as { name?: string }).name === 'AbortError'
      ? 'cancelled'
      : 'internal';
  const detail = e instanceof Error ? e.message : String(e);
  return { code, context, detail, ...fromCode(code, engineError, context) };
}

/** A settings problem found in the UI before anything is sent to the engine. */
export function inputError(message: string): UiError {
  return { code: 'bad-input', context: 'input', title: 'Check the model URL', detail: message, nextSteps: [
    'Use a folder path like models/kjv-llama/, an https:// URL, or a repo id like HuggingFaceTB/SmolLM2-135M-Instruct.',
  ] };
}
