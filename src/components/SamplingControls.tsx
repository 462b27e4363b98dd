import { useShallow } from 'zustand/react/shallow';
import { DEFAULT_SAMPLING } from '../store/settings-slice.ts';
import { useStore } from '../store/use-store.ts';
import { NumberField } from './NumberField.tsx';

/**
 * Temperature (0 = greedy), top-k, top-p, repetition penalty, seed and the token limit. An empty field is the
 * model's own default (its generation_config.json), shown as the placeholder once a model is loaded.
 */
export function SamplingControls() {
  const { sampling, setSampling, generating, defaults } = useStore(
    useShallow((s) => ({ sampling: s.sampling, setSampling: s.setSampling, generating: s.generating, defaults: s.modelInfo?.generationDefaults ?? null })),
  );
  // an empty field shows the model's default (before a model is loaded: 'model')
  const modelDefault = (v: number | undefined) => (v === undefined ? 'model' : String(v));
  const temperature = sampling.temperature ?? defaults?.temperature ?? null;
  const greedy = temperature === 0;
  return (
    <fieldset className="sampling" disabled={generating}>
      <legend>Sampling</legend>
      <p className="hint">An empty field takes the model’s own default (its generation_config.json).</p>
      <div className="field-row">
        <NumberField
          label="Temperature"
          value={sampling.temperature}
          onChange={(v) => setSampling({ temperature: v })}
          min={0}
          max={2}
          step={0.1}
          emptyPlaceholder={modelDefault(defaults?.temperature)}
          testId="temperature"
          hint={greedy ? 'greedy (argmax)' : undefined}
        />
        <NumberField label="Top-k" value={sampling.topK} onChange={(v) => setSampling({ topK: v })} min={0} max={100000} step={1} integer emptyPlaceholder={modelDefault(defaults?.topK)} testId="top-k" disabled={greedy} />
        <NumberField label="Top-p" value={sampling.topP} onChange={(v) => setSampling({ topP: v })} min={0} max={1} step={0.05} emptyPlaceholder={modelDefault(defaults?.topP)} testId="top-p" disabled={greedy} />
        <NumberField
          label="Repetition penalty"
          value={sampling.repetitionPenalty}
          onChange={(v) => setSampling({ repetitionPenalty: v })}
          min={0.01}
          max={10}
          step={0.05}
          emptyPlaceholder={modelDefault(defaults?.repetitionPenalty)}
          testId="repetition-penalty"
        />
        <NumberField label="Seed" value={sampling.seed} onChange={(v) => setSampling({ seed: v })} min={0} max={2 ** 32 - 1} step={1} integer emptyPlaceholder="random" testId="seed" disabled={greedy} />
        <NumberField label="Max tokens" value={sampling.maxTokens} onChange={(v) => setSampling({ maxTokens: v ?? DEFAULT_SAMPLING.maxTokens })} min={1} max={8192} step={1} integer testId="max-tokens" />
      </div>
    </fieldset>
  );
}
