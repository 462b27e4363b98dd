// The model's tokenizer: tokenizer.json + tokenizer_config.json through @huggingface/tokenizers (no hand-written BPE),
// chat templates through @huggingface/jinja, BOS/EOS from generation_config.json and tokenizer_config.json, and a
// streaming detokenizer that turns sampled ids into text deltas. Touches no weights and no GPU.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../errors.ts';
import { ChatTemplate, DEFAULT_TEMPLATE_MS, type TemplateLimits } from './chat-template.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface TokenizerOptions {
  /**
   * A chat template that replaces tokenizer_config.json's (transformers 5 saves it in its own file,
   * `chat_template.jinja`).
   */
  chatTemplate?: string;
  /**
   * The model's vocabulary size (config.json): every id the tokenizer can produce (its vocabulary, added tokens, the
   * post-processor's special tokens, a BOS it adds itself) must be below it, else fromJson refuses the tokenizer.
   */
  vocabSize?: number;
}

type Json = Record<string, unknown>;

export class Tokenizer {
  /** generation_config.json's bos_token_id, else tokenizer_config.json's bos_token; null when neither has one. */
  readonly bosId: number | null;
  /** Ids that end generation: generation_config's eos_token_id (number or list) ∪ tokenizer_config's eos_token. */
  readonly eosIds: readonly number[];
  /** Why the chat template could not be parsed (null when there is none, or it parsed). */
  readonly chatTemplateError: string | null;
  /**
   * The most characters one token stands for (the longest vocabulary or added-token string): a text longer than
   * n × this (give or take what a normalizer removes) cannot be n tokens or fewer, which bounds the work of checking a
   * prompt against the context before tokenizing it all.
   */
  readonly maxTokenChars: number;
  /** What fromJson took with a caveat, in words (an added token past config.json's vocab_size): the load's notes. */
  readonly notes: readonly string[];
  /** config.json's vocab_size when given: encode() refuses, naming it, a token past it. */
  private readonly vocabSize: number | undefined;

  private readonly template: ChatTemplate | null;
  /** Special-token strings the chat template may use: bos_token, eos_token, pad_token, unk_token. */
  private readonly templateTokens: Record<string, string>;
  /** Prepend bosId ourselves: tokenizer_config says add_bos_token but tokenizer.json has no post-processor. */
  private readonly addBosManually: boolean;

  private constructor(
    private readonly hf: HfTokenizer,
    tokenizerJson: Json,
    config: Json,
    generation: Json,
    opts: TokenizerOptions,
  ) {
    this.templateTokens = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const s = tokenString(config[key]);
      if (s !== null) this.templateTokens[key] = s;
    }
    const idOf = (key: string): number | null => {
      const s = this.templateTokens[key];
      return s === undefined ? null : (hf.token_to_id(s) ?? null);
    };

    const genBos = generation.bos_token_id;
    this.bosId = typeof genBos === 'number' ? genBos : idOf('bos_token');
    const eos = new Set<number>();
    const genEos = generation.eos_token_id;
    for (const id of Array.isArray(genEos) ? genEos : [genEos]) if (typeof id === 'number') eos.add(id);
    const configEos = idOf('eos_token');
    if (configEos !== null) eos.add(configEos);
    this.eosIds = [...eos];
    this.addBosManually = config.add_bos_token === true && tokenizerJson.post_processor == null && this.bosId !== null;

