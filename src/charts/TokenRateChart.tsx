import { useMemo } from 'react';
import { Line } from 'react-chartjs-2';
import type { ChartData, ChartOptions } from 'chart.js';
import { useShallow } from 'zustand/react/shallow';
import { formatMs, formatRate } from '../format.ts';
import { useStore } from '../store/use-store.ts';
import { RATE_WINDOW, thinRates, tokenRates } from '../token-rate.ts';
import './chart-setup.ts';

type Point = { x: number; y: number };

const options: ChartOptions<'line'> = {
  parsing: false,
  normalized: true,
  interaction: { mode: 'nearest', axis: 'x', intersect: false },
  scales: {
    x: { type: 'linear', min: 1, title: { display: true, text: 'token of the answer' }, ticks: { maxTicksLimit: 6, precision: 0 } },
    y: { beginAtZero: true, title: { display: true, text: 'tok/s' }, ticks: { maxTicksLimit: 5 } },
  },
  plugins: {
    legend: { display: false },
    tooltip: { callbacks: { title: (items) => `token ${items[0]?.parsed.x ?? ''}`, label: (c) => `${c.dataset.label}: ${formatRate(c.parsed.y ?? 0, 'tok/s')}` } },
  },
  elements: { point: { radius: 0 }, line: { borderWidth: 1.5, tension: 0 } },
};

/** Decode speed over the answer's tokens while it is written (and after), with the time to first token. */
export function TokenRateChart() {
  const { times, startedAt, generating, stats } = useStore(
    useShallow((s) => ({ times: s.tokenTimes, startedAt: s.genStartedAt, generating: s.generating, stats: s.stats })),
  );
  const points = useMemo(() => thinRates(tokenRates(times)), [times]);
  const data = useMemo<ChartData<'line', Point[]>>(() => {
    const sets: ChartData<'line', Point[]>['datasets'] = [
      { label: `decode (last ${RATE_WINDOW} tokens)`, data: points.map((p) => ({ x: p.token, y: p.tokPerS })), borderColor: '#3d5ce0', backgroundColor: '#3d5ce033', fill: true },
    ];
    if (stats && points.length) {
      const y = stats.decodeTokPerS;
      sets.push({ label: 'decode, whole answer', data: [{ x: 1, y }, { x: points[points.length - 1].token, y }], borderColor: '#e67e22', borderDash: [4, 3], fill: false });
    }
    return { datasets: sets };
  }, [points, stats]);
  if (!generating && times.length < 2) return null;
  // live: measured here from the tokens' arrival; after: the engine's own figure
  const ttft = stats ? stats.ttftMs : startedAt !== null && times.length ? times[0] - startedAt : null;
  const last = points.at(-1);
  return (
    <figure className="token-rate" data-testid="token-rate-chart" data-points={points.length} data-tokens={times.length}>
      <figcaption>
        <span>Decode speed</span>
        <span className="hint" data-testid="token-rate-caption">
          {ttft === null ? 'waiting for the first token…' : `first token after ${formatMs(ttft)}`}
          {last && ` · now ${formatRate(last.tokPerS, 'tok/s')}`}
        </span>
      </figcaption>
      <div className="token-rate-box" role="img" aria-label={last ? `Decode speed over ${last.token + 1} tokens, now ${formatRate(last.tokPerS, 'tok/s')}` : 'Decode speed: no tokens yet'}>
        {points.length > 0 ? <Line data={data} options={options} /> : <p className="empty">Tokens/s appear with the second token.</p>}
      </div>
    </figure>
  );
}
