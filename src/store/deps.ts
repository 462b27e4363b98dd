// What the store needs from outside: the engine (the library's, from the same entry point any web app imports; in
// unit tests, the library's client around a fake engine), a scheduler for batched UI updates (requestAnimationFrame
// in the browser), and storage (localStorage in the app) for the settings, the runs and a hub token the person asks
// to remember.
import type { LlmEngine } from 'webgpu-llm';
import type { StateStorage } from 'zustand/middleware';
import type { Scheduler } from '../token-batcher.ts';

export interface StoreDeps {
  /** The engine, started on first use. */
  engine: () => LlmEngine;
  schedule: Scheduler;
  /** A monotonic clock in ms (performance.now()) for durations. */
  now: () => number;
  /** Wall-clock ms since the epoch (Date.now()), for when a run finished. */
  wallClock: () => number;
  /**
   * Where settings and runs are kept across reloads, and a hub token when the person ticks "remember" (localStorage
   * in the app; read synchronously); absent: nothing is kept.
   */
  storage?: StateStorage;
  /**
   * Ends the engine (the worker is terminated: whatever it was doing stops at once); the next engine() starts a new
   * one. Absent (unit tests): a stuck engine cannot be restarted.
   */
  restart?: () => void;
  /** Runs fn after ms (setTimeout; tests pass their own clock). */
  later?: (ms: number, fn: () => void) => void;
}
