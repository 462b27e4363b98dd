// How the engine waits on a GPU promise (queue.onSubmittedWorkDone) while it has nothing else to do: the load's
// back-pressure (load/queue-backpressure.ts) does so for most of a load on a slow device.
//
// In a browser this is a plain `await`: the browser resolves the promise from its own event loop. In Node the WebGPU
// implementation is dawn.node, which polls its events from setImmediate, creating a new JavaScript function each
// time, for as long as any promise it made is pending (AsyncRunner::ScheduleProcessEvents, crbug.com/dawn/1127): a
// thread with nothing else to do then spins through event-loop turns as fast as it can. Measured on lavapipe during a
// 3B bf16 streamed-int8 load: 1.8 million polls, whose garbage grew V8's young generation from 4 to 32 MiB and the
// malloc heap by 11 MiB beyond the GPU buffers, and took a CPU core from lavapipe's own threads (README, "Host memory
// of streamed-int8"). There the wait is paced: each event-loop turn (where dawn.node polls once, and timers, I/O and
// the reader thread's messages run as usual) is followed by a pause of `pauseMs` (Atomics.wait), so the poll runs
// about a thousand times a second instead: 23 thousand polls for the same load, and no growth of either heap.
export type GpuAwait = <T>(p: Promise<T>) => Promise<T>;

/** A browser's wait: the promise itself. */
export const plainAwait: GpuAwait = (p) => p;

type NodeGlobals = { process?: { versions?: { node?: string } }; setImmediate?: (f: () => void) => unknown };

/**
 * A wait that pauses `pauseMs` after every event-loop turn until `p` settles (for dawn.node; Node only: it needs
 * setImmediate, and Atomics.wait on the calling thread).
 */
export function pacedAwait(pauseMs = 1): GpuAwait {
  const setImmediate = (globalThis as NodeGlobals).setImmediate;
  if (!setImmediate) throw new Error('pacedAwait: setImmediate is missing (Node only)');
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const turn = () => new Promise<void>((r) => setImmediate(r));
  return async <T>(p: Promise<T>): Promise<T> => {
    let settled = false;
    const mark = () => void (settled = true);
    p.then(mark, mark);
    while (!settled) {
      Atomics.wait(cell, 0, 0, pauseMs);
      await turn();
    }
    return p;
  };
}

/** The wait for this runtime: paced in Node (dawn.node), plain elsewhere. */
export function gpuAwaitForRuntime(): GpuAwait {
  const g = globalThis as NodeGlobals;
  const node = typeof g.process?.versions?.node === 'string' && typeof g.setImmediate === 'function' && typeof SharedArrayBuffer === 'function';
  return node ? pacedAwait() : plainAwait;
}
