// The UI's handle on the worker: a typed Comlink remote of EngineApi. The UI never posts hand-made messages.
import * as Comlink from 'comlink';
import type { EngineApi } from '../workers/api.ts';
import { installErrorTransfer } from '../workers/comlink-errors.ts';
import EngineWorker from '../workers/engine.worker.ts?worker';

export type Engine = Comlink.Remote<EngineApi>;

export function startEngine(): { engine: Engine; terminate: () => void } {
  installErrorTransfer();
  const worker = new EngineWorker({ name: 'engine' });
  const engine = Comlink.wrap<EngineApi>(worker);
  return {
    engine,
    terminate: () => {
      engine[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** Wraps a callback so the worker can call it; release it when the call is done. */
export const proxy = Comlink.proxy;
