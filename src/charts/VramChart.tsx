import { useMemo } from 'react';
import { Line } from 'react-chartjs-2';
import type { ChartData, ChartOptions } from 'chart.js';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../format.ts';
import { CATEGORY_COLORS, MEMORY_CATEGORIES, peakSample, thinSamples } from '../memory-series.ts';
import { useStore } from '../store/use-store.ts';
import { MiB } from './chart-setup.ts';

type Point = { x: number; y: number };

const options: ChartOptions<'line'> = {
  parsing: false,
  normalized: true,
  interaction: { mode: 'nearest', axis: 'x', intersect: false },
  scales: {
    x: { type: 'linear', title: { display: true, text: 'seconds since GPU start' }, ticks: { maxTicksLimit: 8 } },
    y: { stacked: true, beginAtZero: true, title: { display: true, text: 'MiB' } },
  },
  plugins: {
    legend: { position: 'bottom', labels: { boxWidth: 12, filter: (item, data) => (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 } },
    tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${(c.parsed.y ?? 0).toFixed(1)} MiB` } },
  },
  elements: { point: { radius: 0 }, line: { borderWidth: 1, tension: 0 } },
};

/** GPU memory over time, stacked by ledger category, with the peak marked. */
export function VramChart() {
  const { samples, current, peak } = useStore(useShallow((s) => ({ samples: s.samples, current: s.memCurrent, peak: s.memPeak })));
  const { data, peakPoint } = useMemo(() => {
    const thin = thinSamples(samples);
    const top = peakSample(samples);
    const sets: ChartData<'line', Point[]>['datasets'] = MEMORY_CATEGORIES.filter((c) => thin.some((s) => s.bytes[c] > 0)).map((c) => ({
      label: c,
      data: thin.map((s) => ({ x: s.t / 1000, y: s.bytes[c] / MiB })),
      borderColor: CATEGORY_COLORS[c],
      backgroundColor: `${CATEGORY_COLORS[c]}99`,
      fill: true,
      stack: 'ledger',
    }));
    if (top && top.total > 0) {
      sets.push({
        label: `peak ${formatBytes(top.total)}`,
        data: [{ x: top.t / 1000, y: top.total / MiB }],
        borderColor: '#d33',
        backgroundColor: '#d33',
        pointRadius: 5,
        pointStyle: 'triangle',
        showLine: false,
        fill: false,
        stack: 'peak',
      });
    }
    return { data: { datasets: sets }, peakPoint: top };
  }, [samples]);

  return (
    <figure className="chart panel" data-testid="vram-chart" data-points={samples.length} data-current-bytes={current} data-peak-bytes={peakPoint?.total ?? 0}>
      <figcaption>
        <h2>GPU memory over time</h2>
        <span className="hint">
          now {formatBytes(current)} · peak {formatBytes(peak)}
        </span>
      </figcaption>
      <div className="chart-box" role="img" aria-label={`GPU memory by category over time; currently ${formatBytes(current)}, peak ${formatBytes(peak)}`}>
        {samples.some((x) => x.total > 0) ? <Line data={data} options={options} /> : <p className="empty">No GPU allocations yet.</p>}
      </div>
    </figure>
  );
}
