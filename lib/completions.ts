// OpenAI-shaped requests in, OpenAI-shaped answers out, over one generation call of the engine: the request's
// parameters become GenerateOptions (what it leaves out, the engine takes from the model's generation_config), token
// events become chunks, and the engine's stats become usage and finish_reason.
import type { ChatMessage, GenerateOptions, GenerateStats } from '../workers/api.ts';
import { EngineError } from '../workers/errors.ts';
import { AsyncQueue } from './async-queue.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  Completion,
  CompletionRequest,
  CompletionUsage,
  FinishReason,
  SamplingRequest,
} from './openai-types.ts';

/** One generation, as the engine client runs it (after the one before it has ended). */
export interface Generation {
  /**
   * Calls onText for each piece of text and resolves with the stats; the signal ends it early (stopReason
   * 'cancelled'), also while it waits for the one before it to finish.
   */
  run(input: string | readonly ChatMessage[], opts: GenerateOptions, onText: (text: string) => void, signal: AbortSignal | undefined): Promise<GenerateStats>;
  /** The loaded model's id: what `model` says in every answer. */
  model(): string;
}

const given = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** The request's sampling parameters as the engine's options (only those given: the rest are the model's). */
export function generateOptions(r: SamplingRequest): GenerateOptions {
  if (r.n != null && r.n !== 1) throw new EngineError('bad-input', 'n: only one choice per request is supported', { setting: 'n' });
  const opts: GenerateOptions = {};
  const maxTokens = given(r.max_tokens) ?? given(r.max_completion_tokens);
  if (maxTokens !== undefined) opts.maxTokens = maxTokens;
  if (given(r.temperature) !== undefined) opts.temperature = r.temperature!;
  if (given(r.top_p) !== undefined) opts.topP = r.top_p!;
  if (given(r.top_k) !== undefined) opts.topK = r.top_k!;
  if (given(r.repetition_penalty) !== undefined) opts.repetitionPenalty = r.repetition_penalty!;
  if (given(r.seed) !== undefined) opts.seed = r.seed!;
  const stop = given(r.stop);
  if (stop !== undefined) opts.stop = typeof stop === 'string' ? [stop] : [...stop];
  return opts;
}

export function finishReason(s: GenerateStats['stopReason']): FinishReason {
  switch (s) {
    case 'eos':
    case 'stop-string':
      return 'stop';
    case 'max-tokens':
    case 'context-full':
      return 'length';
    case 'cancelled':
      return 'abort';
  }
}

export function usage(s: GenerateStats): CompletionUsage {
  // An EOS id is a generated token, as OpenAI counts the end of a message.
  return {
    prompt_tokens: s.promptTokens,
    completion_tokens: s.generatedTokens,
    total_tokens: s.promptTokens + s.generatedTokens,
    prompt_tokens_details: { cached_tokens: s.reusedTokens },
    extra: {
      ttft_ms: s.ttftMs,
      prefill_tokens_per_s: s.prefillTokPerS,
      decode_tokens_per_s: s.decodeTokPerS,
      stop_reason: s.stopReason,
      sampling: s.sampling,
    },
  };
}

function requestId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function checkPrompt(prompt: unknown): string {
  if (typeof prompt !== 'string') throw new EngineError('bad-input', 'prompt must be a string', { setting: 'prompt' });
  return prompt;
}

function checkMessages(messages: unknown): readonly ChatMessage[] {
  if (!Array.isArray(messages)) throw new EngineError('bad-input', 'messages must be a list of {role, content}', { setting: 'messages' });
  return messages as ChatMessage[];
}

export async function chatCompletion(g: Generation, r: ChatCompletionRequest): Promise<ChatCompletion> {
  const opts = generateOptions(r);
  let content = '';
  const stats = await g.run(checkMessages(r.messages), opts, (t) => (content += t), r.signal);
  return {
    id: requestId('chatcmpl-'),
    object: 'chat.completion',
    created: nowSeconds(),
    model: g.model(),
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason(stats.stopReason), logprobs: null }],
    usage: usage(stats),
  };
}

