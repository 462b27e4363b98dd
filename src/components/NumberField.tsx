import { useId, useState } from 'react';

interface Props {
  label: string;
  value: number | null;
  onChange: (v: number | null) => void;
  min?: number;
  max?: number;
  step?: number;
  /** When set, an empty field means null (shown as this placeholder). */
  emptyPlaceholder?: string;
  integer?: boolean;
  hint?: string;
  testId?: string;
  disabled?: boolean;
}

/** A labelled number input that keeps what is typed while it is incomplete and reports only valid numbers. */
export function NumberField({ label, value, onChange, min, max, step, emptyPlaceholder, integer, hint, testId, disabled }: Props) {
  const id = useId();
  const [text, setText] = useState(value == null ? '' : String(value));
  const [seen, setSeen] = useState(value);
  if (value !== seen) {
    // the store changed the value (a preset, a reset): show it
    setSeen(value);
    setText(value == null ? '' : String(value));
  }
  const parsed = text.trim() === '' ? null : Number(text);
  const invalid =
    (parsed === null && emptyPlaceholder === undefined) ||
    (parsed !== null &&
      (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) || (min !== undefined && parsed < min) || (max !== undefined && parsed > max)));
  const hintId = `${id}-hint`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode={integer ? 'numeric' : 'decimal'}
        value={text}
        min={min}
        max={max}
        step={step}
        placeholder={emptyPlaceholder}
        disabled={disabled}
        data-testid={testId}
        aria-invalid={invalid || undefined}
        aria-describedby={hint || invalid ? hintId : undefined}
        onChange={(e) => {
          const t = e.target.value;
          setText(t);
          const v = t.trim() === '' ? null : Number(t);
          if (v === null) {
            if (emptyPlaceholder !== undefined) {
              setSeen(null);
              onChange(null);
            }
            return;
          }
          const ok = Number.isFinite(v) && (!integer || Number.isInteger(v)) && (min === undefined || v >= min) && (max === undefined || v <= max);
          if (ok) {
            setSeen(v);
            onChange(v);
          }
        }}
      />
      {(hint || invalid) && (
        <small id={hintId} className={invalid ? 'field-error' : 'hint'}>
          {invalid ? `Enter ${integer ? 'a whole number' : 'a number'}${min !== undefined ? ` from ${min}` : ''}${max !== undefined ? ` to ${max}` : ''}.` : hint}
        </small>
      )}
    </div>
  );
}
