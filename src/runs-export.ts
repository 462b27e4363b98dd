// A session's load runs, the lit-llama comparison table live, and their JSON export.
import type { GpuInfo, LoadReport, LoadRequest } from '../workers/api.ts';
import { modelName } from './model-source.ts';

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

/** Label for a run in charts and tables: "#2 kjv-llama · streamed-int8" (two models both "streamed" stay apart). */
export function runLabel(run: RunRecord): string {
  return `#${run.id} ${modelName(run.report.model)} · ${run.report.strategy}`;
}

/** The same label on two lines, for a chart axis: ["#2 streamed-int8", "kjv-llama"]. */
export function runLabelLines(run: RunRecord): [string, string] {
  return [`#${run.id} ${run.report.strategy}`, modelName(run.report.model)];
}
