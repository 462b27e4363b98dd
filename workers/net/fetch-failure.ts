// What a rejected fetch() means. fetch() rejects with one bare TypeError ("Failed to fetch") for a network that
// cannot be reached, a cross-origin request the server did not allow (CORS) and a redirect loop alike; only the
// first may send a load to the cache alone (an offline load), so they are told apart here:
//   - Node's fetch names a redirect loop in the error's cause ("redirect count exceeded");
//   - in a page or worker, two cheap requests ask again: a HEAD that does not follow redirects (an opaque redirect or
//     a 3xx: the server answered, with a redirect: a loop, or a target that cannot be fetched), then, cross-origin,
//     a no-cors HEAD (an opaque answer: the server is there and answers, it only refuses cross-origin reads: CORS).
// Only when neither is answered is the network unreachable (details.unreachable, what isUnreachable() reads).
import { EngineError } from '../errors.ts';

/** How long each diagnostic request may take before it counts as unanswered. */
const PROBE_TIMEOUT_MS = 5000;

function fileName(url: string): string {
  const path = url.split(/[?#]/)[0];
  return path.slice(path.lastIndexOf('/') + 1) || url;
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : '';
  return cause && !msg.includes(cause) ? `${msg}: ${cause}` : msg;
}

function redirectError(url: string, why: string): EngineError {
  return new EngineError(
    'network',
    `could not fetch ${fileName(url)}: the server answers with redirects that do not end (a redirect loop) or that ` +
      `lead where the request cannot follow (${why})`,
    { file: url, redirect: true },
  );
}

function corsError(url: string, origin: string, why: string): EngineError {
  return new EngineError(
    'cors',
    `could not fetch ${fileName(url)} from ${origin}: the server answers, but does not allow this page to read its ` +
      `files (CORS: no Access-Control-Allow-Origin for this site, or Range not allowed) (${why})`,
    { file: url },
  );
}

function unreachableError(url: string, why: string): EngineError {
  return new EngineError('network', `could not fetch ${fileName(url)}: the server could not be reached (${why})`, {
    file: url,
    unreachable: true,
  });
}

/** One diagnostic request; null when it rejects or is not answered in time. */
async function ask(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Response | null> {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    const res = await fetch(url, { ...init, cache: 'no-store', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    await res.body?.cancel().catch(() => {});
    return res;
  } catch {
    return null;
  }
}

/**
 * The error for a fetch() of `url` that rejected with `e` before any response. `afterResponse`: the body of an answered
 * request failed instead (a connection cut mid-body): never unreachable, and nothing is asked again.
 */
export async function fetchFailure(
  url: string,
  e: unknown,
  opts: { signal?: AbortSignal; afterResponse?: boolean } = {},
): Promise<EngineError> {
  const why = describe(e);
  if (opts.afterResponse) return new EngineError('network', `could not fetch ${fileName(url)}: ${why}`, { file: url });
  if (/redirect/i.test(why)) return redirectError(url, why);
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
  if (!origin || origin === 'null' || !/^https?:/i.test(url)) return unreachableError(url, why);
  const target = new URL(url).origin;
  const crossOrigin = target !== origin;
  const plain = await ask(url, { method: 'HEAD', redirect: 'manual' }, opts.signal);
  if (opts.signal?.aborted) return new EngineError('cancelled', 'the load was cancelled', { file: url });
  if (plain && (plain.type === 'opaqueredirect' || (plain.status >= 300 && plain.status < 400))) return redirectError(url, why);
  if (plain) {
    // The server answers a HEAD of the same URL: this request failed on the way (a reset, a proxy), not the network.
    return crossOrigin
      ? corsError(url, target, why)
      : new EngineError('network', `could not fetch ${fileName(url)}: ${why} (the server answers other requests)`, { file: url });
  }
  if (crossOrigin && (await ask(url, { method: 'HEAD', mode: 'no-cors' }, opts.signal))) return corsError(url, target, why);
  if (opts.signal?.aborted) return new EngineError('cancelled', 'the load was cancelled', { file: url });
  return unreachableError(url, why);
}
