// Generation: the streamed output (appended in batches, once per frame), the stop button, and the final stats.
import type { StateCreator } from 'zustand';
import type { GenerateOptions, GenerateStats, TokenEvent } from '../../workers/api.ts';
import { isCancel } from '../../workers/errors.ts';
import { describeError } from '../error-messages.ts';
import { createTokenBatcher } from '../token-batcher.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';

export interface GenerationSlice {
  generating: boolean;
  output: string;
  /** The prompt the output continues (shown above it). */
  outputPrompt: string;
  tokensSoFar: number;
  /** When each token of the answer reached the page (ms, deps.now()), appended once per frame: the tokens/s chart. */
  tokenTimes: number[];
  genStartedAt: number | null;
  firstTokenAt: number | null;
  stats: GenerateStats | null;
  generate: () => Promise<void>;
  stopGeneration: () => void;
  clearOutput: () => void;
}

export const createGenerationSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], GenerationSlice> =>
  (set, get) => ({
    generating: false,
    output: '',
    outputPrompt: '',
    tokensSoFar: 0,
    tokenTimes: [],
    genStartedAt: null,
    firstTokenAt: null,
    stats: null,

    generate: async () => {
      const s = get();
      if (s.generating || s.modelStatus !== 'loaded') return;
      if (!s.prompt.trim()) {
        set({ error: { code: 'bad-input', context: 'generate', title: 'The prompt is empty', detail: '', nextSteps: ['Type a prompt, then press Generate.'] } });
        return;
      }
      const opts: GenerateOptions = {
        ...s.sampling,
        stop: [],
        chat: s.chat && !!s.modelInfo?.hasChatTemplate,
      };
      set({ generating: true, output: '', outputPrompt: s.prompt, tokensSoFar: 0, tokenTimes: [], stats: null, error: null, notice: null, genStartedAt: deps.now(), firstTokenAt: null });
      const batcher = createTokenBatcher((text, n, times) => {
        set((st) => ({
          output: st.output + text,
          tokensSoFar: st.tokensSoFar + n,
          tokenTimes: st.tokenTimes.concat(times),
          firstTokenAt: st.firstTokenAt ?? times[0] ?? deps.now(),
        }));
      }, deps.schedule);
      const epoch = s.engineEpoch;
      const onToken = deps.proxy((e: TokenEvent) => {
        if (get().engineEpoch === epoch) batcher.push(e.text, deps.now());
      });
      try {
        const stats = await deps.engine().generate(s.prompt, opts, onToken);
        if (get().engineEpoch !== epoch) return;
        batcher.flush();
        set({ stats });
      } catch (e) {
        if (get().engineEpoch !== epoch) return;
        batcher.flush();
        if (!isCancel(e)) set({ error: describeError(e, 'generate') });
      } finally {
        if (get().engineEpoch === epoch) {
          set({ generating: false, genStartedAt: null });
          void get().pollMemory();
        }
      }
    },

    stopGeneration: () => {
      if (!get().generating) return;
      void deps.engine().stopGeneration();
      get().watchStop(() => get().generating);
    },

    clearOutput: () => set({ output: '', outputPrompt: '', stats: null, tokensSoFar: 0, tokenTimes: [] }),
  });
