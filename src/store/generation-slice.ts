// The chat: the conversation (system prompt, user and assistant turns), the reply streaming in (appended in batches,
// once per frame) through the library's chat.completions stream, Stop, "new chat", the last reply's stats (with the
// prompt tokens whose KV cache the engine kept from the turn before), and a conversation that outgrew the context,
// with the offer to drop its oldest turns.
import { trimOldestTurns, type ChatCompletionChunk, type ChatMessage, type CompletionUsage } from 'webgpu-llm';
import type { StateCreator } from 'zustand';
import type { GenerateStats } from '../../workers/api.ts';
import { EngineError } from '../../workers/errors.ts';
import { describeError } from '../error-messages.ts';
import { createTokenBatcher } from '../token-batcher.ts';
import type { StoreDeps } from './deps.ts';
import type { AppState } from './app-state.ts';

/** A conversation past the context: its size, and how many of its oldest turns to drop (null: dropping cannot help). */
export interface Overflow {
  promptTokens: number;
  contextLength: number;
  trimTurns: number | null;
}

export interface GenerationSlice {
  systemPrompt: string;
  /** The conversation: user and assistant turns (the system prompt goes in front of them when sent). */
  messages: ChatMessage[];
  generating: boolean;
  /** The reply streaming in (it joins `messages` when it ends). */
  output: string;
  tokensSoFar: number;
  /** When each piece of the reply reached the page (ms, deps.now()), appended once per frame: the tokens/s chart. */
  tokenTimes: number[];
  genStartedAt: number | null;
  firstTokenAt: number | null;
  stats: GenerateStats | null;
  overflow: Overflow | null;
  setSystemPrompt: (v: string) => void;
  /** Sends the typed message as the next user turn and streams the reply. */
  generate: () => Promise<void>;
  stopGeneration: () => void;
  newChat: () => void;
  /** Drops the oldest turns that the overflow names, then answers the last user turn again. */
  trimAndRetry: () => Promise<void>;
}

/** The engine's stats, back from the usage of the stream's last chunk. */
export function statsFromUsage(u: CompletionUsage): GenerateStats {
  return {
    promptTokens: u.prompt_tokens,
    reusedTokens: u.prompt_tokens_details.cached_tokens,
    generatedTokens: u.completion_tokens,
    ttftMs: u.extra.ttft_ms,
    prefillTokPerS: u.extra.prefill_tokens_per_s,
    decodeTokPerS: u.extra.decode_tokens_per_s,
    stopReason: u.extra.stop_reason,
    sampling: u.extra.sampling,
  };
}

/** What the end of a generation resets. */
const ENDED = { generating: false, genStartedAt: null } as const;

