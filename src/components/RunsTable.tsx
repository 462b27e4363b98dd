import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatMs, formatRate } from '../format.ts';
import { modelName } from '../model-source.ts';
import { peakHostSourceText, peakHostText } from '../peak-host.ts';
import { runsExport, runsFileName } from '../runs-export.ts';
import { appStore, useStore } from '../store/use-store.ts';

function download(): void {
  const { runs, gpuInfo } = appStore.getState();
  const blob = new Blob([JSON.stringify(runsExport(runs, gpuInfo), null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = runsFileName();
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const HOST_COLUMN_TITLE =
  'Peak host memory of the load: in the browser, the JS buffers held by the loader; in Node, process RSS growth. Hover a cell for its source.';

/** The session's loads as a table, with JSON export. */
export function RunsTable() {
  const { runs, clear } = useStore(useShallow((s) => ({ runs: s.runs, clear: s.clearRuns })));
  return (
    <section className="panel runs" aria-labelledby="runs-h">
      <div className="panel-head">
        <h2 id="runs-h">Load runs</h2>
        <div className="button-row">
          <button type="button" className="secondary" data-testid="export-runs" onClick={download} disabled={!runs.length}>
            Export JSON
          </button>
          <button type="button" className="secondary" data-testid="clear-runs" onClick={clear} disabled={!runs.length}>
            Clear
          </button>
        </div>
      </div>
      <div className="table-scroll">
        <table data-testid="runs-table" className="stack-narrow">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Model</th>
              <th scope="col">Strategy</th>
              <th scope="col">Load time</th>
              <th scope="col">Peak VRAM</th>
              <th scope="col">Final VRAM</th>
              <th scope="col" title={HOST_COLUMN_TITLE}>
                Peak host
              </th>
              <th scope="col">Network</th>
              <th scope="col">From cache</th>
              <th scope="col">Throughput</th>
            </tr>
          </thead>
          <tbody>
            {runs.length === 0 && (
              <tr>
                <td colSpan={10} className="empty">
                  No loads yet.
                </td>
              </tr>
            )}
            {runs.map((r) => (
              <tr key={r.id}>
                <td data-label="#">{r.id}</td>
                <td className="mono" title={r.report.model} data-label="Model">
                  {modelName(r.report.model)}
                </td>
                <td data-label="Strategy">{r.report.strategy}</td>
                <td data-label="Load time">{formatMs(r.report.timings.totalMs)}</td>
                <td data-label="Peak VRAM">{formatBytes(r.report.peakGpuBytes)}</td>
                <td data-label="Final VRAM">{formatBytes(r.report.finalGpuBytes)}</td>
                <td data-label="Peak host" data-testid="run-peak-host" data-bytes={r.report.peakHostBytes} data-source={r.report.hostMemorySource} title={peakHostSourceText(r.report)}>
                  {peakHostText(r.report)}
                </td>
                <td data-label="Network" data-testid="run-network-bytes" data-bytes={r.report.bytesFetched}>
                  {formatBytes(r.report.bytesFetched)}
                </td>
                <td
                  data-label="From cache"
                  data-testid="run-cache-bytes"
                  data-bytes={r.report.bytesFromCache}
                  data-cache={r.report.cache}
                  data-offline={r.report.offline ? 'true' : 'false'}
                  title={r.report.offline ? `Offline, not revalidated: ${r.report.offline.reason}` : undefined}
                >
                  {r.report.cache === 'off' ? 'off' : `${formatBytes(r.report.bytesFromCache)} (${r.report.cache}${r.report.offline ? ', offline' : ''})`}
                </td>
                <td data-label="Throughput">{formatRate(r.report.mbPerS, 'MB/s')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