export async function textCompletion(g: Generation, r: CompletionRequest): Promise<Completion> {
  const opts = generateOptions(r);
  const prompt = checkPrompt(r.prompt);
  let text = '';
  const stats = await g.run(prompt, opts, (t) => (text += t), r.signal);
  return {
    id: requestId('cmpl-'),
    object: 'text_completion',
    created: nowSeconds(),
    model: g.model(),
    choices: [{ index: 0, text, finish_reason: finishReason(stats.stopReason), logprobs: null }],
    usage: usage(stats),
  };
}

/**
 * Runs a generation and streams what `shape` makes of it: `begin` before the first piece of text (or the end), the
 * pieces, then the end (finish reason, usage). Errors reach the reader. The generation starts at once; a reader that
 * stops reading early (a `break` out of `for await`) stops it.
 */
function streamed<T>(
  g: Generation,
  input: string | readonly ChatMessage[],
  opts: GenerateOptions,
  signal: AbortSignal | undefined,
  shape: { begin: () => T[]; text: (t: string) => T; end: (stats: GenerateStats) => T[] },
): AsyncIterable<T> {
  const queue = new AsyncQueue<T>();
  let begun = false;
  const push = (items: T[]) => {
    if (!begun) {
      begun = true;
      for (const item of shape.begin()) queue.push(item);
    }
    for (const item of items) queue.push(item);
  };
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) stop.abort();
  const done = g.run(input, opts, (t) => t.length > 0 && push([shape.text(t)]), stop.signal).then(
    (stats) => {
      push(shape.end(stats));
      queue.end();
    },
    (e: unknown) => queue.fail(e),
  );
  void done.finally(() => signal?.removeEventListener('abort', onAbort));
  return {
    async *[Symbol.asyncIterator]() {
      let finished = false;
      try {
        for await (const item of queue) yield item;
        finished = true;
      } finally {
        // The reader left early: stop the generation, and let it end before the next request runs.
        if (!finished) {
          stop.abort();
          await done;
        }
      }
    },
  };
}

export function chatCompletionStream(g: Generation, r: ChatCompletionRequest): AsyncIterable<ChatCompletionChunk> {
  const opts = generateOptions(r);
  const messages = checkMessages(r.messages);
  const id = requestId('chatcmpl-');
  const created = nowSeconds();
  const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: FinishReason | null): ChatCompletionChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: g.model(),
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    usage: null,
  });
  return streamed(g, messages, opts, r.signal, {
    // OpenAI's first chunk names the role, with empty content.
    begin: () => [chunk({ role: 'assistant', content: '' }, null)],
    text: (content) => chunk({ content }, null),
    end: (stats) => {
      const out = [chunk({}, finishReason(stats.stopReason))];
      if (r.stream_options?.include_usage) out.push({ ...chunk({}, null), choices: [], usage: usage(stats) });
      return out;
    },
  });
}

export function textCompletionStream(g: Generation, r: CompletionRequest): AsyncIterable<Completion> {
  const opts = generateOptions(r);
  const prompt = checkPrompt(r.prompt);
  const id = requestId('cmpl-');
  const created = nowSeconds();
  const piece = (text: string, finish: FinishReason | null): Completion => ({
    id,
    object: 'text_completion',
    created,
    model: g.model(),
    choices: [{ index: 0, text, finish_reason: finish, logprobs: null }],
    usage: null,
  });
  return streamed(g, prompt, opts, r.signal, {
    begin: () => [],
    text: (t) => piece(t, null),
    end: (stats) => {
      const out = [piece('', finishReason(stats.stopReason))];
      if (r.stream_options?.include_usage) out.push({ ...piece('', null), choices: [], usage: usage(stats) });
      return out;
    },
  });
}
