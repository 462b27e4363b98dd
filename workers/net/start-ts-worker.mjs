// Starts thread-reader.worker.ts in a worker thread under tsx: on Node 20 a worker thread gets no loader from
// `--import tsx` or the tsx CLI, so this registers tsx's hooks and then imports the TypeScript script (workerData).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.script);
