import { useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatMs } from '../format.ts';
import { describeProgress } from '../load-progress.ts';
import { useStore } from '../store/use-store.ts';
import { useFocusHandoff } from '../use-focus-handoff.ts';

/** Load / cancel / unload, and the progress of the load in flight. */
export function LoadControls() {
  const { status, progress, report, info, gpuReady, generating, load, cancel, unload } = useStore(
    useShallow((s) => ({
      status: s.modelStatus,
      progress: s.progress,
      report: s.lastReport,
      info: s.modelInfo,
      gpuReady: s.gpuStatus === 'ready',
      generating: s.generating,
      load: s.load,
      cancel: s.cancelLoad,
      unload: s.unload,
    })),
  );
  const loading = status === 'loading' || status === 'cancelling';
  const line = describeProgress(progress, status === 'cancelling');
  const percent = line.fraction === null ? null : Math.round(line.fraction * 100);
  const loadRef = useRef<HTMLButtonElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  useFocusHandoff(loading, cancelRef, loadRef);

  return (
    <section className="load" aria-label="Load">
      <div className="button-row">
        <button type="button" ref={loadRef} data-testid="load-button" onClick={() => void load()} disabled={loading || !gpuReady || generating}>
          {status === 'loaded' ? 'Load again' : 'Load model'}
        </button>
        <button type="button" ref={cancelRef} className="secondary" data-testid="cancel-button" onClick={cancel} disabled={status !== 'loading'}>
          {status === 'cancelling' ? 'Cancelling…' : 'Cancel'}
        </button>
        <button type="button" className="secondary" data-testid="unload-button" onClick={() => void unload()} disabled={status !== 'loaded' || generating}>
          Unload
        </button>
      </div>
      {loading && (
        <div className="progress" data-testid="load-progress" data-phase={progress?.phase ?? 'resolve'} aria-live="polite">
          <div
            className="progress-track"
            role="progressbar"
            aria-label="Load progress"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent ?? undefined}
            aria-valuetext={percent === null ? line.title : `${line.title}, ${percent}%`}
          >
            <div className={`progress-fill${percent === null ? ' indeterminate' : ''}`} style={{ width: `${percent ?? 100}%` }} />
          </div>
          <div className="progress-text" data-testid="load-progress-text">
            <strong>{line.title}</strong>
            {line.figures.map((f) => (
              <span key={f}>{f}</span>
            ))}
          </div>
          {progress?.currentTensor && line.figures.length > 0 && <div className="hint mono">{progress.currentTensor}</div>}
        </div>
      )}
      {status === 'loaded' && info && (
        <p className="loaded" data-testid="model-info" role="status">
          Loaded <strong>{info.model}</strong> · {info.architecture} · {info.precision} · context {info.contextLength} · vocab {info.vocabSize}
          {report && <> · {formatMs(report.timings.totalMs)} ({report.strategy})</>}
          {report && (
            <span
              data-testid="load-bytes"
              data-network={report.bytesFetched}
              data-cache={report.bytesFromCache}
              data-state={report.cache}
              data-offline={report.offline ? 'true' : 'false'}
            >
              {' '}· network {formatBytes(report.bytesFetched)}
              {report.cache !== 'off' && <> · from cache {formatBytes(report.bytesFromCache)} ({report.cache})</>}
            </span>
          )}
          {report?.offline && (
            <>
              {' '}·{' '}
              <span className="offline" data-testid="load-offline" title={`The network could not be reached: ${report.offline.reason}`}>
                offline: loaded from the cache, not revalidated with the server
              </span>
            </>
          )}
        </p>
      )}
      {status === 'loaded' && info && report && report.notes.length > 0 && (
        <ul className="notes" data-testid="load-notes">
          {report.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
