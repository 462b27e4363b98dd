// A session's load runs, the lit-llama comparison table live, and their JSON export.
import type { GpuInfo, LoadReport, LoadRequest } from '../workers/api.ts';

export interface RunRecord {
  id: number;
  /** Wall-clock time the load finished (ms since the epoch). */
  finishedAt: number;
  request: LoadRequest;
  report: LoadReport;
}

export interface RunsExport {
  app: 'webgpu-llm';
  version: 1;
  exportedAt: string;
  adapter: GpuInfo['adapter'] | null;
  runs: RunRecord[];
}

export function runsExport(runs: RunRecord[], gpu: GpuInfo | null, now: Date = new Date()): RunsExport {
  return { app: 'webgpu-llm', version: 1, exportedAt: now.toISOString(), adapter: gpu?.adapter ?? null, runs };
}

export function runsFileName(now: Date = new Date()): string {
  return `webgpu-llm-runs-${now.toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`;
}

/** Short label for a run in charts and tables: "#2 streamed-int8". */
export function runLabel(run: RunRecord): string {
  return `#${run.id} ${run.report.strategy}`;
}
