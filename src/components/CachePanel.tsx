import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../format.ts';
import { modelName } from '../model-source.ts';
import { useStore } from '../store/use-store.ts';

/** A model's base URL, shortened to its path on this origin. */
function modelLabel(model: string): string {
  try {
    const u = new URL(model);
    return u.origin === globalThis.location?.origin ? u.pathname : model;
  } catch {
    return model;
  }
}

/** The models kept in the browser's storage, the storage use, and deleting them. */
export function CachePanel() {
  const { models, storage, available, busy, refresh, remove, clear, loading } = useStore(
    useShallow((s) => ({
      models: s.cachedModels,
      storage: s.cacheStorage,
      available: s.cacheAvailable,
      busy: s.cacheBusy,
      refresh: s.refreshCache,
      remove: s.deleteCached,
      clear: s.clearCache,
      loading: s.modelStatus === 'loading' || s.modelStatus === 'cancelling',
    })),
  );
  useEffect(() => {
    void refresh();
  }, [refresh]);
  const disabled = busy || loading;

  return (
    <section className="panel" aria-labelledby="cache-h" data-testid="cache-panel">
      <div className="panel-head">
        <h2 id="cache-h">Cached models</h2>
        <div className="button-row">
          <button type="button" className="secondary" data-testid="cache-refresh" onClick={() => void refresh()} disabled={busy}>
            Refresh
          </button>
          <button type="button" className="secondary" data-testid="cache-clear" onClick={() => void clear()} disabled={disabled || !models.length}>
            Delete all
          </button>
        </div>
      </div>
      {available === false ? (
        <p className="hint" data-testid="cache-unavailable">
          This browser gives the app no storage (no Origin Private File System): every load downloads the weights.
        </p>
      ) : (
        <>
          <p className="hint" data-testid="cache-storage">
            {storage
              ? `This site uses ${formatBytes(storage.usage)} of ${formatBytes(storage.quota)}` +
                (storage.persisted === true ? ' · persistent' : storage.persisted === false ? ' · may be evicted under storage pressure' : '') +
                '.'
              : 'Storage use unknown.'}{' '}
            The streamed strategies keep downloaded weights here (streamed-int8 also its int8 weights), so the next load
            reads no weight bytes from the network; with its small files kept too, a complete model loads when the
            network cannot be reached.
          </p>
          <div className="table-scroll">
            <table data-testid="cache-table" className="stack-narrow cache-table">
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Stored</th>
                  <th scope="col">of which int8</th>
                  <th scope="col">Files</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {models.length === 0 && (
                  <tr>
                    <td colSpan={5} className="empty">
                      Nothing cached yet.
                    </td>
                  </tr>
                )}
                {models.map((m) => (
                  <tr key={m.model} data-testid="cached-model" data-model={m.model} data-complete={m.complete} data-offline={m.offline}>
                    <th scope="row" className="mono" title={m.model} data-label="Model">
                      {modelLabel(m.model)}
                    </th>
                    <td data-label="Stored">{formatBytes(m.bytes)}</td>
                    <td data-label="of which int8">{formatBytes(m.int8Bytes)}</td>
                    <td data-label="Files">
                      {m.files} ·{' '}
                      {m.complete
                        ? m.offline
                          ? 'complete · loads offline'
                          : 'complete'
                        : `partial (${formatBytes(m.bytes - m.int8Bytes - m.smallFilesBytes)} of ${formatBytes(m.fileSize)})`}
                    </td>
                    <td className="actions">
                      <button type="button" className="secondary" data-testid="cache-delete" onClick={() => void remove(m.model)} disabled={disabled}>
                        Delete<span className="sr-only"> {modelName(m.model)} from the cache</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
