// A prompt's length against the context, found with work bounded by the context, not by the prompt: a text longer
// than the context could hold is refused before it is tokenized (promptCharLimit), a longer one is counted in pieces,
// stopping as soon as it is certainly too long (tooManyTokens), and only a text that may fit is tokenized whole.
import type { Tokenizer } from './tokenizer.ts';

/** Characters per token the prompt bound allows at most, whatever the vocabulary claims (a hostile one may hold a huge token). */
const MAX_CHARS_PER_TOKEN = 1024;

/**
 * The most characters a prompt of `contextLength` tokens can have (twice over, for what normalizers remove; a prompt
 * averaging more than MAX_CHARS_PER_TOKEN characters a token is not one a real vocabulary makes).
 */
export function promptCharLimit(tokenizer: Pick<Tokenizer, 'maxTokenChars'>, contextLength: number): number {
  return 2 * contextLength * Math.min(tokenizer.maxTokenChars, MAX_CHARS_PER_TOKEN) + 4096;
}

/** Characters tokenized at a time while counting. */
const COUNT_PIECE_CHARS = 16_384;

/**
 * Counts the tokens of `text` a piece at a time (pieces end at whitespace, so words are not cut) and returns the count
 * so far as soon as it is certainly more than `limit` (each cut may change the count by a few tokens, allowed for);
 * null when the whole text was counted without passing it. Costs about `limit` tokens of work, whatever the text.
 */
export function tooManyTokens(tokenizer: Pick<Tokenizer, 'encode'>, text: string, limit: number): number | null {
  if (text.length <= COUNT_PIECE_CHARS) return null; // small enough to tokenize whole
  let count = 0;
  let pieces = 0;
  for (let pos = 0; pos < text.length; ) {
    let end = Math.min(text.length, pos + COUNT_PIECE_CHARS);
    if (end < text.length) {
      const ws = Math.max(text.lastIndexOf(' ', end), text.lastIndexOf('\n', end));
      if (ws > pos + COUNT_PIECE_CHARS / 2) end = ws;
      else if (/[\uD800-\uDBFF]/.test(text[end - 1])) end--; // never between the halves of a surrogate pair
    }
    count += tokenizer.encode(text.slice(pos, end), { addSpecialTokens: false }).length;
    pieces++;
    pos = end;
    if (count > limit + 8 * pieces) return count - 8 * pieces;
  }
  return null;
}

/**
 * How a prompt past the context was measured: its tokens exactly, a lower bound on them (counted in pieces), or its
 * characters alone (more than promptCharLimit: never tokenized), or more characters than a bound (a chat template's
 * output, stopped at promptCharLimit).
 */
export type PromptSize =
  | { promptTokens: number }
  | { promptTokensAtLeast: number }
  | { promptChars: number }
  | { promptCharsAtLeast: number };

/** The size in words: '4 tokens', 'more than 2100 tokens', '20000000 characters'. */
export function sizeInWords(size: PromptSize): string {
  if ('promptTokens' in size) return `${size.promptTokens} tokens`;
  if ('promptTokensAtLeast' in size) return `more than ${size.promptTokensAtLeast} tokens`;
  if ('promptChars' in size) return `${size.promptChars} characters`;
  return `more than ${size.promptCharsAtLeast} characters`;
}

/** The text's ids (BOS added when `addSpecialTokens`), unless it is longer than `contextLength` tokens: then its size. */
export function encodeBounded(
  tokenizer: Pick<Tokenizer, 'encode' | 'maxTokenChars'>,
  text: string,
  addSpecialTokens: boolean,
  contextLength: number,
): { ids: number[] } | { tooLong: PromptSize } {
  if (text.length > promptCharLimit(tokenizer, contextLength)) return { tooLong: { promptChars: text.length } };
  const counted = tooManyTokens(tokenizer, text, contextLength);
  if (counted !== null) return { tooLong: { promptTokensAtLeast: counted } };
  const ids = tokenizer.encode(text, { addSpecialTokens });
  return ids.length > contextLength ? { tooLong: { promptTokens: ids.length } } : { ids };
}
