// The record of what a cache entry holds, committed only after the data it describes is flushed. It is kept in two
// slots, each a JSON line followed by the line's SHA-256: a commit writes the slot the previous one did not, so a
// write cut short (a closed tab, a crash) leaves the other slot, with the previous state, intact. Reading takes the
// valid slot with the higher sequence number; with neither valid, the entry is empty.
import type { CacheDir } from './backend.ts';
import { sha256Hex } from './sha256.ts';
import type { Validator } from './validator.ts';

export const MANIFEST_FORMAT = 1;
const SLOTS = ['manifest.0', 'manifest.1'] as const;

/** file: a model file's bytes; int8: a cached quantized weight (int8-cache-store.ts); source: a model's small files (offline-source.ts). */
export type EntryKind = 'file' | 'int8' | 'source';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  kind: EntryKind;
  /** The file's URL (int8 entries: the source file's URL + '#int8/' + tensor name; source entries: the model's base URL). */
  url: string;
  /** The model the entry belongs to (its base URL), for listing and deleting by model. */
  model: string;
  validator: Validator;
  blockBytes: number;
  /** Committed blocks: block index → SHA-256 (hex) of its bytes. Block i holds bytes [i·blockBytes, …) of the file. */
  blocks: Record<number, string>;
  /** Whole-file check against validator.sha256: blocks [0, hashedBlocks) are hashed, `hashState` is the state after. */
  hashedBlocks: number;
  hashState: string | null;
  /** True once the complete file matched validator.sha256. */
  verified: boolean;
  /** Incremented by every commit. */
  seq: number;
  updatedAt: number;
  /** Kind-specific facts (int8: format version, shape). */
  meta?: Record<string, unknown>;
}

export function emptyManifest(
  kind: EntryKind,
  url: string,
  model: string,
  validator: Validator,
  blockBytes: number,
  meta?: Record<string, unknown>,
): Manifest {
  return {
    format: MANIFEST_FORMAT,
    kind,
    url,
    model,
    validator,
    blockBytes,
    blocks: {},
    hashedBlocks: 0,
    hashState: null,
    verified: false,
    seq: 0,
    updatedAt: Date.now(),
    meta,
  };
}

async function parseSlot(bytes: Uint8Array | null): Promise<Manifest | null> {
  if (!bytes) return null;
  const text = new TextDecoder().decode(bytes);
  const nl = text.lastIndexOf('\n');
  if (nl < 0) return null;
  const json = text.slice(0, nl);
  if ((await sha256Hex(new TextEncoder().encode(json))) !== text.slice(nl + 1)) return null;
  try {
    const m = JSON.parse(json) as Manifest;
    return m.format === MANIFEST_FORMAT && typeof m.seq === 'number' ? m : null;
  } catch {
    return null;
  }
}

/** The newest intact manifest of an entry, or null. */
export async function readManifest(dir: CacheDir): Promise<Manifest | null> {
  const [a, b] = await Promise.all(SLOTS.map(async (s) => parseSlot(await dir.read(s))));
  if (a && b) return a.seq >= b.seq ? a : b;
  return a ?? b;
}

/** Commits `m` (its seq incremented) to the slot the current one is not in. */
export async function writeManifest(dir: CacheDir, m: Manifest): Promise<void> {
  m.seq++;
  m.updatedAt = Date.now();
  const json = JSON.stringify(m);
  const bytes = new TextEncoder().encode(`${json}\n${await sha256Hex(new TextEncoder().encode(json))}`);
  await dir.write(SLOTS[m.seq % 2], bytes);
}

export function blockName(i: number): string {
  return `b${String(i).padStart(6, '0')}`;
}