    this.maxTokenChars = longestToken(tokenizerJson);
    const source = opts.chatTemplate ?? pickChatTemplate(config.chat_template);
    let template: ChatTemplate | null = null;
    let error: string | null = null;
    if (source !== null) {
      try {
        template = new ChatTemplate(source);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
    }
    this.template = template;
    this.chatTemplateError = error;
    for (const part of ['normalizer', 'decoder'] as const) {
      const growth = textGrowth(tokenizerJson[part]);
      if (growth > MAX_TEXT_GROWTH) {
        throw new EngineError(
          'bad-file',
          `tokenizer.json: its ${part}'s Replace rules can make a text ${growth.toPrecision(3)} times longer, more than the ${MAX_TEXT_GROWTH} this engine allows`,
          { file: 'tokenizer.json', setting: part },
        );
      }
    }
    const notes: string[] = [];
    if (opts.vocabSize !== undefined) {
      const vocabSize = opts.vocabSize;
      const ids = producedIds(tokenizerJson);
      if (this.addBosManually) ids.push({ token: this.templateTokens.bos_token ?? 'bos_token', id: this.bosId!, added: false });
      // An added token past the vocabulary appears only where a text holds it, and real checkpoints ship such (a
      // '<pad>' added to a tokenizer without resizing the embeddings): noted, and a prompt that holds it is refused
      // naming it. Any other id (the vocabulary's, a post-processor's special token, a BOS added to every prompt) makes
      // every prompt fail: the tokenizer is refused.
      for (const t of ids.filter((t) => t.added && t.id >= vocabSize)) {
        notes.push(
          `tokenizer.json: the added token ${JSON.stringify(t.token)} has id ${t.id}, past the model's vocabulary (config.json vocab_size ${vocabSize}): a prompt that holds it is refused`,
        );
      }
      const past = ids.find((t) => !t.added && t.id >= vocabSize);
      if (past) {
        throw new EngineError(
          'bad-file',
          `tokenizer.json: token ${JSON.stringify(past.token)} has id ${past.id}, past the model's vocabulary (config.json vocab_size ${opts.vocabSize}): a tokenizer that does not belong to this model`,
          { file: 'tokenizer.json', token: past.token, id: past.id },
        );
      }
    }
    this.notes = notes;
    this.vocabSize = opts.vocabSize;
  }

  /**
   * tokenizerJson: tokenizer.json; tokenizerConfig: tokenizer_config.json (null when absent); generationConfig:
   * generation_config.json (null when absent). Throws EngineError('bad-file') when the library refuses the files.
   */
  static fromJson(
    tokenizerJson: object,
    tokenizerConfig: object | null,
    generationConfig: object | null,
    opts: TokenizerOptions = {},
  ): Tokenizer {
    const config = (tokenizerConfig ?? {}) as Json;
    let hf: HfTokenizer;
    try {
      hf = new HfTokenizer(tokenizerJson, config);
    } catch (e) {
      // The library's own errors name what it refuses; a TypeError or RangeError is it tripping over a field of the
      // wrong shape, which only the file can be blamed for.
      const why = e instanceof Error ? e.message : String(e);
      const tripped = e instanceof TypeError || e instanceof RangeError;
      throw new EngineError('bad-file', tripped ? `tokenizer.json has a field of a shape the tokenizer library cannot read (${why})` : `tokenizer.json: ${why}`, {
        file: 'tokenizer.json',
      });
    }
    return new Tokenizer(hf, tokenizerJson as Json, config, (generationConfig ?? {}) as Json, opts);
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** With addSpecialTokens, the post-processor's special tokens (BOS for Llama) are added, as transformers does. */
  encode(text: string, { addSpecialTokens = true }: { addSpecialTokens?: boolean } = {}): number[] {
    const ids = this.hf.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    if (addSpecialTokens && this.addBosManually && ids[0] !== this.bosId) ids.unshift(this.bosId!);
    const past = this.vocabSize === undefined ? undefined : ids.find((id) => id >= this.vocabSize!);
    if (past !== undefined) {
      const token = this.decode([past]);
      throw new EngineError(
        'bad-input',
        `the text holds the token ${JSON.stringify(token)} (id ${past}), which tokenizer.json adds past the model's vocabulary (config.json vocab_size ${this.vocabSize}): the model has no embedding for it`,
        { token, id: past },
      );
    }
    return ids;
  }

  decode(ids: readonly number[], { skipSpecialTokens = false }: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    return this.hf.decode(ids as number[], { skip_special_tokens: skipSpecialTokens });
  }

  /**
   * Renders the chat template as transformers' apply_chat_template(tokenize=False) does, with bos_token, eos_token
   * (and pad/unk) and add_generation_prompt. The result already holds its special tokens: encode it with
   * addSpecialTokens: false. Null when the model has no chat template. The render is bounded (chat-template.ts):
   * `limits` default to DEFAULT_TEMPLATE_MS and an output of 1 << 22 characters; past them, EngineError('bad-input').
   */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    { addGenerationPrompt = true, limits }: { addGenerationPrompt?: boolean; limits?: Partial<TemplateLimits> } = {},
  ): string | null {
    if (this.template === null) return null;
    return this.template.render(
      {
        ...this.templateTokens,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: addGenerationPrompt,
      },
      { maxMs: limits?.maxMs ?? DEFAULT_TEMPLATE_MS, maxChars: limits?.maxChars ?? 1 << 22 },
    );
  }
}

