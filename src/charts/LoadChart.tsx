import { Bar } from 'react-chartjs-2';
import type { ChartOptions } from 'chart.js';
import type { LoadTimings } from '../../workers/api.ts';
import { formatMs } from '../format.ts';
import { useStore } from '../store/use-store.ts';

export const PHASES: { key: keyof LoadTimings; label: string; color: string }[] = [
  { key: 'networkMs', label: 'network', color: '#4b6bfb' },
  { key: 'cacheMs', label: 'cache', color: '#2e86c1' },
  { key: 'convertMs', label: 'convert', color: '#9b59b6' },
  { key: 'uploadMs', label: 'upload', color: '#16a085' },
  { key: 'quantizeMs', label: 'quantize', color: '#e67e22' },
  { key: 'compileMs', label: 'compile', color: '#7f8c8d' },
  { key: 'totalMs', label: 'total', color: '#1d232a' },
];

const options: ChartOptions<'bar'> = {
  indexAxis: 'y',
  scales: { x: { beginAtZero: true, title: { display: true, text: 'ms (phases may overlap when streamed)' } } },
  plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => formatMs(c.parsed.x ?? 0) } } },
};

/** Where the last load spent its time, by phase. */
export function LoadChart() {
  const report = useStore((s) => s.lastReport);
  const data = {
    labels: PHASES.map((p) => p.label),
    datasets: [
      {
        label: 'ms',
        data: report ? PHASES.map((p) => report.timings[p.key]) : [],
        backgroundColor: PHASES.map((p) => p.color),
      },
    ],
  };
  return (
    <figure className="chart panel" data-testid="load-chart" data-points={report ? PHASES.length : 0}>
      <figcaption>
        <h2>Last load by phase</h2>
        {report && (
          <span className="hint">
            {report.strategy} · {formatMs(report.timings.totalMs)}
          </span>
        )}
      </figcaption>
      <div className="chart-box" role="img" aria-label={report ? `Load phases: ${PHASES.map((p) => `${p.label} ${formatMs(report.timings[p.key])}`).join(', ')}` : 'No load yet'}>
        {report ? <Bar data={data} options={options} /> : <p className="empty">Load a model to see where the time goes.</p>}
      </div>
    </figure>
  );
}
