import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/use-store.ts';

/**
 * The engine's own state, when it needs the person: a stop, cancel or unload that has not taken effect (the worker
 * may be stuck: restart it), or a model lost with the GPU device or a restarted engine (load it again).
 */
export function EngineBanner() {
  const { stuck, restart, reloadable, canReload, reload } = useStore(
    useShallow((s) => ({
      stuck: s.engineStuck,
      restart: s.restartEngine,
      reloadable: s.reloadable,
      canReload: s.gpuStatus === 'ready' && s.modelStatus === 'empty',
      reload: s.reloadLost,
    })),
  );
  if (stuck) {
    return (
      <section className="banner banner-error" data-testid="engine-stuck" role="alert">
        <div>
          <strong>The engine is not responding</strong>
          <p>A stop, cancel or unload has not taken effect for several seconds. Restarting the engine ends whatever it is doing and frees its GPU memory.</p>
        </div>
        <button type="button" className="small" data-testid="engine-restart" onClick={() => void restart()}>
          Restart the engine
        </button>
      </section>
    );
  }
  if (reloadable && canReload) {
    return (
      <section className="banner banner-notice" data-testid="reloadable" role="status">
        <span>{reloadable.model} is no longer loaded (the GPU device or the engine was reset).</span>
        <button type="button" className="small" data-testid="reload-lost" onClick={() => void reload()}>
          Load it again
        </button>
      </section>
    );
  }
  return null;
}
