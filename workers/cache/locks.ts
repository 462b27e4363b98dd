// One holder at a time per name, across tabs where the platform allows: navigator.locks (Web Locks) in browsers;
// elsewhere (Node 20) an in-process queue, which is all a single process needs. The cache takes one lock per model
// around a load, so a second tab loading the same model waits, then finds it in the cache.

type Release = () => void;
const queues = new Map<string, Promise<void>>();

async function inProcess<T>(name: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const before = queues.get(name) ?? Promise.resolve();
  let release!: Release;
  const mine = new Promise<void>((r) => (release = r));
  const tail = before.then(() => mine);
  queues.set(name, tail);
  try {
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      void before.then(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    return await fn();
  } finally {
    release();
    if (queues.get(name) === tail) queues.delete(name);
  }
}

/** Runs `fn` holding the lock `name`; waiting can be aborted. */
export function withLock<T>(name: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks?.request) return locks.request(name, { mode: 'exclusive', signal }, () => fn()) as Promise<T>;
  return inProcess(name, fn, signal);
}

/** The lock name of a model's cache (its base URL). */
export function modelLockName(model: string): string {
  return `webgpu-llm-cache:${model}`;
}
