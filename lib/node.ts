// The library's Node entry (package 'webgpu-llm/node'): the same engine API, with the engine running in this thread
// on Dawn (the `webgpu` npm package) — for scripts, tests and servers. Weights can be kept in a directory.
import { NodeFsBackend } from '../workers/cache/fs.node.ts';
import { Engine } from '../workers/engine.ts';
import { LlmEngine } from './engine-client.ts';

export interface NodeEngineOptions {
  /**
   * The WebGPU entry object: `create([])` from the `webgpu` package, after `Object.assign(globalThis, globals)`
   * (the engine uses WebGPU's global constants such as GPUBufferUsage).
   */
  gpu: GPU | (() => GPU);
  /** Keep weight bytes in this directory, so that the next load reads them from disk (default: no cache). */
  cacheDir?: string;
  /** What relative model paths resolve against (an http(s) URL; default: none, so only URLs and hub ids load). */
  baseHref?: string;
}

export function createEngine(options: NodeEngineOptions): LlmEngine {
  const { gpu } = options;
  const engine = new Engine({
    gpu: typeof gpu === 'function' ? gpu : () => gpu,
    baseHref: options.baseHref ?? '',
    cacheBackend: options.cacheDir ? new NodeFsBackend(options.cacheDir) : null,
  });
  return new LlmEngine(() => ({ backend: engine, callback: (fn) => fn, close: () => {} }), options.baseHref);
}

export type * from './webgpu-llm.ts';
export { LlmEngine };
export { EngineError, isCancel } from '../workers/errors.ts';
export { LOAD_STRATEGIES, LEDGER_CATEGORIES } from '../workers/api.ts';
export { trimOldestTurns } from '../workers/model/chat-prompt.ts';