/** The longest token string of tokenizer.json: its model's vocabulary (BPE/WordPiece: {token: id}; Unigram: [[piece, score]]) and added tokens. */
function longestToken(json: Json): number {
  let n = 1;
  const vocab = (json.model as Json | undefined)?.vocab;
  if (Array.isArray(vocab)) {
    for (const e of vocab) if (Array.isArray(e) && typeof e[0] === 'string') n = Math.max(n, e[0].length);
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const k of Object.keys(vocab)) n = Math.max(n, k.length);
  }
  if (Array.isArray(json.added_tokens)) {
    for (const t of json.added_tokens) {
      const c = (t as { content?: unknown }).content;
      if (typeof c === 'string') n = Math.max(n, c.length);
    }
  }
  return n;
}

/**
 * How many times longer a tokenizer.json normalizer or decoder may make a text at most. Real ones replace one
 * character by another ('▁' for ' ') or shorten; a chain of Replace rules each doubling a character ('e' → 'ee', 30
 * times) would make a short prompt or one decoded token a billion times longer inside the library, holding the thread.
 */
export const MAX_TEXT_GROWTH = 16;

/**
 * The most a normalizer or decoder of tokenizer.json can multiply a text's length by, from its Replace rules (a
 * String pattern of n characters replaced by m: m / n; an empty one inserts m at each of the n + 1 places: m + 1; a
 * Regex may match a single character: m), multiplied along a Sequence. Other steps count as 1 (Prepend / Append add a
 * constant; Unicode normalization grows a text by a small bounded factor).
 */
function textGrowth(step: unknown): number {
  if (typeof step !== 'object' || step === null) return 1;
  const s = step as { type?: unknown; normalizers?: unknown; decoders?: unknown; pattern?: unknown; content?: unknown };
  if (s.type === 'Sequence') {
    const parts = Array.isArray(s.normalizers) ? s.normalizers : Array.isArray(s.decoders) ? s.decoders : [];
    return parts.reduce((g: number, p: unknown) => g * textGrowth(p), 1);
  }
  if (s.type === 'Replace' && typeof s.content === 'string') {
    const m = s.content.length;
    const pattern = s.pattern as { String?: unknown; Regex?: unknown } | undefined;
    if (typeof pattern?.String === 'string') return pattern.String.length === 0 ? m + 1 : Math.max(1, m / pattern.String.length);
    return Math.max(1, m);
  }
  return 1;
}

/**
 * The ids the tokenizer can produce: its model's vocabulary ({token: id}; Unigram: [[piece, score]], ids by index),
 * added tokens and the post-processor's special tokens (TemplateProcessing's special_tokens, in a Sequence too). The
 * vocabulary must be a non-empty list of whole ids; anything else is refused naming tokenizer.json.
 */
