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
  /** The request the loaded model was loaded with (null: none loaded). */
  loadedRequest: LoadRequest | null;
  /** The error shown to the person (data-testid error), or null. */
  error: UiError | null;
  /** A short, non-error note ("Loading cancelled."). */
  notice: string | null;
  estimate: () => Promise<void>;
  /** Loads what the settings describe. */
  load: () => Promise<void>;
  /** Loads `req` (a model loaded before, again). */
  loadRequest: (req: LoadRequest) => Promise<void>;
  cancelLoad: () => void;
  unload: () => Promise<void>;
  dismissError: () => void;
}

export function requestKey(req: LoadRequest): string {
  return JSON.stringify(req);
}

/**
 * The settings' load request, with the hub revision when one is given: the revision is part of what is loaded (a model
 * lost is loaded again at it), the hub token is not (it is never part of a request kept or compared).
 */
function settingsRequest(s: AppState): ReturnType<typeof buildLoadRequest> {
  const built = buildLoadRequest(s);
  if (built.ok && s.revision.trim()) built.req.revision = s.revision.trim();
  return built;
}

/** The library's load options for a request, with the hub token (the token is never part of a key). */
function loadOptions(req: LoadRequest, s: AppState): LoadOptions {
  const o: LoadOptions = { strategy: req.strategy };
  if (req.contextLength !== undefined) o.contextLength = req.contextLength;
  if (req.vramBudgetBytes !== undefined) o.vramBudgetBytes = req.vramBudgetBytes;
  if (req.int8Threshold !== undefined) o.threshold = req.int8Threshold;
  if (req.int8LmHead) o.int8LmHead = true;
  if (req.cache === 'off') o.cache = false;
  if (s.hubToken.trim()) o.hfToken = s.hubToken.trim();
  if (req.revision) o.revision = req.revision;
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
      loadedRequest: null,
      error: null,
      notice: null,

      estimate: async () => {
        const built = settingsRequest(get());
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
        const built = settingsRequest(get());
        if (!built.ok) {
          set({ error: inputError(built.reason) });
          return;
        }
        await get().loadRequest(built.req);
      },

      loadRequest: async (req) => {
        const s = get();
        if (s.modelStatus === 'loading' || s.modelStatus === 'cancelling' || s.generating) return;
        const engine = deps.engine();
        const epoch = s.engineEpoch;
        const current = () => get().engineEpoch === epoch;
        // The engine keeps the model loaded now until the new one is about to allocate: a load that fails before
        // (a missing file, a bad config, a plan that does not fit) leaves it loaded, and it is shown again below.
        set({ error: null, notice: null, progress: null, modelStatus: 'loading', reloadable: null, loadStartedAt: deps.now() });
        // Progress may arrive faster than frames: keep the latest and render it once per frame.
        let latest: LoadProgress | null = null;
        let scheduled = false;
        const onProgress = (p: LoadProgress) => {
          latest = p;
          if (scheduled) return;
          scheduled = true;
          deps.schedule(() => {
            scheduled = false;
            if (current() && (get().modelStatus === 'loading' || get().modelStatus === 'cancelling')) set({ progress: latest });
          });
        };
        const abort = new AbortController();
        loading = abort;
        try {
          const report = await engine.load(req.model, { ...loadOptions(req, get()), onProgress, signal: abort.signal });
          const info = await engine.modelInfo();
          if (!current()) return;
          // The device may have been lost since it was connected, and the library acquired a new one for this load.
          await get().adoptGpu();
          if (!current()) return;
          get().addRun(req, report);
          // A new model: a new conversation.
          get().newChat();
          set({
            modelStatus: info ? 'loaded' : 'empty',
            lastReport: report,
            modelInfo: info,
            loadedRequest: info ? req : null,
            progress: latest,
          });
        } catch (e) {
          if (!current()) return;
          // what the engine still holds: the model loaded before, when the load failed before replacing it
          const kept = await engine.modelInfo().catch(() => null);
          if (!current()) return;
          const still = kept ? { modelStatus: 'loaded' as const, modelInfo: kept } : { modelStatus: 'empty' as const, modelInfo: null, loadedRequest: null };
          if (isCancel(e)) {
            set({ ...still, progress: null, notice: kept ? `Loading cancelled. ${kept.model} is still loaded.` : 'Loading cancelled. GPU memory was released.' });
          } else {
            const err = describeError(e, 'load');
            if (kept) err.nextSteps = [...err.nextSteps, `${kept.model}, loaded before, is still loaded.`];
            set({ ...still, progress: null, error: err });
          }
        } finally {
          if (loading === abort) loading = null;
          if (current()) {
            set({ loadStartedAt: null });
            void get().pollMemory();
            void get().refreshCache();
          }
        }
      },

      cancelLoad: () => {
        if (get().modelStatus !== 'loading') return;
        set({ modelStatus: 'cancelling' });
        loading?.abort();
        get().watchStop(() => get().modelStatus === 'cancelling');
      },

      unload: async () => {
        if (get().modelStatus !== 'loaded' || get().generating) return;
        const epoch = get().engineEpoch;
        let done = false;
        get().watchStop(() => !done);
        try {
          await deps.engine().unload();
          if (get().engineEpoch !== epoch) return;
          set({ modelStatus: 'empty', modelInfo: null, loadedRequest: null, notice: 'Model unloaded.' });
        } catch (e) {
          if (get().engineEpoch === epoch) set({ error: describeError(e, 'load') });
        } finally {
          done = true;
        }
        void get().pollMemory();
      },

      dismissError: () => set({ error: null, notice: null }),
    };
  };
