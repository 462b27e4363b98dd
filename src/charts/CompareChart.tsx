import { useMemo } from 'react';
import { Bar } from 'react-chartjs-2';
import type { ChartOptions } from 'chart.js';
import { hasPeakHost, peakHostSourceText } from '../peak-host.ts';
import { runLabel, runLabelLines, type RunRecord } from '../runs-export.ts';
import { useStore } from '../store/use-store.ts';
import { MiB } from './chart-setup.ts';

const HOST = 2; // the peak host dataset's index

function chartOptions(runs: readonly RunRecord[]): ChartOptions<'bar'> {
  return {
    scales: {
      time: { type: 'linear', position: 'left', beginAtZero: true, title: { display: true, text: 'load time (s)' } },
      mem: { type: 'linear', position: 'right', beginAtZero: true, title: { display: true, text: 'peak memory (MiB)' }, grid: { drawOnChartArea: false } },
    },
    plugins: {
      legend: { position: 'bottom', labels: { boxWidth: 12 } },
      // The host bar says what measured it (JS buffers held by the loader in the browser, process RSS in Node).
      tooltip: { callbacks: { title: (items) => (items[0] ? runLabel(runs[items[0].dataIndex]) : ''), footer: (items) => items.filter((i) => i.datasetIndex === HOST).map((i) => peakHostSourceText(runs[i.dataIndex].report)) } },
    },
  };
}

/** Every load of this session side by side: load time, peak VRAM, peak host memory (the lit-llama table, live). */
export function CompareChart() {
  const runs = useStore((s) => s.runs);
  const options = useMemo(() => chartOptions(runs), [runs]);
  const data = {
    labels: runs.map(runLabelLines),
    datasets: [
      { label: 'load time (s)', data: runs.map((r) => r.report.timings.totalMs / 1000), backgroundColor: '#1d232a', yAxisID: 'time' },
      { label: 'peak VRAM (MiB)', data: runs.map((r) => r.report.peakGpuBytes / MiB), backgroundColor: '#4b6bfb', yAxisID: 'mem' },
      // No bar for a run whose host memory was not measured (null leaves a gap, not a false zero).
      { label: 'peak host (MiB)', data: runs.map((r) => (hasPeakHost(r.report) ? r.report.peakHostBytes / MiB : null)), backgroundColor: '#e67e22', yAxisID: 'mem' },
    ],
  };
  return (
    <figure className="chart panel" data-testid="compare-chart" data-points={runs.length}>
      <figcaption>
        <h2>Loads compared</h2>
        <span className="hint">
          {runs.length} run{runs.length === 1 ? '' : 's'} kept in this browser
        </span>
      </figcaption>
      <div
        className="chart-box"
        role="img"
        data-testid="compare-chart-box"
        aria-label={runs.length ? `Load time and peak memory of ${runs.map(runLabel).join(', ')}; the table below has the numbers` : 'No loads yet'}
      >
        {runs.length ? <Bar data={data} options={options} /> : <p className="empty">Each load you run is added here.</p>}
      </div>
    </figure>
  );
}