function producedIds(json: Json): { token: string; id: number; added: boolean }[] {
  const bad = (message: string): never => {
    throw new EngineError('bad-file', `tokenizer.json: ${message}`, { file: 'tokenizer.json' });
  };
  const out: { token: string; id: number; added: boolean }[] = [];
  const vocab = (json.model as Json | undefined)?.vocab;
  if (Array.isArray(vocab)) {
    if (vocab.length > 0) out.push({ token: String((vocab[vocab.length - 1] as unknown[])?.[0]), id: vocab.length - 1, added: false });
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isSafeInteger(id) || (id as number) < 0) bad(`token ${JSON.stringify(token)} has the id ${JSON.stringify(id)}, not a whole number of 0 or more`);
      out.push({ token, id: id as number, added: false });
    }
  }
  if (out.length === 0) bad("its model's vocabulary is empty or missing");
  if (Array.isArray(json.added_tokens)) {
    for (const t of json.added_tokens as { id?: unknown; content?: unknown }[]) {
      if (!Number.isSafeInteger(t?.id) || (t.id as number) < 0) bad(`the added token ${JSON.stringify(t?.content)} has the id ${JSON.stringify(t?.id)}, not a whole number of 0 or more`);
      out.push({ token: String(t.content), id: t.id as number, added: true });
    }
  }
  const post = (p: unknown): void => {
    if (typeof p !== 'object' || p === null) return;
    const { processors, special_tokens: special } = p as { processors?: unknown; special_tokens?: unknown };
    if (Array.isArray(processors)) processors.forEach(post);
    if (typeof special !== 'object' || special === null) return;
    for (const [token, v] of Object.entries(special)) {
      const ids = (v as { ids?: unknown })?.ids;
      if (!Array.isArray(ids)) continue;
      for (const id of ids) {
        if (!Number.isSafeInteger(id) || id < 0) bad(`the post-processor's special token ${JSON.stringify(token)} has the id ${JSON.stringify(id)}, not a whole number of 0 or more`);
        out.push({ token, id, added: false });
      }
    }
  };
  post(json.post_processor);
  return out;
}

/** tokenizer_config.json writes a token as a string or as an AddedToken object {content, ...}. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return null;
}

/** chat_template is a string, or a list of {name, template}: transformers uses the one named "default". */
function pickChatTemplate(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) return null;
  const named = v.filter(
    (t): t is { name: string; template: string } =>
      typeof t === 'object' && t !== null && typeof t.name === 'string' && typeof t.template === 'string',
  );
  return (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null;
}

const REPLACEMENT = '\uFFFD';

/**
 * Ids in, text deltas out. A byte-level BPE token may hold part of a UTF-8 character, so a token's text is not the
 * token decoded alone. As text-generation-inference does, each push decodes a short window of the sequence twice,
 * without and with the tokens not yet shown, and emits what the longer decode adds, once it no longer ends in an
 * incomplete character (U+FFFD). Decoding a window rather than one token also keeps decoders that strip or add
 * leading spaces (Metaspace) right. The window restarts after each emission, so a push costs O(window), not O(n).
 */
export class StreamDecoder {
  private readonly ids: number[] = [];
  /** ids[prefixOffset, readOffset) are already shown, and decoded again as the context of the next ones. */
  private prefixOffset = 0;
  private readOffset = 0;
  private readonly skipSpecialTokens: boolean;

  constructor(
    private readonly tokenizer: Tokenizer,
    { skipSpecialTokens = true }: { skipSpecialTokens?: boolean } = {},
  ) {
    this.skipSpecialTokens = skipSpecialTokens;
  }

  /** Adds one id; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const opts = { skipSpecialTokens: this.skipSpecialTokens };
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset), opts);
    if (full.length <= prefix.length || full.endsWith(REPLACEMENT)) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return full.slice(prefix.length);
  }

  /** The text of ids not yet shown, incomplete characters included (as U+FFFD); call once generation ends. */
  flush(): string {
    const opts = { skipSpecialTokens: this.skipSpecialTokens };
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset), opts);
    this.prefixOffset = this.readOffset = this.ids.length;
    return full.length > prefix.length ? full.slice(prefix.length) : '';
  }
}
