// What the VRAM chart hands chart.js, built apart from the component so that it is unit-tested in Node.
import type { ChartData } from 'chart.js';
import type { LedgerSample } from '../../workers/api.ts';
import { CATEGORY_COLORS, MEMORY_CATEGORIES, type MemoryPeak } from '../memory-series.ts';

const MiB = 2 ** 20;

export type Point = { x: number; y: number };

/**
 * Memory is a step function: it changes only when the ledger creates or destroys a buffer and stays flat in between.
 * chart.js's stepped 'before' draws each segment level at the earlier point's value, then steps at the later point.
 */
export const VRAM_STEPPED = 'before' as const;

/** The chart's datasets: one stacked, stepped area per ledger category in use, and the peak marker. */
export function vramDatasets(series: LedgerSample[], peak: MemoryPeak | null): ChartData<'line', Point[]>['datasets'] {
  const sets: ChartData<'line', Point[]>['datasets'] = MEMORY_CATEGORIES.filter((c) => series.some((s) => s.bytes[c] > 0)).map((c) => ({
    label: c,
    data: series.map((s) => ({ x: s.t / 1000, y: s.bytes[c] / MiB })),
    borderColor: CATEGORY_COLORS[c],
    backgroundColor: `${CATEGORY_COLORS[c]}99`,
    fill: true,
    stack: 'ledger',
    stepped: VRAM_STEPPED,
  }));
  if (peak && peak.total > 0) {
    sets.push({
      label: 'peak',
      data: [{ x: peak.t / 1000, y: peak.total / MiB }],
      borderColor: '#d33',
      backgroundColor: '#d33',
      pointRadius: 5,
      pointStyle: 'triangle',
      showLine: false,
      fill: false,
      stack: 'peak',
    });
  }
  return sets;
}

