import { useShallow } from 'zustand/react/shallow';
import { DEFAULT_SAMPLING } from '../store/settings-slice.ts';
import { useStore } from '../store/use-store.ts';
import { NumberField } from './NumberField.tsx';

/** Temperature (0 = greedy), top-k, top-p, seed and the token limit. */
export function SamplingControls() {
  const { sampling, setSampling, generating } = useStore(
    useShallow((s) => ({ sampling: s.sampling, setSampling: s.setSampling, generating: s.generating })),
  );
  const greedy = sampling.temperature === 0;
  return (
    <fieldset className="sampling" disabled={generating}>
      <legend>Sampling</legend>
      <div className="field-row">
        <NumberField
          label="Temperature"
          value={sampling.temperature}
          onChange={(v) => setSampling({ temperature: v ?? 0 })}
          min={0}
          max={2}
          step={0.1}
          testId="temperature"
          hint={greedy ? 'greedy (argmax)' : undefined}
        />
        <NumberField label="Top-k" value={sampling.topK} onChange={(v) => setSampling({ topK: v ?? 0 })} min={0} max={100000} step={1} integer testId="top-k" disabled={greedy} />
        <NumberField label="Top-p" value={sampling.topP} onChange={(v) => setSampling({ topP: v ?? 1 })} min={0} max={1} step={0.05} testId="top-p" disabled={greedy} />
        <NumberField label="Seed" value={sampling.seed} onChange={(v) => setSampling({ seed: v ?? 0 })} min={0} max={2 ** 32 - 1} step={1} integer testId="seed" disabled={greedy} />
        <NumberField label="Max tokens" value={sampling.maxTokens} onChange={(v) => setSampling({ maxTokens: v ?? DEFAULT_SAMPLING.maxTokens })} min={1} max={8192} step={1} integer testId="max-tokens" />
      </div>
    </fieldset>
  );
}
