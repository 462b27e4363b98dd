// Where a Linux process's resident memory is, by kind of mapping, from /proc/self/smaps: what `bench load` and
// scripts/diag-int8-host.ts break host growth down by.
//   gpu:        lavapipe's "allocation fd" memfds, one per VkDeviceMemory: the GPU buffers of a CPU adapter
//   heap:       [heap], the main thread's malloc arena
//   anonSmall:  anonymous mappings under 1 MiB: V8's heap pages (256 KiB each) and other small mappings
//   anonMedium: anonymous mappings of 1–64 MiB: other threads' malloc arenas, V8's larger spaces
//   anonLarge:  anonymous mappings of 64 MiB or more
//   file:       file-backed mappings (code: libLLVM once a shader compiles, node, dawn.node)
//   other:      the rest ([stack], other memfds, …)
import { existsSync, readFileSync } from 'node:fs';

export const SMAPS_KINDS = ['gpu', 'heap', 'anonSmall', 'anonMedium', 'anonLarge', 'file', 'other'] as const;
export type SmapsKind = (typeof SMAPS_KINDS)[number];
export type SmapsBytes = Record<SmapsKind, number>;

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/;
const RSS = /^Rss:\s+(\d+) kB/;

/** The kind of one mapping, from its size (bytes) and its name (the header's last field, maybe empty). */
export function mappingKind(size: number, name: string): SmapsKind {
  if (name.startsWith('/memfd:allocation fd')) return 'gpu';
  if (name === '[heap]') return 'heap';
  if (name.startsWith('/')) return name.startsWith('/memfd:') ? 'other' : 'file';
  if (name) return 'other';
  return size >= 64 * 2 ** 20 ? 'anonLarge' : size >= 2 ** 20 ? 'anonMedium' : 'anonSmall';
}

/** Resident bytes by kind, from the text of an smaps file. */
export function parseSmaps(text: string): SmapsBytes {
  const out = Object.fromEntries(SMAPS_KINDS.map((k) => [k, 0])) as SmapsBytes;
  let kind: SmapsKind = 'other';
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      kind = mappingKind(parseInt(h[2], 16) - parseInt(h[1], 16), h[3]);
      continue;
    }
    const r = RSS.exec(line);
    if (r) out[kind] += Number(r[1]) * 1024;
  }
  return out;
}

const SELF = '/proc/self/smaps';

/** This process's resident bytes by kind, or null where there is no /proc (not Linux). */
export function readSmaps(): SmapsBytes | null {
  return existsSync(SELF) ? parseSmaps(readFileSync(SELF, 'utf8')) : null;
}

/** a − b by kind. */
export function smapsDelta(a: SmapsBytes, b: SmapsBytes): SmapsBytes {
  return Object.fromEntries(SMAPS_KINDS.map((k) => [k, a[k] - b[k]])) as SmapsBytes;
}
