// The engine in its own Web Worker, reached through Comlink (invisible to the library's callers). The worker is the
// library's own, bundled into it (no bundler setting needed), unless the caller starts one running
// 'webgpu-llm/worker' itself (a Content-Security-Policy without blob: workers, say).
import * as Comlink from 'comlink';
import type { EngineApi } from '../workers/api.ts';
import { installErrorTransfer } from '../workers/comlink-errors.ts';
import type { EngineConnection } from './engine-client.ts';

export async function workerConnection(start?: () => Worker): Promise<EngineConnection> {
  installErrorTransfer();
  let worker: Worker;
  if (start) {
    worker = start();
  } else {
    const { default: EngineWorker } = await import('../workers/engine.worker.ts?worker&inline');
    worker = new EngineWorker({ name: 'webgpu-llm' });
  }
  const backend = Comlink.wrap<EngineApi>(worker);
  return {
    backend,
    callback: Comlink.proxy,
    close: () => {
      backend[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
