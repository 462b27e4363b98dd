import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatCount } from '../format.ts';
import { CATEGORY_COLORS, MEMORY_CATEGORIES } from '../memory-series.ts';
import { requestKey } from '../store/model-slice.ts';
import { buildLoadRequest } from '../store/settings-slice.ts';
import { useStore } from '../store/use-store.ts';

/** The pre-flight estimate (from headers and config only): GPU bytes by category, and whether it fits. */
export function PlanView() {
  const { plan, planKey, planning, estimate, busy } = useStore(
    useShallow((s) => ({
      plan: s.plan,
      planKey: s.planKey,
      planning: s.planning,
      estimate: s.estimate,
      busy: s.modelStatus === 'loading' || s.modelStatus === 'cancelling' || s.gpuStatus !== 'ready',
    })),
  );
  const currentKey = useStore((s) => {
    const b = buildLoadRequest(s);
    return b.ok ? requestKey(b.req) : null;
  });
  const stale = plan !== null && planKey !== currentKey;
  // Once estimated, a change of strategy, context or budget re-estimates by itself (headers are cached by the
  // browser); a change of model waits for the button, so typing a URL does not fire requests.
  const sameModel = !!planKey && !!currentKey && JSON.parse(planKey).model === JSON.parse(currentKey).model;
  useEffect(() => {
    if (!stale || !sameModel || planning || busy) return;
    const t = setTimeout(() => void estimate(), 500);
    return () => clearTimeout(t);
  }, [stale, sameModel, planning, busy, estimate, currentKey]);
  const categories = plan ? MEMORY_CATEGORIES.filter((c) => plan.bytes[c] > 0) : [];

  return (
    <section className="plan" aria-label="Pre-flight estimate" data-testid="plan">
      <div className="plan-head">
        <button type="button" className="secondary" data-testid="estimate-button" onClick={() => void estimate()} disabled={planning || busy}>
          {planning ? 'Estimating…' : 'Estimate memory'}
        </button>
        <span className="hint">Reads only headers and config.json: nothing is downloaded.</span>
      </div>
      {plan && (
        <div className={`plan-body${stale ? ' stale' : ''}`}>
          <p className={plan.fits ? 'fits' : 'no-fit'} data-testid="plan-verdict" role="status">
            {plan.fits ? '✓ Fits' : '✗ Will not fit'}: {formatBytes(plan.totalBytes)} of GPU memory for {plan.architecture},{' '}
            {formatCount(plan.parameters)} parameters, context {plan.contextLength}.
            {stale && ' (settings changed since: estimate again)'}
          </p>
          {!plan.fits && plan.reasons.length > 0 && (
            <ul className="reasons" data-testid="plan-reasons">
              {plan.reasons.map((r) => (
                <li key={r}>because {r}</li>
              ))}
            </ul>
          )}
          {plan.notes.length > 0 && (
            <ul className="notes" data-testid="plan-notes">
              {plan.notes.map((n) => (
                <li key={n}>{n}</li>
              ))}
            </ul>
          )}
          <div className="plan-bar" aria-hidden="true">
            {categories.map((c) => (
              <span key={c} style={{ flexGrow: plan.bytes[c], background: CATEGORY_COLORS[c] }} />
            ))}
          </div>
          <dl className="plan-bytes">
            {categories.map((c) => (
              <div key={c}>
                <dt>
                  <i style={{ background: CATEGORY_COLORS[c] }} /> {c}
                </dt>
                <dd>{formatBytes(plan.bytes[c])}</dd>
              </div>
            ))}
            <div>
              <dt>largest tensor</dt>
              <dd title={plan.largestTensor.name}>{formatBytes(plan.largestTensor.bytes)}</dd>
            </div>
          </dl>
        </div>
      )}
    </section>
  );
}
