// Engine errors in words a person understands, with what to do next. The worker throws EngineError with a code; the
// UI maps the code (and, for HTTP, the status) to a title, the engine's own message, and next steps.
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

const ACTION: Record<ErrorContext, string> = {
  gpu: 'Connecting to the GPU',
  plan: 'The estimate',
  load: 'Loading the model',
  generate: 'Generating',
  input: 'The settings',
  cache: 'Managing the model cache',
};

function httpSteps(status: number | undefined, file: string | undefined): { title: string; steps: string[] } {
  const where = file ? ` (${file})` : '';
  if (status === 401 || status === 403) {
    return {
      title: `The server refused access${where}`,
      steps: [
        'This model is gated or private: accept its license on huggingface.co, or pick an open model.',
        'Gated models need a signed-in token, which this app does not send; mirror the files to a folder you host.',
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
  if (status === 429) return { title: 'The server is rate limiting requests', steps: ['Wait a minute and try again.'] };
  return {
    title: `The server answered with HTTP ${status ?? 'an error'}${where}`,
    steps: ['Try again in a moment; if it persists, check that the URL points at a model folder.'],
  };
}

function fromCode(code: EngineErrorCode, e: EngineError | null, context: ErrorContext): Omit<UiError, 'detail' | 'code' | 'context'> {
  const file = typeof e?.details.file === 'string' ? e.details.file : undefined;
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
      return {
        title: 'The browser blocked the download (CORS)',
        nextSteps: [
          'The server must send Access-Control-Allow-Origin and allow Range requests; huggingface.co does.',
          'Host the model files on this site (a folder under public/) or on a CORS-enabled server.',
        ],
      };
    case 'network':
      return {
        title: 'The network request failed',
        nextSteps: ['Check your connection and that the host is reachable, then try again.', `Check the URL${file ? ` (${file})` : ''}.`],
      };
    case 'http': {
      const status = typeof e?.details.status === 'number' ? e.details.status : undefined;
      const h = httpSteps(status, file);
      return { title: h.title, nextSteps: h.steps };
    }
    case 'bad-file':
      return {
        title: 'A model file could not be read',
        nextSteps: ['The file may be truncated or not a safetensors/JSON file; check the model folder.', 'Try loading again.'],
      };
    case 'unsupported':
      return {
        title: 'This model or feature is not supported',
        nextSteps: ['Supported architectures: Llama and Qwen2 (for example the presets).', 'Pick a preset, or another strategy.'],
      };
    case 'cancelled':
      return { title: context === 'generate' ? 'Generation stopped' : 'Loading cancelled', nextSteps: [] };
    case 'bad-input':
      return { title: `${ACTION[context]} has an invalid setting`, nextSteps: ['Correct the highlighted setting and try again.'] };
    case 'storage':
      return {
        title: 'Browser storage is full or unavailable',
        nextSteps: [
          'Delete cached models you no longer need in the Cached models panel, then load again.',
          'Or untick “Keep downloaded weights” to load this model without the cache.',
          'Or free disk space (the browser gives each site a share of the free space).',
        ],
      };
    case 'offline':
      return {
        title: `The network could not be reached, and the model is not all in the cache${file ? ` (${file.split('/').pop()})` : ''}`,
        nextSteps: [
          'Reconnect, then load the model once with “Keep downloaded weights” ticked and a streamed strategy: its files are then kept for loading offline.',
          'Models marked “loads offline” in the Cached models panel load without the network.',
        ],
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
