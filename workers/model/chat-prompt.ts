// A generation's input as token ids: raw text, or chat messages rendered with the model's chat template (system,
// user and assistant roles, with the generation prompt), or — for a model without a template — the messages'
// contents joined as they are, so that a base model continues the text. And the conversation's "turns", the unit in
// which the oldest history is dropped when it outgrows the context.
import type { ChatMessage } from '../api.ts';
import { EngineError } from '../errors.ts';
import { encodeBounded, promptCharLimit, sizeInWords, type PromptSize } from './prompt-bound.ts';
import type { Tokenizer } from './tokenizer.ts';

type Encoded = { ids: number[] } | { tooLong: PromptSize };

/**
 * Raw text (with `chat`: one user message) or chat messages → the prompt's ids (BOS included where the model has one),
 * with work bounded by the context (prompt-bound.ts): a prompt past `contextLength` tokens is refused. A prompt string
 * far past it (found so before it is tokenized whole) is EngineError('bad-input'); one counted exactly past it, and any
 * conversation past it, is EngineError('context-full') (a conversation's says how many of the oldest turns to drop).
 */
export function encodeInput(tokenizer: Tokenizer, input: string | readonly ChatMessage[], chat: boolean, contextLength: number): number[] {
  let encoded: Encoded;
  if (typeof input === 'string') {
    const maxChars = promptCharLimit(tokenizer, contextLength);
    if (input.length > maxChars) throw tooLong({ promptChars: input.length }, contextLength);
    // A chat template's output past maxChars stops its render with its own bad-input error (setting 'prompt').
    encoded = chat ? encodeMessages(tokenizer, [{ role: 'user', content: input }], contextLength) : encodeBounded(tokenizer, input, true, contextLength);
    if ('tooLong' in encoded) {
      throw 'promptTokens' in encoded.tooLong ? contextFullError(tokenizer, input, encoded.tooLong, contextLength) : tooLong(encoded.tooLong, contextLength);
    }
    return encoded.ids;
  }
  checkMessages(input);
  encoded = measureMessages(tokenizer, input, contextLength);
  if ('tooLong' in encoded) throw contextFullError(tokenizer, input, encoded.tooLong, contextLength);
  return encoded.ids;
}

/** A prompt string found too long before it was tokenized whole. */
function tooLong(size: PromptSize, contextLength: number): EngineError {
  return new EngineError('bad-input', `the prompt is ${sizeInWords(size)}, more than the ${contextLength} tokens the context holds`, {
    setting: 'prompt',
    contextLength,
    ...size,
  });
}

/** Messages → ids, or their size when they are past the context (their render past its bound included). */
function measureMessages(tokenizer: Tokenizer, messages: readonly ChatMessage[], contextLength: number): Encoded {
  const maxChars = promptCharLimit(tokenizer, contextLength);
  const chars = messages.reduce((n, m) => n + m.content.length, 0);
  if (chars > maxChars) return { tooLong: { promptChars: chars } };
  try {
    return encodeMessages(tokenizer, messages, contextLength);
  } catch (e) {
    if (e instanceof EngineError && e.code === 'bad-input' && e.details.setting === 'prompt') {
      return { tooLong: { promptCharsAtLeast: maxChars } };
    }
    throw e;
  }
}

function encodeMessages(tokenizer: Tokenizer, messages: readonly ChatMessage[], contextLength: number): Encoded {
  if (tokenizer.chatTemplateError !== null) {
    throw new EngineError('unsupported', `the model's chat template cannot be read: ${tokenizer.chatTemplateError}`, {
      setting: 'chat_template',
    });
  }
  const maxChars = promptCharLimit(tokenizer, contextLength);
  const templated = tokenizer.applyChatTemplate(messages, { limits: { maxChars } });
  // The template writes its own BOS (as transformers' apply_chat_template does), so none is added again.
  return templated === null
    ? encodeBounded(tokenizer, plainText(messages), true, contextLength)
    : encodeBounded(tokenizer, templated, false, contextLength);
}

/** A model without a chat template reads a conversation as its contents joined as they are: no roles, no separators. */
export function plainText(messages: readonly ChatMessage[]): string {
  return messages.map((m) => m.content).join('');
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new EngineError('bad-input', 'messages must be a non-empty list', { setting: 'messages' });
  }
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new EngineError('bad-input', `messages[${i}] must be {role: string, content: string}`, { setting: 'messages' });
    }
  });
}

/**
 * The conversation's turns, oldest first: a turn is a user message and every non-system message after it up to the
 * next user message (the assistant's replies). System messages belong to no turn; messages before the first user
 * message form a turn of their own.
 */
function turnStarts(messages: readonly ChatMessage[]): number[] {
  const starts: number[] = [];
  messages.forEach((m, i) => {
    if (m.role === 'system') return;
    if (starts.length === 0 || m.role === 'user') starts.push(i);
  });
  return starts;
}

/** The conversation without its n oldest turns (system messages stay; the last turn always stays). */
export function trimOldestTurns(messages: readonly ChatMessage[], n: number): ChatMessage[] {
  const starts = turnStarts(messages);
  const k = Math.max(0, Math.min(n, starts.length - 1));
  if (k === 0) return [...messages];
  const from = starts[0];
  const to = starts[k];
  return messages.filter((m, i) => i < from || i >= to || m.role === 'system');
}

/**
 * How many of the oldest turns must go for the prompt to fit `contextLength` positions; null when none can. Fewer turns
 * make a shorter prompt, so the least number is searched for by halving: a few bounded encodings, however long the
 * conversation.
 */
export function turnsToTrim(tokenizer: Tokenizer, messages: readonly ChatMessage[], contextLength: number): number | null {
  const turns = turnStarts(messages).length;
  const fits = (n: number) => 'ids' in measureMessages(tokenizer, trimOldestTurns(messages, n), contextLength);
  if (turns < 2 || !fits(turns - 1)) return null;
  let lo = 1; // the least n that may fit
  let hi = turns - 1; // an n that fits
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

/** The error for a prompt longer than the context, saying how many turns to drop when that would help. */
export function contextFullError(
  tokenizer: Tokenizer,
  input: string | readonly ChatMessage[],
  size: PromptSize,
  contextLength: number,
): EngineError {
  const what = typeof input === 'string' ? 'the prompt' : 'the conversation';
  const trimTurns = typeof input === 'string' ? null : turnsToTrim(tokenizer, input, contextLength);
  const advice =
    trimTurns === null
      ? typeof input === 'string' || turnStarts(input).length < 2
        ? 'shorten it, or load the model with a longer context'
        : 'even its last turn alone does not fit: shorten it, or load the model with a longer context'
      : `dropping the ${trimTurns === 1 ? 'oldest turn' : `${trimTurns} oldest turns`} makes it fit`;
  return new EngineError('context-full', `${what} is ${sizeInWords(size)}, more than the ${contextLength} the context holds: ${advice}`, {
    setting: typeof input === 'string' ? 'prompt' : 'messages',
    ...size,
    contextLength,
    ...(trimTurns === null ? {} : { trimTurns }),
  });
}
