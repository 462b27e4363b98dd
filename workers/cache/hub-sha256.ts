// The SHA-256 the Hugging Face hub publishes for a file, read where a browser can read it.
//
// The hub sends an LFS file's SHA-256 as `X-Linked-Etag` (and its size as `X-Linked-Size`) on the 302 that
// `/resolve/<rev>/<file>` answers with; `fetch` follows that redirect without exposing it (`redirect: 'manual'` gives
// an opaque response with no headers), so a page never sees those headers. The hub's API does answer with the same
// hash where a page can read it: `POST /api/models/<org>/<name>/paths-info/<rev>` with `{"paths": [file]}` gives, per
// LFS file, `lfs: { oid, size }`, where oid is the content's SHA-256 (the API the huggingface.js `pathsInfo` call
// uses). Asked once per new file version (see reader.ts), never on a warm load; any failure means "no hash".
import { requestHeaders, type HttpOptions } from '../net/http.ts';

/** Origins that serve the hub's API beside its `/resolve/` URLs. */
export const HUB_ORIGINS: readonly string[] = ['https://huggingface.co'];

export interface HubFile {
  /** The paths-info endpoint of the file's repo and revision. */
  api: string;
  /** The file's path in the repo. */
  path: string;
}

/** The hub repo file a `/resolve/` URL on one of `origins` names, or null for any other URL. */
export function hubFileOf(url: string, origins: readonly string[] = HUB_ORIGINS): HubFile | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (!origins.includes(u.origin)) return null;
  const seg = u.pathname.split('/').filter(Boolean);
  // <org>/<name>/resolve/<rev>/<path…>; datasets and spaces have a prefix and are not models
  if (seg.length < 5 || seg[2] !== 'resolve' || seg[0] === 'datasets' || seg[0] === 'spaces') return null;
  const [org, name, , rev, ...path] = seg.map((s) => decodeURIComponent(s));
  return {
    api: `${u.origin}/api/models/${encodeURIComponent(org)}/${encodeURIComponent(name)}/paths-info/${encodeURIComponent(rev)}`,
    path: path.join('/'),
  };
}

interface PathInfo {
  path?: unknown;
  size?: unknown;
  lfs?: { oid?: unknown; size?: unknown } | null;
}

/**
 * The published SHA-256 of a hub file of `size` bytes, or null: not a hub URL, not an LFS file, another size (a
 * newer commit than the bytes probed), or the API could not be asked or read.
 */
export async function hubPublishedSha256(
  url: string,
  size: number,
  opts: Pick<HttpOptions, 'signal' | 'hubToken'> & { origins?: readonly string[] } = {},
): Promise<string | null> {
  const file = hubFileOf(url, opts.origins);
  if (!file) return null;
  try {
    const res = await fetch(file.api, {
      method: 'POST',
      // a gated or private repo's API answers only with the access token (sent to the hub's origin alone)
      headers: requestHeaders(file.api, opts, { 'Content-Type': 'application/json', Accept: 'application/json' }),
      body: JSON.stringify({ paths: [file.path], expand: false }),
      cache: 'no-store',
      signal: opts.signal,
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return null;
    }
    const list = (await res.json()) as unknown;
    if (!Array.isArray(list)) return null;
    const info = (list as PathInfo[]).find((p) => p?.path === file.path);
    const oid = info?.lfs?.oid;
    if (typeof oid !== 'string' || !/^[0-9a-f]{64}$/i.test(oid)) return null;
    if (info!.lfs!.size !== size && info!.size !== size) return null;
    return oid.toLowerCase();
  } catch {
    return null;
  }
}
