import { useShallow } from 'zustand/react/shallow';
import { TokenRateChart } from '../charts/TokenRateChart.tsx';
import { formatMs, formatRate } from '../format.ts';
import { useStore } from '../store/use-store.ts';

const STOP_REASON = {
  eos: 'end of sequence',
  'stop-string': 'stop string',
  'max-tokens': 'token limit',
  cancelled: 'stopped',
  'context-full': 'context full',
} as const;

/**
 * Time to first token, prefill and decode speed of the last generation (live token count while it runs), beside a
 * small chart of decode speed over the answer's tokens.
 */
export function StatsView() {
  const { stats, generating, tokens } = useStore(useShallow((s) => ({ stats: s.stats, generating: s.generating, tokens: s.tokensSoFar })));
  if (!stats && !generating) return null;
  return (
    <div className="gen-stats">
      <dl className="stats" data-testid="stats" aria-live="polite">
        {stats ? (
          <>
            <div>
              <dt>Time to first token</dt>
              <dd data-testid="stat-ttft">{formatMs(stats.ttftMs)}</dd>
            </div>
            <div>
              <dt>Prefill</dt>
              <dd data-testid="stat-prefill">{formatRate(stats.prefillTokPerS, 'tok/s')}</dd>
            </div>
            <div>
              <dt>Decode</dt>
              <dd data-testid="stat-decode">{formatRate(stats.decodeTokPerS, 'tok/s')}</dd>
            </div>
            <div>
              <dt>Tokens in / out</dt>
              <dd>
                {stats.promptTokens} / {stats.generatedTokens}
              </dd>
            </div>
            <div title="Prompt tokens whose KV cache was kept from the turn before: not prefilled again">
              <dt>Reused from the last turn</dt>
              <dd data-testid="stat-reused" data-tokens={stats.reusedTokens}>
                {stats.reusedTokens} {stats.reusedTokens === 1 ? 'token' : 'tokens'}
              </dd>
            </div>
            <div>
              <dt>Stopped by</dt>
              <dd data-testid="stat-stop">{STOP_REASON[stats.stopReason]}</dd>
            </div>
          </>
        ) : (
          <div>
            <dt>Generating</dt>
            <dd>{tokens} tokens so far</dd>
          </div>
        )}
      </dl>
      <TokenRateChart />
    </div>
  );
}
