// How the UI shows a load's peak host memory: by what measured it (LoadReport.hostMemorySource), and "n/a" where
// nothing did, never a false "0 B".
import type { LoadReport, PeakHostSource } from '../workers/api.ts';
import { formatBytes } from './format.ts';

const SOURCE_TEXT: Record<PeakHostSource, string> = {
  rss: 'process RSS growth during the load',
  'loader-accounted': 'JS buffers held by the loader (files, chunks, conversion and read-back buffers)',
  none: 'not measured here',
};

/** Whether the report has a peak host figure (a run with no measure has none, not a zero). */
export function hasPeakHost(r: Pick<LoadReport, 'hostMemorySource'>): boolean {
  return r.hostMemorySource in SOURCE_TEXT && r.hostMemorySource !== 'none';
}

/** The table cell: bytes, or "n/a". */
export function peakHostText(r: Pick<LoadReport, 'hostMemorySource' | 'peakHostBytes'>): string {
  return hasPeakHost(r) ? formatBytes(r.peakHostBytes) : 'n/a';
}

/** What the figure is, in words (a tooltip). */
export function peakHostSourceText(r: Pick<LoadReport, 'hostMemorySource'>): string {
  return SOURCE_TEXT[r.hostMemorySource] ?? SOURCE_TEXT.none;
}
