// Test fixture: the shared kjv-llama folder's tokenizer files and reference prompts, read once (Node only).
import { readFileSync } from 'node:fs';
import { Tokenizer } from '../model/tokenizer.ts';

const KJV = new URL('../../../shared/models/kjv-llama/', import.meta.url);
const readJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(name, KJV), 'utf8'));

export const tokenizerJson = readJson('tokenizer.json');
export const tokenizerConfig = readJson('tokenizer_config.json');
export const generationConfig = readJson('generation_config.json');
export const reference = readJson('reference.json') as {
  prompts: { text: string; ids: number[]; greedy_ids: number[]; greedy_text: string }[];
};
export const kjv = Tokenizer.fromJson(tokenizerJson, tokenizerConfig, generationConfig);
