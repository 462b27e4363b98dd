import { useId, useState } from 'react';
import { LOAD_STRATEGIES, type LoadStrategy } from '../../workers/api.ts';
import { checkModelSource, MODEL_PRESETS } from '../model-source.ts';
import { useStore } from '../store/use-store.ts';
import { NumberField } from './NumberField.tsx';

const STRATEGY_NOTES: Record<LoadStrategy, string> = {
  naive: 'Whole files, f32 on the GPU, converted after (baseline)',
  fp16: 'Whole files, allocated directly in fp16',
  streamed: 'Per-tensor range requests straight into fp16 buffers',
  'streamed-int8': 'Streamed, linear layers quantized to int8 while loading',
};

/** Where the model comes from and how to load it. */
export function ModelPicker() {
  const id = useId();
  const modelUrl = useStore((s) => s.modelUrl);
  const setModelUrl = useStore((s) => s.setModelUrl);
  const strategy = useStore((s) => s.strategy);
  const setStrategy = useStore((s) => s.setStrategy);
  const int8Threshold = useStore((s) => s.int8Threshold);
  const setInt8Threshold = useStore((s) => s.setInt8Threshold);
  const int8LmHead = useStore((s) => s.int8LmHead);
  const setInt8LmHead = useStore((s) => s.setInt8LmHead);
  const contextLength = useStore((s) => s.contextLength);
  const setContextLength = useStore((s) => s.setContextLength);
  const vramBudgetMiB = useStore((s) => s.vramBudgetMiB);
  const setVramBudgetMiB = useStore((s) => s.setVramBudgetMiB);
  const useCache = useStore((s) => s.useCache);
  const setUseCache = useStore((s) => s.setUseCache);
  const busy = useStore((s) => s.modelStatus === 'loading' || s.modelStatus === 'cancelling');
  const [touched, setTouched] = useState(false);

  const check = checkModelSource(modelUrl);
  const showError = touched && !check.ok;
  const preset = MODEL_PRESETS.find((p) => p.value === modelUrl.trim());

  return (
    <fieldset className="model-picker" disabled={busy}>
      <legend>Source and strategy</legend>
      <div className="field wide">
        <label htmlFor={`${id}-preset`}>Preset</label>
        <select
          id={`${id}-preset`}
          data-testid="model-preset"
          value={preset?.value ?? ''}
          onChange={(e) => {
            if (e.target.value) {
              setModelUrl(e.target.value);
              setTouched(true);
            }
          }}
        >
          <option value="">Custom URL or repo id…</option>
          {MODEL_PRESETS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field wide">
        <label htmlFor={`${id}-url`}>Model URL or Hugging Face repo id</label>
        <input
          id={`${id}-url`}
          data-testid="model-url"
          type="text"
          spellCheck={false}
          autoComplete="off"
          placeholder="models/kjv-llama/ · org/name · https://…"
          value={modelUrl}
          aria-invalid={showError || undefined}
          aria-describedby={`${id}-url-hint`}
          onChange={(e) => setModelUrl(e.target.value)}
          onBlur={() => setTouched(true)}
        />
        {showError ? (
          <small id={`${id}-url-hint`} className="field-error" data-testid="model-url-error" role="alert">
            {check.reason}
          </small>
        ) : (
          <small id={`${id}-url-hint`} className="hint">
            {preset ? preset.note : check.ok ? `Recognized as a ${check.kind === 'hub' ? 'Hugging Face repo id' : check.kind === 'url' ? 'URL' : 'same-origin folder'}.` : 'A folder path ending in "/", an https:// URL, or org/name.'}
          </small>
        )}
      </div>
      <div className="field wide">
        <label htmlFor={`${id}-strategy`}>Load strategy</label>
        <select id={`${id}-strategy`} data-testid="strategy" value={strategy} onChange={(e) => setStrategy(e.target.value as LoadStrategy)} aria-describedby={`${id}-strategy-hint`}>
          {LOAD_STRATEGIES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <small id={`${id}-strategy-hint`} className="hint">
          {STRATEGY_NOTES[strategy]}
        </small>
      </div>
      <label className="toggle" title="streamed and streamed-int8 only; naive and fp16 always download whole files">
        <input type="checkbox" data-testid="use-cache" checked={useCache} onChange={(e) => setUseCache(e.target.checked)} />
        Keep downloaded weights in this browser (use the cache)
        {(strategy === 'naive' || strategy === 'fp16') && <span className="hint">(not for {strategy})</span>}
      </label>
      <div className="field-row">
        <NumberField label="Context length" value={contextLength} onChange={setContextLength} min={16} max={131072} step={256} integer emptyPlaceholder="model default" testId="context-length" />
        <NumberField label="VRAM budget (MiB)" value={vramBudgetMiB} onChange={setVramBudgetMiB} min={1} step={256} emptyPlaceholder="no limit" testId="vram-budget" />
        <NumberField
          label="int8 outlier threshold"
          value={int8Threshold}
          onChange={(v) => setInt8Threshold(v ?? 6)}
          min={0}
          max={1000}
          step={0.5}
          testId="int8-threshold"
          disabled={strategy !== 'streamed-int8'}
          hint={strategy === 'streamed-int8' ? '0 turns outliers off' : 'streamed-int8 only'}
        />
      </div>
      <label className="toggle" title="LLM.int8 for the output layer too (about half its bytes); not for tied embeddings, where lm_head is the fp16 embedding table">
        <input
          type="checkbox"
          data-testid="int8-lm-head"
          checked={int8LmHead}
          disabled={strategy !== 'streamed-int8'}
          onChange={(e) => setInt8LmHead(e.target.checked)}
        />
        Quantize lm_head to int8 too
        <span className="hint">{strategy === 'streamed-int8' ? '(default fp16; ignored for tied embeddings)' : '(streamed-int8 only)'}</span>
      </label>
    </fieldset>
  );
}
