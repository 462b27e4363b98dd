// Where a Linux process's resident memory is, by kind of mapping, from /proc/self/smaps: what `bench load` and
// scripts/diag-int8-host.ts break host growth down by.
//   gpu:        lavapipe's "allocation fd" memfds, one per VkDeviceMemory: the GPU buffers of a CPU adapter
//   heap:       [heap], the main thread's malloc arena
//   anonSmall:  anonymous mappings under 1 MiB: V8's heap pages (256 KiB each) and other small mappings
//   anonMedium: anonymous mappings of 1–64 MiB: other threads' malloc arenas, V8's larger spaces
//   anonLarge:  anonymous mappings of 64 MiB or more
//   file:       file-backed mappings (code: node, dawn.node, lavapipe, libLLVM as each is first run)
//   other:      the rest ([stack], other memfds, …)
import { closeSync, existsSync, openSync, readSync } from 'node:fs';

export const SMAPS_KINDS = ['gpu', 'heap', 'anonSmall', 'anonMedium', 'anonLarge', 'file', 'other'] as const;
export type SmapsKind = (typeof SMAPS_KINDS)[number];
export type SmapsBytes = Record<SmapsKind, number>;

/** The kind of one mapping, from its size (bytes) and its name (the header's last field, maybe empty). */
export function mappingKind(size: number, name: string): SmapsKind {
  if (name.startsWith('/memfd:allocation fd')) return 'gpu';
  if (name === '[heap]') return 'heap';
  if (name.startsWith('/')) return name.startsWith('/memfd:') ? 'other' : 'file';
  if (name) return 'other';
  return size >= 64 * 2 ** 20 ? 'anonLarge' : size >= 2 ** 20 ? 'anonMedium' : 'anonSmall';
}

const NL = 10;
const SPACE = 32;
const DASH = 45;
const RSS = Buffer.from('Rss:');

/**
 * Resident bytes by kind, from the bytes of an smaps file. Parsed in place, making a string only of each mapping's
 * name: sampled during a load, reading smaps must not itself grow the heap it measures (a 1 MiB string and its lines
 * per read, whenever the peak rose, did).
 */
export function parseSmaps(buf: Uint8Array, length = buf.length): SmapsBytes {
  const out = Object.fromEntries(SMAPS_KINDS.map((k) => [k, 0])) as SmapsBytes;
  const b = Buffer.from(buf.buffer, buf.byteOffset, length);
  let kind: SmapsKind = 'other';
  for (let at = 0; at < length; ) {
    let end = b.indexOf(NL, at);
    if (end < 0) end = length;
    const dash = b.indexOf(DASH, at);
    if (isHex(b[at]) && dash > at && dash < end && b[dash - 1] !== SPACE) {
      // a mapping's header: start-end perms offset dev inode [name]
      const sp = b.indexOf(SPACE, dash);
      const size = parseInt(b.toString('latin1', dash + 1, sp), 16) - parseInt(b.toString('latin1', at, dash), 16);
      let field = sp;
      for (let i = 0; i < 4; i++) field = b.indexOf(SPACE, skipSpaces(b, field, end));
      const name = field < 0 || field >= end ? '' : b.toString('latin1', skipSpaces(b, field, end), end).trimEnd();
      kind = mappingKind(size, name);
    } else if (b.compare(RSS, 0, RSS.length, at, at + RSS.length) === 0) {
      let n = 0;
      for (let i = skipSpaces(b, at + RSS.length, end); i < end && b[i] >= 48 && b[i] <= 57; i++) n = n * 10 + b[i] - 48;
      out[kind] += n * 1024;
    }
    at = end + 1;
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

function skipSpaces(b: Uint8Array, i: number, end: number): number {
  while (i < end && b[i] === SPACE) i++;
  return i;
}

const SELF = '/proc/self/smaps';
let readBuf = Buffer.alloc(0);

/** This process's resident bytes by kind, or null where there is no /proc (not Linux). */
export function readSmaps(): SmapsBytes | null {
  if (!existsSync(SELF)) return null;
  const fd = openSync(SELF, 'r');
  let length = 0;
  try {
    if (readBuf.length === 0) readBuf = Buffer.alloc(4 << 20);
    for (;;) {
      if (length === readBuf.length) {
        const grown = Buffer.alloc(readBuf.length * 2);
        readBuf.copy(grown);
        readBuf = grown;
      }
      const n = readSync(fd, readBuf, length, readBuf.length - length, null);
      if (n === 0) break;
      length += n;
    }
  } finally {
    closeSync(fd);
  }
  return parseSmaps(readBuf, length);
}

/** a − b by kind. */
export function smapsDelta(a: SmapsBytes, b: SmapsBytes): SmapsBytes {
  return Object.fromEntries(SMAPS_KINDS.map((k) => [k, a[k] - b[k]])) as SmapsBytes;
}
