// Typed engine errors. They cross the worker boundary as plain {name, code, message, details} and are rebuilt into
// EngineError on the UI side (see src/engine-client.ts), so the UI can say what happened and what to do next.

export type EngineErrorCode =
  | 'no-webgpu'
  | 'device-lost'
  | 'out-of-memory'
  | 'will-not-fit'
  | 'network'
  | 'cors'
  | 'http'
  | 'bad-file'
  | 'unsupported'
  | 'cancelled'
  | 'bad-input'
  /** config.json holds a value the model cannot run with (details.setting names the key). */
  | 'bad-config'
  /** A file changed on the server during the load: its versions were not mixed (details.file names it). */
  | 'file-changed'
  | 'storage'
  /** The network could not be reached and the cache lacks what the load needs (details.file names it). */
  | 'offline'
  /**
   * The prompt (a conversation) has more tokens than the context holds: details.promptTokens, details.contextLength,
   * and details.trimTurns, the fewest oldest turns whose removal makes it fit (absent when no trimming can).
   */
  | 'context-full'
  | 'internal';

export interface EngineErrorDetails {
  /** URL or file name concerned. */
  file?: string;
  tensor?: string;
  setting?: string;
  status?: number;
  [key: string]: unknown;
}

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly details: EngineErrorDetails = {},
  ) {
    super(message);
  }
}

export interface SerializedEngineError {
  name: string;
  code: EngineErrorCode;
  message: string;
  details: EngineErrorDetails;
}

export function serializeError(e: unknown): SerializedEngineError {
  if (e instanceof EngineError) return { name: e.name, code: e.code, message: e.message, details: e.details };
  if (e instanceof DOMException && e.name === 'AbortError') {
    return { name: 'EngineError', code: 'cancelled', message: 'cancelled', details: {} };
  }
  if (e instanceof Error) return { name: e.name, code: 'internal', message: e.message, details: {} };
  return { name: 'Error', code: 'internal', message: String(e), details: {} };
}

export function deserializeError(s: SerializedEngineError): EngineError {
  return new EngineError(s.code, s.message, s.details);
}

export function isCancel(e: unknown): boolean {
  return (
    (e instanceof EngineError && e.code === 'cancelled') ||
    (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'AbortError')
  );
}
