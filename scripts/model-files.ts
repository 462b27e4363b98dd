// Small helpers for the CLIs: read a model folder's config (local directory or URL).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Config } from '../workers/model/config.ts';

export function isUrl(s: string): boolean {
  return /^https?:\/\//.test(s);
}

export async function readModelConfig(dirOrUrl: string): Promise<Config> {
  if (isUrl(dirOrUrl)) {
    const base = dirOrUrl.endsWith('/') ? dirOrUrl : `${dirOrUrl}/`;
    const r = await fetch(new URL('config.json', base));
    if (!r.ok) throw new Error(`${base}config.json: HTTP ${r.status}`);
    return parseConfig(await r.json());
  }
  const file = join(dirOrUrl, 'config.json');
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  return parseConfig(JSON.parse(readFileSync(file, 'utf8')));
}
