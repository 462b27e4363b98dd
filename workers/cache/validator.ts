// What identifies one version of a remote file, so that cached bytes are used only for the same version:
// the ETag (strong or weak), else size + Last-Modified, and always the size. A server with neither ETag nor
// Last-Modified gives only the size (a weak key: a same-size replacement would go unnoticed; the hub and every
// static server we know send an ETag). Where the server publishes the content's SHA-256 (the hub's X-Linked-Etag
// for LFS files, or an ETag that is 64 hex digits), the whole file is checked against it once complete.
import { responseVersion } from '../net/file-version.ts';
import { parseContentRange, probe, statusError, type HttpOptions } from '../net/http.ts';

export interface Validator {
  size: number;
  etag: string | null;
  lastModified: string | null;
  /** Lowercase hex SHA-256 of the whole file, when the server gives one. */
  sha256: string | null;
}

/** The cache key part of a validator: equal strings mean the same file version. */
export function validatorKey(v: Validator): string {
  return v.etag ? `etag:${v.etag};size:${v.size}` : `size:${v.size};lm:${v.lastModified ?? ''}`;
}

function sha256Of(tag: string | null): string | null {
  const m = tag && /^(?:W\/)?"?([0-9a-f]{64})"?$/i.exec(tag.trim());
  return m ? m[1].toLowerCase() : null;
}

/** A validator from a response's headers; `size` from Content-Range's total or Content-Length (null: unknown). */
export function validatorFromHeaders(h: Headers, status: number): Validator | null {
  const cr = parseContentRange(h.get('content-range'));
  const linkedSize = h.get('x-linked-size');
  const len = h.get('content-length');
  const size =
    linkedSize !== null ? Number(linkedSize) : status === 206 ? cr?.total ?? null : len !== null && !h.get('content-encoding') ? Number(len) : null;
  if (size === null || !Number.isSafeInteger(size)) return null;
  const linked = h.get('x-linked-etag');
  const etag = linked ?? h.get('etag');
  return { size, etag, lastModified: h.get('last-modified'), sha256: sha256Of(linked) ?? sha256Of(h.get('etag')) };
}

/**
 * Asks the server for the current validator of `url` with a two-byte range request (http.probeRange: retried like
 * every other request; it pins the file's version for the load when `opts.versions` is given). A HEAD would do, but
 * some CDNs answer HEAD without the headers a GET gets. Returns null when the server tells no size: such a file is
 * not cached.
 */
export async function probeValidator(url: string, opts: HttpOptions = {}): Promise<Validator | null> {
  // Two bytes, not one: some static servers (sirv, behind `vite preview`) read `bytes=0-0` as "to the end" and start
  // sending the whole file. The answer pins the file's version for the load (opts.versions), or is checked against it.
  const headers: Record<string, string> = { Range: 'bytes=0-1' };
  const ifRange = opts.versions?.ifRange(url);
  if (ifRange) headers['If-Range'] = ifRange;
  const res = await probe(url, headers, opts);
  if (res.status !== 206 && res.status !== 200) throw statusError(url, res.status);
  const size = res.status === 206 ? (parseContentRange(res.headers.get('content-range'))?.total ?? null) : null;
  opts.versions?.check(url, responseVersion(res.headers, size, res.status === 206), res.status, true);
  return validatorFromHeaders(res.headers, res.status);
}
