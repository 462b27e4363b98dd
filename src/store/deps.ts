// What the store needs from outside: the engine (a Comlink remote in the app, a plain fake in unit tests) and a
// scheduler for batched UI updates (requestAnimationFrame in the browser).
import type { EngineApi } from '../../workers/api.ts';
import type { StateStorage } from 'zustand/middleware';
import type { Scheduler } from '../token-batcher.ts';

/** EngineApi as either side sees it: the worker's object, or its Comlink remote (every method returns a promise). */
export type EngineLike = {
  [K in keyof EngineApi]: (
    ...args: Parameters<EngineApi[K]>
  ) => ReturnType<EngineApi[K]> | Promise<Awaited<ReturnType<EngineApi[K]>>>;
};

export interface StoreDeps {
  /** The engine, started on first use. */
  engine: () => EngineLike;
  /** Marks a callback for the worker to call (Comlink.proxy); identity for an in-process fake. */
  proxy: <T extends object>(fn: T) => T;
  schedule: Scheduler;
  /** A monotonic clock in ms (performance.now()) for durations. */
  now: () => number;
  /** Wall-clock ms since the epoch (Date.now()), for when a run finished. */
  wallClock: () => number;
  /** Where settings and runs are kept across reloads (localStorage in the app); absent: nothing is kept. */
  storage?: StateStorage;
  /**
   * Ends the engine (the worker is terminated: whatever it was doing stops at once); the next engine() starts a new
   * one. Absent (unit tests): a stuck engine cannot be restarted.
   */
  restart?: () => void;
  /** Runs fn after ms (setTimeout; tests pass their own clock). */
  later?: (ms: number, fn: () => void) => void;
}
