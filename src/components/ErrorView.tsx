import type { Ref } from 'react';
import type { UiError } from '../error-messages.ts';

/** One error in words: the cause as the title, what to do next, and the engine's detail. */
export function ErrorView({ error, onDismiss, ref }: { error: UiError; onDismiss?: () => void; ref?: Ref<HTMLElement> }) {
  return (
    <section ref={ref} className="banner banner-error" data-testid="error" data-code={error.code} role="alert">
      <div>
        <strong data-testid="error-title">{error.title}</strong>
        {error.nextSteps.length > 0 && (
          <ul data-testid="error-steps">
            {error.nextSteps.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        )}
        {error.detail && <p className="detail">Detail: {error.detail}</p>}
      </div>
      {onDismiss && (
        <button type="button" className="secondary small" onClick={onDismiss} aria-label="Dismiss the error">
          Dismiss
        </button>
      )}
    </section>
  );
}
