// A tokenizer for the reference models that ship none (../shared/models/random, families): every id is an added token
// `<id>`, so a prompt written as those tokens encodes to exactly the reference's ids, and the engine's whole path
// (tokenizer, load, generate) runs on them. Built as a tokenizer.json for @huggingface/tokenizers; tests only.

/** tokenizer.json text for a vocabulary of `vocab` ids, `<0>` .. `<vocab − 1>`, without special tokens. */
export function idTokenizerJson(vocab: number): string {
  const tokens = Array.from({ length: vocab }, (_, i) => `<${i}>`);
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tokens.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
      merges: [],
    },
  });
}

/** The prompt text that idTokenizerJson encodes to `ids`. */
export function idsText(ids: readonly number[]): string {
  return ids.map((i) => `<${i}>`).join('');
}
