// The OpenAI chat-completions and completions shapes this library speaks (the subset an on-device model can honour),
// as in OpenAI's API reference, plus a few parameters Hugging Face users expect (top_k, repetition_penalty) and an
// AbortSignal. What a request leaves out comes from the model's generation_config.json, not from OpenAI's defaults.
import type { ChatMessage, GenerateStats, SamplingUsed } from '../workers/api.ts';

export type { ChatMessage };

/**
 * 'stop': an EOS id or a stop string; 'length': max_tokens, or the context is full; 'abort': the request's signal
 * fired (as WebLLM's engine says it): the text so far is kept and the engine stays usable.
 */
export type FinishReason = 'stop' | 'length' | 'abort';

/** Sampling parameters shared by both endpoints. null is the same as leaving a field out. */
export interface SamplingRequest {
  /** Ignored (the loaded model answers); echoed back as `model` is the loaded model's id. */
  model?: string | null;
  /** Most tokens to generate (default: generation_config's max_new_tokens, else until the context is full). */
  max_tokens?: number | null;
  /** Same as max_tokens (OpenAI's newer name); max_tokens wins when both are given. */
  max_completion_tokens?: number | null;
  /** 0 = greedy. Default: the model's (greedy unless its generation_config has do_sample: true). */
  temperature?: number | null;
  top_p?: number | null;
  /** Not in OpenAI's API: keep the k most likely tokens (0 = off). Default: the model's, else 50 as in transformers. */
  top_k?: number | null;
  /** Not in OpenAI's API: Hugging Face's repetition penalty (1 = off). Default: the model's. */
  repetition_penalty?: number | null;
  /** Seeds sampling; the same seed and settings give the same text. Default: random. */
  seed?: number | null;
  /** Up to any number of strings that end the text (the string itself is not returned). */
  stop?: string | string[] | null;
  /** Only 1 is supported. */
  n?: number | null;
  stream_options?: { include_usage?: boolean } | null;
  /** Stops the generation: the stream ends (or the completion returns) with finish_reason 'abort'. */
  signal?: AbortSignal;
}

export interface ChatCompletionRequest extends SamplingRequest {
  /** System, user and assistant turns, rendered with the model's chat template (or joined as plain text without one). */
  messages: ChatMessage[];
  stream?: boolean | null;
}

export interface ChatCompletionRequestStreaming extends ChatCompletionRequest {
  stream: true;
}

export interface ChatCompletionRequestNonStreaming extends ChatCompletionRequest {
  stream?: false | null;
}

export interface CompletionRequest extends SamplingRequest {
  /** Raw text, tokenized as it is (BOS added where the model adds one); no chat template. */
  prompt: string;
  stream?: boolean | null;
}

export interface CompletionRequestStreaming extends CompletionRequest {
  stream: true;
}

export interface CompletionRequestNonStreaming extends CompletionRequest {
  stream?: false | null;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** cached_tokens: prompt tokens whose KV cache was kept from the previous request (not prefilled again). */
  prompt_tokens_details: { cached_tokens: number };
  /** Not in OpenAI's API (as WebLLM's `usage.extra`): the engine's own measures and the settings it used. */
  extra: {
    ttft_ms: number;
    /** Prefilled (not cached) prompt tokens per second. */
    prefill_tokens_per_s: number;
    decode_tokens_per_s: number;
    stop_reason: GenerateStats['stopReason'];
    sampling: SamplingUsed;
  };
}

export interface ChatCompletionMessage {
  role: 'assistant';
  content: string;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  /** Unix time in seconds. */
  created: number;
  model: string;
  choices: { index: number; message: ChatCompletionMessage; finish_reason: FinishReason; logprobs: null }[];
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /**
   * One choice per chunk: the first chunk's delta is {role: 'assistant', content: ''}, then {content} for each piece
   * of text, then {} with the finish_reason. With stream_options.include_usage, one more chunk with no choices carries
   * the usage (null on the others).
   */
  choices: { index: number; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: CompletionUsage | null;
}

export interface Completion {
  id: string;
  /** OpenAI uses the same object name for a completion and its stream's chunks. */
  object: 'text_completion';
  created: number;
  model: string;
  /** In a stream, `text` is the piece of text this chunk adds, and finish_reason is null until the last chunk. */
  choices: { index: number; text: string; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: CompletionUsage | null;
}
