import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../format.ts';
import { useStore } from '../store/use-store.ts';

/** The adapter the worker got, its features and the limits the engine plans with; or why there is none. */
export function GpuPanel() {
  const { status, info, error, connect, reloadable, reload } = useStore(
    useShallow((s) => ({
      status: s.gpuStatus,
      info: s.gpuInfo,
      error: s.gpuError,
      connect: s.connectGpu,
      reloadable: s.reloadable,
      reload: s.reloadLost,
    })),
  );
  if (status === 'unavailable') {
    return (
      <section className="panel error-panel" data-testid="no-webgpu" role="alert">
        <h2>WebGPU is not available</h2>
        <p>{error}</p>
        <p>This app runs the model on your GPU through WebGPU. Open it in a recent Chrome or Edge (version 113 or later).</p>
      </section>
    );
  }
  if (status === 'lost') {
    return (
      <section className="panel error-panel" data-testid="device-lost" role="alert">
        <h2>GPU device lost</h2>
        <p>{error}</p>
        <button onClick={() => void connect()}>Reconnect GPU</button>
        {reloadable && (
          <button data-testid="reload-lost" onClick={() => void reload()}>
            Reconnect and load {reloadable.model} again
          </button>
        )}
      </section>
    );
  }
  if (!info) return <section className="panel" data-testid="adapter">Connecting to the GPU…</section>;
  const f = info.features;
  return (
    <section className="panel" aria-label="GPU adapter">
      <h2>GPU</h2>
      <p data-testid="adapter">
        {[info.adapter.vendor, info.adapter.architecture, info.adapter.description].filter(Boolean).join(' · ') ||
          'WebGPU adapter'}
      </p>
      <ul className="features" data-testid="features">
        <li className={f.shaderF16 ? 'on' : 'off'}>shader-f16 {f.shaderF16 ? '✓' : '— packed-u32 path'}</li>
        <li className={f.subgroups ? 'on' : 'off'}>subgroups {f.subgroups ? '✓' : '—'}</li>
        <li className={f.timestampQuery ? 'on' : 'off'}>timestamp-query {f.timestampQuery ? '✓' : '—'}</li>
        <li className={f.dot4I8Packed ? 'on' : 'off'}>dot4I8Packed {f.dot4I8Packed ? '✓' : '— fallback'}</li>
      </ul>
      <p className="limits">
        max binding {formatBytes(info.limits.maxStorageBufferBindingSize)} · max buffer {formatBytes(info.limits.maxBufferSize)} · workgroup{' '}
        {info.limits.maxComputeInvocationsPerWorkgroup}
      </p>
    </section>
  );
}
