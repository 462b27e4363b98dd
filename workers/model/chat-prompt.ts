// A generation's input as token ids: raw text, or chat messages rendered with the model's chat template (system,
// user and assistant roles, with the generation prompt), or — for a model without a template — the messages'
// contents joined as they are, so that a base model continues the text. And the conversation's "turns", the unit in
// which the oldest history is dropped when it outgrows the context.
import type { ChatMessage } from '../api.ts';
import { EngineError } from '../errors.ts';
import type { Tokenizer } from './tokenizer.ts';

/** Raw text (with `chat`: one user message) or chat messages → the prompt's ids (BOS included where the model has one). */
export function encodeInput(tokenizer: Tokenizer, input: string | readonly ChatMessage[], chat = false): number[] {
  if (typeof input === 'string') {
    return chat ? encodeMessages(tokenizer, [{ role: 'user', content: input }]) : tokenizer.encode(input, { addSpecialTokens: true });
  }
  checkMessages(input);
  return encodeMessages(tokenizer, input);
}

function encodeMessages(tokenizer: Tokenizer, messages: readonly ChatMessage[]): number[] {
  if (tokenizer.chatTemplateError !== null) {
    throw new EngineError('unsupported', `the model's chat template cannot be read: ${tokenizer.chatTemplateError}`, {
      setting: 'chat_template',
    });
  }
  const templated = tokenizer.applyChatTemplate(messages);
  // The template writes its own BOS (as transformers' apply_chat_template does), so none is added again.
  return templated === null
    ? tokenizer.encode(plainText(messages), { addSpecialTokens: true })
    : tokenizer.encode(templated, { addSpecialTokens: false });
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

/** How many of the oldest turns must go for the prompt to fit `contextLength` positions; null when none can. */
export function turnsToTrim(tokenizer: Tokenizer, messages: readonly ChatMessage[], contextLength: number): number | null {
  const turns = turnStarts(messages).length;
  for (let n = 1; n < turns; n++) {
    if (encodeMessages(tokenizer, trimOldestTurns(messages, n)).length <= contextLength) return n;
  }
  return null;
}

/** The error for a prompt longer than the context, saying how many turns to drop when that would help. */
export function contextFullError(
  tokenizer: Tokenizer,
  input: string | readonly ChatMessage[],
  promptTokens: number,
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
  return new EngineError('context-full', `${what} is ${promptTokens} tokens, more than the ${contextLength} the context holds: ${advice}`, {
    setting: typeof input === 'string' ? 'prompt' : 'messages',
    promptTokens,
    contextLength,
    ...(trimTurns === null ? {} : { trimTurns }),
  });
}
