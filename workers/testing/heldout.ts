// heldout.txt → token documents as kjv-llama's reference.json describes: chapters (separated by a blank line), each
// encoded without special tokens and wrapped as [BOS] + ids + [EOS].
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../model/tokenizer.ts';

const readJson = (dir: string, f: string): object | null =>
  existsSync(join(dir, f)) ? (JSON.parse(readFileSync(join(dir, f), 'utf8')) as object) : null;

export async function encodeHeldout(dir: string): Promise<number[][] | null> {
  const tokenizerJson = readJson(dir, 'tokenizer.json');
  if (!tokenizerJson || !existsSync(join(dir, 'heldout.txt'))) return null;
  const tok = Tokenizer.fromJson(tokenizerJson, readJson(dir, 'tokenizer_config.json'), readJson(dir, 'generation_config.json'));
  const bos = tok.bosId ?? 0;
  const eos = tok.eosIds[0] ?? 1;
  const docs = readFileSync(join(dir, 'heldout.txt'), 'utf8')
    .split('\n\n')
    .filter((d) => d.trim().length > 0);
  return docs.map((d) => [bos, ...tok.encode(d, { addSpecialTokens: false }), eos]);
}
