import { useMemo } from 'react';
import { Line } from 'react-chartjs-2';
import type { ChartOptions } from 'chart.js';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatMs } from '../format.ts';
import { stepSeries } from '../memory-series.ts';
import { useStore } from '../store/use-store.ts';
import { MiB } from './chart-setup.ts';
import { VRAM_STEPPED, vramDatasets } from './vram-data.ts';

const options: ChartOptions<'line'> = {
  parsing: false,
  normalized: true,
  interaction: { mode: 'nearest', axis: 'x', intersect: false },
  scales: {
    x: { type: 'linear', min: 0, title: { display: true, text: 'seconds since the GPU connected' }, ticks: { maxTicksLimit: 8 } },
    y: { stacked: true, beginAtZero: true, title: { display: true, text: 'MiB' } },
  },
  plugins: {
    legend: { position: 'bottom', labels: { boxWidth: 12, filter: (item, data) => (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 } },
    tooltip: {
      callbacks: {
        title: (items) => (items[0] ? `${formatMs(items[0].parsed.x! * 1000)}` : ''),
        label: (c) => `${c.dataset.label}: ${formatBytes((c.parsed.y ?? 0) * MiB)}`,
      },
    },
  },
  elements: { point: { radius: 0 }, line: { borderWidth: 1, tension: 0 } },
};

/** GPU memory over time, stacked by ledger category, held flat between buffer events up to now, with the peak marked. */
export function VramChart() {
  const { samples, current, peak, now } = useStore(
    useShallow((s) => ({ samples: s.samples, current: s.memCurrent, peak: s.memPeak, now: s.memNow })),
  );
  const series = useMemo(() => stepSeries(samples, now), [samples, now]);
  const data = useMemo(() => ({ datasets: vramDatasets(series, peak) }), [series, peak]);
  // the time axis ends at now (not at the next round number), where the held value ends
  const endS = (series.at(-1)?.t ?? 0) / 1000;
  const opts = useMemo<ChartOptions<'line'>>(() => ({ ...options, scales: { ...options.scales, x: { ...options.scales!.x, max: endS > 0 ? endS : undefined } } }), [endS]);
  const peakBytes = peak?.total ?? 0;

  return (
    <figure
      className="chart panel"
      data-testid="vram-chart"
      data-points={samples.length}
      data-current-bytes={current}
      data-peak-bytes={peakBytes}
      data-stepped={VRAM_STEPPED}
    >
      <figcaption>
        <h2>GPU memory over time</h2>
        <span className="hint" data-testid="vram-caption">
          now {formatBytes(current)} · peak {formatBytes(peakBytes)} (the highest since the GPU connected)
        </span>
      </figcaption>
      <div className="chart-box" role="img" aria-label={`GPU memory by category over time; now ${formatBytes(current)}, peak ${formatBytes(peakBytes)}`}>
        {samples.some((x) => x.total > 0) ? <Line data={data} options={opts} /> : <p className="empty">No GPU allocations yet.</p>}
      </div>
      <div className="sr-only">
        <table data-testid="vram-points">
          <caption>GPU memory at each change, and now</caption>
          <thead>
            <tr>
              <th scope="col">time</th>
              <th scope="col">total</th>
            </tr>
          </thead>
          <tbody>
            {series.map((s, i) => (
              <tr key={`${s.t}-${i}`} data-t={s.t} data-total={s.total} data-now={i === series.length - 1 && s.t === now ? 'true' : undefined}>
                <td>{i === series.length - 1 && s.t === now ? 'now' : formatMs(s.t)}</td>
                <td>{formatBytes(s.total)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
