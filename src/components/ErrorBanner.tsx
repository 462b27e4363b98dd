import { useEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/use-store.ts';
import { ErrorView } from './ErrorView.tsx';

/** The current error in words, with what to do next; or a short notice. */
export function ErrorBanner() {
  const { error, notice, dismiss } = useStore(useShallow((s) => ({ error: s.error, notice: s.notice, dismiss: s.dismissError })));
  const ref = useRef<HTMLElement>(null);
  // a new error or notice may appear far from the button that caused it: bring it into view
  useEffect(() => {
    if (error || notice) ref.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [error, notice]);
  if (error) return <ErrorView ref={ref} error={error} onDismiss={dismiss} />;
  if (notice) {
    return (
      <section ref={ref} className="banner banner-notice" data-testid="notice" role="status">
        <span>{notice}</span>
        <button type="button" className="secondary small" onClick={dismiss} aria-label="Dismiss the notice">
          Dismiss
        </button>
      </section>
    );
  }
  return null;
}