export const createGenerationSlice =
  (deps: StoreDeps): StateCreator<AppState, [], [], GenerationSlice> =>
  (set, get) => {
    let running: AbortController | null = null;
    /** Counts "new chat"s: a reply that ends after one belongs to a conversation that is gone. */
    let conversationId = 0;

    /** Streams the reply to the conversation as it stands (its last message is the user's). */
    const reply = async (): Promise<void> => {
      const s = get();
      const conversation: ChatMessage[] = [...(s.systemPrompt.trim() ? [{ role: 'system', content: s.systemPrompt }] : []), ...s.messages];
      const abort = new AbortController();
      running = abort;
      const mine = conversationId;
      // A restarted engine (engine-slice.ts) ends this reply: what its old engine still answers is dropped.
      const epoch = s.engineEpoch;
      const restarted = () => get().engineEpoch !== epoch;
      set({ generating: true, output: '', tokensSoFar: 0, tokenTimes: [], stats: null, error: null, notice: null, overflow: null, genStartedAt: deps.now(), firstTokenAt: null });
      const batcher = createTokenBatcher((text, n, times) => {
        if (mine !== conversationId || restarted()) return; // a new chat began, or a new engine: no longer shown
        set((st) => ({
          output: st.output + text,
          tokensSoFar: st.tokensSoFar + n,
          tokenTimes: st.tokenTimes.concat(times),
          firstTokenAt: st.firstTokenAt ?? times[0] ?? deps.now(),
        }));
      }, deps.schedule);
      const sampling = s.sampling;
      try {
        const stream = await deps.engine().chat.completions.create({
          messages: conversation,
          stream: true,
          stream_options: { include_usage: true },
          max_tokens: sampling.maxTokens,
          temperature: sampling.temperature,
          top_k: sampling.topK,
          top_p: sampling.topP,
          repetition_penalty: sampling.repetitionPenalty,
          seed: sampling.seed,
          signal: abort.signal,
        });
        let last: ChatCompletionChunk | null = null;
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta.content;
          if (text) batcher.push(text, deps.now());
          last = chunk;
        }
        batcher.flush();
        if (restarted()) return keepPartialReply(mine);
        const stats = last?.usage ? statsFromUsage(last.usage) : null;
        // The reply, even a stopped one, is the assistant's turn: the next turn reuses the KV cache it left.
        // One update: the reply joins the conversation as the generation ends (no render between the two).
        if (mine === conversationId) set((st) => ({ messages: [...st.messages, { role: 'assistant', content: st.output }], output: '', stats, ...ENDED }));
        else set(ENDED);
      } catch (e) {
        batcher.flush();
        if (restarted()) return keepPartialReply(mine);
        if (mine !== conversationId) {
          // the conversation was left (new chat): nothing to say about it
          set(ENDED);
        } else if (e instanceof EngineError && e.code === 'context-full') {
          const d = e.details;
          set({
            ...ENDED,
            output: '',
            overflow: {
              promptTokens: Number(d.promptTokens),
              contextLength: Number(d.contextLength),
              trimTurns: typeof d.trimTurns === 'number' ? d.trimTurns : null,
            },
          });
        } else {
          // The turn did not happen: its message goes back to the input.
          set((st) => ({
            ...ENDED,
            error: describeError(e, 'generate'),
            output: '',
            messages: st.messages.slice(0, -1),
            prompt: st.messages.at(-1)?.content ?? st.prompt,
          }));
        }
      } finally {
        if (running === abort) running = null;
        if (!restarted()) {
          if (get().generating) set(ENDED);
          void get().pollMemory();
        }
      }
    };

    /**
     * A reply cut by an engine restart is the assistant's turn as far as it got, as a stopped one is (the restart
     * already ended the generation's state).
     */
    const keepPartialReply = (mine: number): void => {
      if (mine === conversationId) set((st) => ({ messages: [...st.messages, { role: 'assistant', content: st.output }], output: '' }));
    };

    return {
      systemPrompt: '',
      messages: [],
      generating: false,
      output: '',
      tokensSoFar: 0,
      tokenTimes: [],
      genStartedAt: null,
      firstTokenAt: null,
      stats: null,
      overflow: null,

      setSystemPrompt: (systemPrompt) => set({ systemPrompt }),

      generate: async () => {
        const s = get();
        if (s.generating || s.modelStatus !== 'loaded') return;
        if (!s.prompt.trim()) {
          set({ error: { code: 'bad-input', context: 'generate', title: 'The message is empty', detail: '', nextSteps: ['Type a message, then press Send.'] } });
          return;
        }
        set({ messages: [...s.messages, { role: 'user', content: s.prompt }], prompt: '' });
        await reply();
      },

      stopGeneration: () => {
        if (!get().generating) return;
        running?.abort();
        get().watchStop(() => get().generating);
      },

      newChat: () => {
        conversationId++;
        running?.abort();
        set({ messages: [], output: '', stats: null, overflow: null, tokensSoFar: 0, tokenTimes: [] });
      },

      trimAndRetry: async () => {
        const s = get();
        const n = s.overflow?.trimTurns;
        if (s.generating || !n) return;
        set({ messages: trimOldestTurns(s.messages, n), overflow: null });
        await reply();
      },
    };
  };
