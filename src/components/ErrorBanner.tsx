import { useEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/use-store.ts';

/** The current error in words, with what to do next; or a short notice. */
export function ErrorBanner() {
  const { error, notice, dismiss } = useStore(useShallow((s) => ({ error: s.error, notice: s.notice, dismiss: s.dismissError })));
  const ref = useRef<HTMLElement>(null);
  // a new error or notice may appear far from the button that caused it: bring it into view
  useEffect(() => {
    if (error || notice) ref.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [error, notice]);
  if (error) {
    return (
      <section ref={ref} className="banner banner-error" data-testid="error" data-code={error.code} role="alert">
        <div>
          <strong>{error.title}</strong>
          {error.nextSteps.length > 0 && (
            <ul>
              {error.nextSteps.map((s) => (
                <li key={s}>{s}</li>
              ))}
            </ul>
          )}
          {error.detail && <p className="detail">Detail: {error.detail}</p>}
        </div>
        <button type="button" className="secondary small" onClick={dismiss} aria-label="Dismiss the error">
          Dismiss
        </button>
      </section>
    );
  }
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
