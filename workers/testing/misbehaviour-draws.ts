// Seeded draws of server misbehaviour for the hostile-server campaigns (scripts/fuzz-server.ts: the network layer
// and the cache; scripts/fuzz-load.ts: whole loads on the GPU): each request is answered honestly, or (with
// probability p) with one misbehaviour of http-server.ts drawn at random, sometimes two laid over each other.
import type { Misbehaviour, RequestLogEntry } from './http-server.ts';

/** One kind of misbehaviour: a function of the random source and the request it answers. */
export type Draw = (r: () => number, entry: RequestLogEntry) => Misbehaviour;

/**
 * What a whole-file answer says the file is, unchecked by anything the client holds (no range, no pinned size yet):
 * a body longer or shorter than the file, an HTML page, another file redirected to. Such an answer's bytes are the
 * server's word; only the caller's own checks (JSON, the size from the header read) can refuse them.
 */
export const THE_SERVERS_WORD = /extraBytes|contentLength|truncateAt|html|"redirect"|statusByPath":\{"":416/;

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The misbehaviours drawn from, each a function of the random source and the request. `other`: another origin
 * (redirects go there, to the same path); `size`: about the size of the files served (where cuts fall); `drip`: the
 * slowest rate drawn, in bytes per second.
 */
export function misbehaviours({ other, size, drip }: { other: string; size: number; drip: number }): Draw[] {
  const int = (r: () => number, n: number) => Math.floor(r() * n);
  return [
    (r) => ({ contentRangeShift: [-1, 1, 7, -4096][int(r, 4)] }),
    (r) => ({ contentRangeTotal: [size - 1, size + 1, 2 ** 53, 0][int(r, 4)] }),
    (r) => ({ contentRange: [null, 'bytes 0-1/*', 'bytes=0-1/10', `bytes 5-2/${size}`, `bytes 0-99999999999999999999/${size}`, 'garbage', `bytes */${size}`][int(r, 7)] }),
    () => ({ ignoreRange: true }),
    (r) => ({ statusByPath: { '': [416, 429, 503, 500, 408][int(r, 5)] }, contentRange: r() < 0.5 ? `bytes */${size}` : undefined, retryAfter: ['3600', '-5', 'Wed, 21 Oct 2099 07:28:00 GMT', '0', 'soon'][int(r, 5)] }),
    (r) => ({ truncateAt: int(r, size) }),
    (r) => ({ dropAfterBytes: int(r, 70_000) }),
    (r) => ({ extraBytes: r() < 0.4 ? Infinity : 1 + int(r, 100_000) }),
    (r) => ({ contentLength: ['9007199254740993', String(2 ** 40), '1', '-1', 'abc'][int(r, 5)] }),
    (r) => ({ gzip: r() < 0.5 ? 'range' : 'file' }),
    () => ({ etagPerRequest: true }),
    () => ({ weakEtag: true }),
    () => ({ noValidators: true }),
    () => ({ ignoreIfRange: true, etagPerRequest: true }),
    (r, e) => ({ redirect: [
      { location: '/other.bin' },
      { location: other + e.path.slice(1) },
      { location: null },
      { status: 301, location: '/' },
      { status: 307, location: `${other}config.json` },
    ][int(r, 5)] }),
    () => ({ html: true }),
    (r) => ({ stallAfterBytes: int(r, 50_000) }),
    () => ({ bytesPerSecond: drip }),
    (r) => ({ hugeHeaderBytes: [20_000, 200_000][int(r, 2)] }),
    () => ({ hangUpTimes: 1 }),
  ];
}

/**
 * A perRequest for http-server.ts: each request honest or, with probability `p`, misbehaving by a draw; `drawn` keeps
 * what each request (by its number) was answered with, as JSON, for the findings.
 */
export function drawPerRequest(r: () => number, p: number, draws: Draw[], drawn: Map<number, string>): (entry: RequestLogEntry, n: number) => Misbehaviour | undefined {
  return (entry, n) => {
    if (r() >= p) return undefined;
    const pick = () => draws[Math.floor(r() * draws.length)](r, entry);
    const m: Misbehaviour = { ...pick(), ...(r() < 0.2 ? pick() : {}) };
    drawn.set(n, JSON.stringify(m, (_, v: unknown) => (v === Infinity ? 'Infinity' : v)));
    return m;
  };
}
