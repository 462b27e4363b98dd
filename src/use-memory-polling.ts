import { useEffect } from 'react';
import { appStore } from './store/use-store.ts';

const BUSY_MS = 250;
const IDLE_MS = 2000;

/** Polls the worker's memory ledger: every 250 ms while loading or generating, every 2 s otherwise. */
export function useMemoryPolling(): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      await appStore.getState().pollMemory();
      if (stopped) return;
      const s = appStore.getState();
      const busy = s.modelStatus === 'loading' || s.modelStatus === 'cancelling' || s.generating;
      timer = setTimeout(() => void tick(), busy ? BUSY_MS : IDLE_MS);
    };
    // a load or generation starting should not wait out an idle interval
    const unsubscribe = appStore.subscribe((s, prev) => {
      const busy = s.modelStatus === 'loading' || s.generating;
      const wasBusy = prev.modelStatus === 'loading' || prev.generating;
      if (busy && !wasBusy) {
        clearTimeout(timer);
        timer = setTimeout(() => void tick(), BUSY_MS);
      }
    });
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      unsubscribe();
    };
  }, []);
}
