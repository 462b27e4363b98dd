import { useEffect, useRef, type RefObject } from 'react';

/** Whether keyboard focus has nowhere sensible to be: on the page itself, or on a control just disabled. */
function focusLost(): boolean {
  const el = document.activeElement as (HTMLElement & { disabled?: boolean }) | null;
  return !el || el === document.body || el.disabled === true;
}

/**
 * Keeps keyboard focus on a sensible control across a busy phase that disables the control pressed: when `busy`
 * begins, focus moves to `during` (Cancel, Stop); when it ends, to `after` (Load, Generate) — only when focus would
 * otherwise be lost to the page, never taken from where the person moved it.
 */
export function useFocusHandoff(busy: boolean, during: RefObject<HTMLElement | null>, after: RefObject<HTMLElement | null>): void {
  const was = useRef(busy);
  useEffect(() => {
    if (was.current === busy) return;
    was.current = busy;
    // after this render's commit: the buttons' disabled states are current
    if (focusLost()) (busy ? during : after).current?.focus();
  }, [busy, during, after]);
}
