// The model: its pre-flight plan, the load in progress (progress, cancel), the loaded model's info, and errors.
import type { LoadOptions } from 'webgpu-llm';
import type { StateCreator } from 'zustand';
import type { LoadProgress, LoadReport, LoadRequest, ModelInfo, PlanReport } from '../../workers/api.ts';
import { isCancel } from '../../workers/errors.ts';
import { describeError, inputError, type UiError } from '../error-messages.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';
import { buildLoadRequest } from './settings-slice.ts';

export type ModelStatus = 'empty' | 'loading' | 'cancelling' | 'loaded';

export interface ModelSlice {
  modelStatus: ModelStatus;
  plan: PlanReport | null;
  /** The request the plan was made for (JSON), so a stale plan can be told apart. */
  planKey: string | null;
  planning: boolean;
  progress: LoadProgress | null;
  loadStartedAt: number | null;
  lastReport: LoadReport | null;
  modelInfo: ModelInfo | null;
  /** The error shown to the person (data-testid error), or null. */
  error: UiError | null;
  /** A short, non-error note ("Loading cancelled."). */
  notice: string | null;
  estimate: () => Promise<void>;
  load: () => Promise<void>;
  cancelLoad: () => void;
  unload: () => Promise<void>;
  dismissError: () => void;
}

export function requestKey(req: LoadRequest): string {
  return JSON.stringify(req);
}

/** The library's load options for a request, with the hub token and revision (the token is never part of a key). */
function loadOptions(req: LoadRequest, s: AppState): LoadOptions {
  const o: LoadOptions = { strategy: req.strategy };
  if (req.contextLength !== undefined) o.contextLength = req.contextLength;
  if (req.vramBudgetBytes !== undefined) o.vramBudgetBytes = req.vramBudgetBytes;
  if (req.int8Threshold !== undefined) o.threshold = req.int8Threshold;
  if (req.int8LmHead) o.int8LmHead = true;
  if (req.cache === 'off') o.cache = false;
  if (s.hubToken.trim()) o.hfToken = s.hubToken.trim();
  if (s.revision.trim()) o.revision = s.revision.trim();
  return o;
}

export const createModelSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], ModelSlice> =>
  (set, get) => {
    /** The load in flight, cancelled by cancelLoad(). */
    let loading: AbortController | null = null;
    return {
      modelStatus: 'empty',
      plan: null,
      planKey: null,
      planning: false,
      progress: null,
      loadStartedAt: null,
      lastReport: null,
      modelInfo: null,
      error: null,
      notice: null,

      estimate: async () => {
        const built = buildLoadRequest(get());
        if (!built.ok) {
          set({ error: inputError(built.reason), plan: null, planKey: null });
          return;
        }
        const key = requestKey(built.req);
        set({ planning: true, error: null, notice: null });
        try {
          const plan = await deps.engine().plan(built.req.model, loadOptions(built.req, get()));
          set({ plan, planKey: key });
        } catch (e) {
          set({ error: describeError(e, 'plan'), plan: null, planKey: null });
        } finally {
          set({ planning: false });
        }
      },

      load: async () => {
        const s = get();
        if (s.modelStatus === 'loading' || s.modelStatus === 'cancelling' || s.generating) return;
        const built = buildLoadRequest(s);
        if (!built.ok) {
          set({ error: inputError(built.reason) });
          return;
        }
        const engine = deps.engine();
        set({ error: null, notice: null, progress: null, modelStatus: 'loading', modelInfo: null, loadStartedAt: deps.now() });
        if (s.modelStatus === 'loaded') {
          try {
            await engine.unload();
          } catch {
            // a failed unload leaves nothing we can use; the load below reports its own errors
          }
        }
        // Progress may arrive faster than frames: keep the latest and render it once per frame.
        let latest: LoadProgress | null = null;
        let scheduled = false;
        const onProgress = (p: LoadProgress) => {
          latest = p;
          if (scheduled) return;
          scheduled = true;
          deps.schedule(() => {
            scheduled = false;
            if (get().modelStatus === 'loading' || get().modelStatus === 'cancelling') set({ progress: latest });
          });
        };
        const abort = new AbortController();
        loading = abort;
        try {
          const report = await engine.load(built.req.model, { ...loadOptions(built.req, get()), onProgress, signal: abort.signal });
          const info = await engine.modelInfo();
          get().addRun(built.req, report);
          // A new model: a new conversation.
          get().newChat();
          set({ modelStatus: 'loaded', lastReport: report, modelInfo: info, progress: latest });
        } catch (e) {
          if (isCancel(e)) set({ modelStatus: 'empty', progress: null, notice: 'Loading cancelled. GPU memory was released.' });
          else set({ modelStatus: 'empty', progress: null, error: describeError(e, 'load') });
        } finally {
          if (loading === abort) loading = null;
          set({ loadStartedAt: null });
          void get().pollMemory();
          void get().refreshCache();
        }
      },

      cancelLoad: () => {
        if (get().modelStatus !== 'loading') return;
        set({ modelStatus: 'cancelling' });
        loading?.abort();
      },

      unload: async () => {
        if (get().modelStatus !== 'loaded' || get().generating) return;
        try {
          await deps.engine().unload();
          set({ modelStatus: 'empty', modelInfo: null, notice: 'Model unloaded.' });
        } catch (e) {
          set({ error: describeError(e, 'load') });
        }
        void get().pollMemory();
      },

      dismissError: () => set({ error: null, notice: null }),
    };
  };
