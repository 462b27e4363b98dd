import { useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/use-store.ts';

/** A Hugging Face access token (gated or private models) and a revision, for hub models. */
export function HubAccess() {
  const id = useId();
  const { token, setToken, remember, setRemember, revision, setRevision, busy } = useStore(
    useShallow((s) => ({
      token: s.hubToken,
      setToken: s.setHubToken,
      remember: s.rememberHubToken,
      setRemember: s.setRememberHubToken,
      revision: s.revision,
      setRevision: s.setRevision,
      busy: s.modelStatus === 'loading' || s.modelStatus === 'cancelling',
    })),
  );
  return (
    <fieldset className="hub-access" disabled={busy}>
      <legend>Hugging Face hub</legend>
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-token`}>Access token</label>
          <input
            id={`${id}-token`}
            data-testid="hub-token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            placeholder="hf_… (gated or private models)"
            value={token}
            aria-describedby={`${id}-token-hint`}
            onChange={(e) => setToken(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-revision`}>Revision</label>
          <input
            id={`${id}-revision`}
            data-testid="revision"
            type="text"
            autoComplete="off"
            spellCheck={false}
            placeholder="main"
            value={revision}
            onChange={(e) => setRevision(e.target.value)}
          />
        </div>
      </div>
      <label className="toggle">
        <input type="checkbox" data-testid="remember-hub-token" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
        Remember the token in this browser (local storage)
      </label>
      <p id={`${id}-token-hint`} className="hint">
        Sent only to huggingface.co. {remember ? 'Kept in this browser until you untick the box.' : 'Kept in this page’s memory only: gone when you close it.'}
      </p>
    </fieldset>
  );
}
