// Access to the Hugging Face hub: an access token for gated or private models, and a revision. The token lives in
// the page's memory; only when the person ticks "remember" is it kept in this browser's local storage (and removed
// from it when they untick it). The engine sends it to https://huggingface.co alone.
import type { StateCreator } from 'zustand';
import type { AppState } from './app-state.ts';
import type { StoreDeps } from './deps.ts';

export const HUB_TOKEN_KEY = 'webgpu-llm.hub-token';

export interface HubSlice {
  hubToken: string;
  /** The token is kept in local storage (else in the page's memory only). */
  rememberHubToken: boolean;
  /** Branch, tag or commit of a hub model ('' = main). */
  revision: string;
  setHubToken: (v: string) => void;
  setRememberHubToken: (v: boolean) => void;
  setRevision: (v: string) => void;
}

export const createHubSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], HubSlice> =>
  (set, get) => {
    const storage = deps.storage ?? null;
    let stored: string | null = null;
    try {
      const v = storage?.getItem(HUB_TOKEN_KEY);
      stored = typeof v === 'string' ? v : null;
    } catch {
      // storage refused (private mode, blocked): the token stays in memory
    }
    const keep = (token: string) => {
      try {
        if (token) void storage?.setItem(HUB_TOKEN_KEY, token);
        else void storage?.removeItem(HUB_TOKEN_KEY);
      } catch {
        // as above
      }
    };
    return {
      hubToken: stored ?? '',
      rememberHubToken: stored !== null,
      revision: '',
      setHubToken: (hubToken) => {
        set({ hubToken });
        if (get().rememberHubToken) keep(hubToken);
      },
      setRememberHubToken: (rememberHubToken) => {
        set({ rememberHubToken });
        keep(rememberHubToken ? get().hubToken : '');
      },
      setRevision: (revision) => set({ revision }),
    };
  };
