// One version of each remote file per load. The first response for a file pins its version (ETag, Last-Modified,
// size, whether it honours Range); every later request of the same load for that file asks for that version only
// (`If-Range`: the strong ETag, else the Last-Modified date) and every later response is compared with the pin. A
// response of another version — another ETag, Last-Modified or size, or a whole file (200) sent to a range request
// whose If-Range no longer matched — is EngineError('file-changed') naming the file, thrown before any of its bytes
// are handed on, so the bytes of two versions are never mixed (load-model.ts restarts the load once from a clean
// state). A server that sends neither ETag nor Last-Modified can only be held to the file's size.
import { EngineError } from '../errors.ts';

export interface FileVersion {
  etag: string | null;
  lastModified: string | null;
  /** The file's size (Content-Range total, or Content-Length of a whole uncompressed body); null: not told. */
  size: number | null;
  /** The server answered a Range request with 206: it honours ranges for this file. */
  ranges: boolean;
}

/** What a response says of the file's version. */
export function responseVersion(headers: Headers, size: number | null, ranges: boolean): FileVersion {
  return { etag: headers.get('etag'), lastModified: headers.get('last-modified'), size, ranges };
}

/** An entity tag without its weak marker: W/"x" and "x" name the same version for this comparison. */
function opaqueTag(tag: string): string {
  return tag.trim().replace(/^W\//, '');
}

function isStrong(tag: string): boolean {
  return !/^\s*W\//.test(tag);
}

function fileName(url: string): string {
  const path = url.split(/[?#]/)[0];
  return path.slice(path.lastIndexOf('/') + 1) || url;
}

export function versionChanged(url: string, what: string, was: string, now: string): EngineError {
  return new EngineError(
    'file-changed',
    `${fileName(url)} changed on the server during the load (${what}: ${was} when the load began, now ${now}); ` +
      'nothing of the two versions was mixed',
    { file: url, changed: what, was, now },
  );
}

export function isFileChanged(e: unknown): e is EngineError {
  return e instanceof EngineError && e.code === 'file-changed';
}

/** The versions a load has pinned, by URL. One per load (and per restart): never shared between loads. */
export class FileVersions {
  private readonly pinned = new Map<string, FileVersion>();

  get(url: string): FileVersion | undefined {
    return this.pinned.get(url);
  }

  /**
   * The If-Range value for a range request of `url`: the pinned strong ETag, else the pinned Last-Modified date;
   * null when nothing is pinned yet or the server gave neither (a weak ETag may not be used in If-Range).
   */
  ifRange(url: string): string | null {
    const p = this.pinned.get(url);
    if (!p) return null;
    if (p.etag && isStrong(p.etag)) return p.etag;
    return p.lastModified;
  }

  /**
   * Pins `seen` when it is the first response for `url`; otherwise throws versionChanged when it is another version.
   * `rangeAsked`: the request carried Range (and If-Range when pinned); `status`: the response's.
   */
  check(url: string, seen: FileVersion, status: number, rangeAsked: boolean): void {
    const pin = this.pinned.get(url);
    if (!pin) {
      this.pinned.set(url, { ...seen });
      return;
    }
    if (pin.size !== null && seen.size !== null && pin.size !== seen.size) {
      throw versionChanged(url, 'size', `${pin.size} bytes`, `${seen.size} bytes`);
    }
    if (pin.etag && seen.etag) {
      if (opaqueTag(pin.etag) !== opaqueTag(seen.etag)) throw versionChanged(url, 'ETag', pin.etag, seen.etag);
    } else if (pin.lastModified && seen.lastModified && pin.lastModified !== seen.lastModified) {
      throw versionChanged(url, 'Last-Modified', pin.lastModified, seen.lastModified);
    }
    // A server that honoured Range for this file and now sends it whole evaluated our If-Range as "changed" (or lost
    // its range support mid-load): either way these are not the pinned bytes at the offsets we asked for.
    if (rangeAsked && status === 200 && pin.ranges && this.ifRange(url) !== null) {
      throw versionChanged(url, 'If-Range', 'a range of the pinned version', 'the whole file (200)');
    }
    if (!pin.etag && seen.etag) pin.etag = seen.etag;
    if (!pin.lastModified && seen.lastModified) pin.lastModified = seen.lastModified;
    if (pin.size === null && seen.size !== null) pin.size = seen.size;
  }

  /** Pins a version learnt elsewhere (a reader thread's response) when nothing is pinned yet. */
  adopt(url: string, v: FileVersion): void {
    if (!this.pinned.has(url)) this.pinned.set(url, { ...v });
  }
}
