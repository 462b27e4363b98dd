// A static file server with HTTP Range support for tests and the load benchmark. It sends each file's version (a
// strong ETag from inode, size and mtime, and Last-Modified) and honours If-Range (a range only of the version asked
// for, else the whole current file), as real servers do; and it can misbehave on purpose: ignore Range or If-Range,
// send a weak ETag or no validators, drop the connection mid-body (and run a hook there: tests replace the file),
// send a wrong Content-Range, go slowly, stall mid-body, answer 403/404/503, end bodies early, redirect to itself,
// omit CORS headers, hang up without answering (an unreachable network, as fetch sees it), or never answer; lie in its
// headers (Content-Range, Content-Length, a new ETag per response, a huge header), gzip a range, send more than was
// asked (or never end), redirect anywhere, or answer with an HTML page. `perRequest` picks a misbehaviour for each
// request (scripts/fuzz-server.ts draws them from a seed). The tests use it through serveDir; scripts/serve-dir.ts is
// its command line.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { open, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface Misbehaviour {
  /** Answer every Range request with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Destroy the connection after this many body bytes of a response... */
  dropAfterBytes?: number;
  /** ...for the first this many responses only (default: all). */
  dropTimes?: number;
  /** Send a Content-Range whose start is off by this many bytes (the body is the right one). */
  contentRangeShift?: number;
  /** Send a Content-Range whose total is this (a server that lies about the file size). */
  contentRangeTotal?: number;
  /** Throttle bodies to about this rate. */
  bytesPerSecond?: number;
  /** Fixed status by path suffix, e.g. {'model.safetensors': 403}. */
  statusByPath?: Record<string, number>;
  /** 503 for the first this many requests. */
  failFirst?: number;
  /** Bytes at or past this absolute offset are never sent: bodies end there cleanly (chunked, no Content-Length). */
  truncateAt?: number;
  /** Close every connection without an answer: fetch() rejects, as when the network cannot be reached. */
  hangUp?: boolean;
  /** Never answer (the connection stays open until the client gives up or the server closes). */
  silent?: boolean;
  /** Close the first this many connections' requests without an answer (a stale keep-alive connection, a blip). */
  hangUpTimes?: number;
  /** Send this many body bytes of each response, then nothing more, keeping the connection open (a stalled server). */
  stallAfterBytes?: number;
  /** Answer every request with a redirect to itself (a redirect loop). */
  redirectLoop?: boolean;
  /** Send no CORS headers (a browser on another origin may not read the answers). */
  noCors?: boolean;
  /** Send neither ETag nor Last-Modified (a server a file version can be told apart by its size only). */
  noValidators?: boolean;
  /** Send the ETag as a weak one (W/"..."), as sirv and many compressing servers do. */
  weakEtag?: boolean;
  /** Serve the Range asked for even when If-Range no longer matches (a server that ignores If-Range). */
  ignoreIfRange?: boolean;
  /** The Content-Range header of a 206 in place of the true one (null: none at all; also sent with statusByPath). */
  contentRange?: string | null;
  /** The Content-Length header in place of the true one (a lie); the body is the right one, and the connection closes after it. */
  contentLength?: string;
  /** Send this many bytes past the end asked for (the file's, then filler; Infinity: a body that never ends). */
  extraBytes?: number;
  /** Content-Encoding gzip: of the bytes asked for ('range'), or of the whole file under the range's Content-Range ('file'). */
  gzip?: 'range' | 'file';
  /** A new ETag and Last-Modified on every response, same bytes (servers behind a balancer that disagree). */
  etagPerRequest?: boolean;
  /** Answer with this redirect (status 302 unless given); a null location sends none. */
  redirect?: { status?: number; location: string | null };
  /** Sent with every answer that is not 2xx (429 and 503 say when to come back), e.g. '120', '-5' or an HTTP date. */
  retryAfter?: string;
  /** Answer 200 with an HTML error page (a proxy's or single-page app's) whatever was asked. */
  html?: boolean;
  /** Add a header this many bytes long. */
  hugeHeaderBytes?: number;
  /**
   * Misbehaviour for one request, laid over this one (its counters stay this object's): a seeded campaign draws one
   * per request. `n` counts the requests under this object, from 1.
   */
  perRequest?: (entry: RequestLogEntry, n: number) => Misbehaviour | undefined;
  /** Called before a request is served (after it is logged): tests change files there, between two requests. */
  onRequest?: (entry: RequestLogEntry) => void | Promise<void>;
  /** Called when dropAfterBytes cuts a response, before the next request can be served. */
  onDrop?: (entry: RequestLogEntry) => void | Promise<void>;
}

export interface RequestLogEntry {
  path: string;
  range: string | null;
  status: number;
  bytesSent: number;
  /** The request's number under the misbehaviour object it was served by (from 1). */
  n?: number;
}

export interface ServeDirHandle {
  /** Base URL ending in '/'. */
  url: string;
  /** Mutable: tests change it between requests. */
  misbehave: Misbehaviour;
  log: RequestLogEntry[];
  close(): Promise<void>;
}

const CHUNK = 1 << 20;

function contentType(path: string): string {
  return path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

export async function serveDir(
  root: string,
  opts: { port?: number; host?: string; misbehave?: Misbehaviour } = {},
): Promise<ServeDirHandle> {
  const base = resolve(root);
  const handle: ServeDirHandle = { url: '', misbehave: opts.misbehave ?? {}, log: [], close: async () => {} };
  // requests and drops under each misbehaviour object, so that assigning a new one (a new test case) counts afresh
  const requests = new WeakMap<Misbehaviour, number>();
  const drops = new WeakMap<Misbehaviour, number>();
  const hangUps = new WeakMap<Misbehaviour, number>();

  const served = new WeakMap<Misbehaviour, number>();

  async function serve(req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry): Promise<void> {
    const own = handle.misbehave;
    const n = (served.get(own) ?? 0) + 1;
    served.set(own, n);
    const m: Misbehaviour = own.perRequest ? { ...own, ...own.perRequest(entry, n) } : own;
    entry.n = n;
    if (m.hangUp) return void req.socket.destroy();
    if (m.hangUpTimes !== undefined && (hangUps.get(own) ?? 0) < m.hangUpTimes) {
      hangUps.set(own, (hangUps.get(own) ?? 0) + 1);
      return void req.socket.destroy();
    }
    if (m.silent) return;
    await m.onRequest?.(entry);
    if (!m.noCors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Allow-Headers', 'Range, If-Range');
      res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified');
    }
    if (req.method === 'OPTIONS') return void res.writeHead((entry.status = 204)).end();
    if (m.hugeHeaderBytes) res.setHeader('X-Padding', 'x'.repeat(m.hugeHeaderBytes));
    if (m.retryAfter !== undefined) res.setHeader('Retry-After', m.retryAfter);
    if (m.redirectLoop) return void res.writeHead((entry.status = 302), { Location: req.url ?? '/' }).end();
    if (m.redirect) {
      return void res.writeHead((entry.status = m.redirect.status ?? 302), m.redirect.location !== null ? { Location: m.redirect.location } : {}).end();
    }
    if (m.html) {
      res.writeHead((entry.status = 200), { 'Content-Type': 'text/html' });
      return void res.end('<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>');
    }
    const seen = (requests.get(own) ?? 0) + 1;
    requests.set(own, seen);
    if (m.failFirst && seen <= m.failFirst) return void res.writeHead((entry.status = 503)).end('busy');
    for (const [suffix, status] of Object.entries(m.statusByPath ?? {})) {
      if (entry.path.endsWith(suffix)) {
        if (m.contentRange) res.setHeader('Content-Range', m.contentRange); // a 416's 'bytes */size'
        return void res.writeHead((entry.status = status)).end(`status ${status}`);
      }
    }
    if (m.retryAfter !== undefined) res.removeHeader('Retry-After');
    const file = resolve(base, '.' + decodeURIComponent(entry.path));
    if (file !== base && !file.startsWith(base + sep)) return void res.writeHead((entry.status = 403)).end();
    const fh = await open(file, 'r').catch(() => null);
    const st = await fh?.stat({ bigint: true }).catch(() => null);
    if (!fh || !st?.isFile()) {
      await fh?.close();
      return void res.writeHead((entry.status = 404)).end('not found');
    }
    try {
      await send(req, res, entry, m, own, file, fh, st);
    } finally {
      await fh.close();
    }
  }

  /** Serves the open file: its version (ETag from inode, size and mtime in ns; Last-Modified), Range and If-Range. */
  async function send(
    req: IncomingMessage,
    res: ServerResponse,
    entry: RequestLogEntry,
    m: Misbehaviour,
    own: Misbehaviour,
    file: string,
    fh: FileHandle,
    st: BigIntStats,
  ): Promise<void> {
    const size = Number(st.size);
    const again = m.etagPerRequest ? (entry.n ?? 0) : 0;
    const tag = `"${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}${again ? `-${again}` : ''}"`;
    const etag = m.weakEtag ? `W/${tag}` : tag;
    const lastModified = new Date(Number(st.mtimeMs) + again * 1000).toUTCString();
    if (!m.noValidators) {
      res.setHeader('ETag', etag);
      res.setHeader('Last-Modified', lastModified);
    }
    let start = 0;
    let end = size;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    // If-Range (RFC 9110 13.1.5): the range only while the version asked for is the current one, else the whole file.
    const ifRange = req.headers['if-range'];
    const current = ifRange === undefined || m.ignoreIfRange || (!m.noValidators && (ifRange === tag || ifRange === lastModified));
    if (range && !m.ignoreRange && current) {
      if (range[1] === '') {
        start = Math.max(0, size - Number(range[2]));
      } else {
        start = Number(range[1]);
        end = range[2] === '' ? size : Math.min(size, Number(range[2]) + 1);
      }
      if (start >= size || start >= end) {
        res.writeHead((entry.status = 416), { 'Content-Range': `bytes */${size}` });
        return void res.end();
      }
      status = 206;
      const shown = start + (m.contentRangeShift ?? 0);
      const cr = m.contentRange !== undefined ? m.contentRange : `bytes ${shown}-${shown + (end - start) - 1}/${m.contentRangeTotal ?? size}`;
      if (cr !== null) res.setHeader('Content-Range', cr);
    }
    res.setHeader('Accept-Ranges', m.ignoreRange ? 'none' : 'bytes');
    res.setHeader('Content-Type', contentType(file));
    if (m.gzip) {
      const whole = m.gzip === 'file' ? { start: 0, end: size } : { start, end };
      const plain = Buffer.alloc(whole.end - whole.start);
      await fh.read(plain, 0, plain.length, whole.start);
      const body = gzipSync(plain);
      res.writeHead((entry.status = status), { 'Content-Encoding': 'gzip', 'Content-Length': body.length });
      entry.bytesSent = body.length;
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    const truncate = m.truncateAt !== undefined && m.truncateAt < end;
    const extra = m.extraBytes ?? 0;
    if (m.contentLength !== undefined) res.setHeader('Content-Length', m.contentLength);
    else if (!truncate && extra === 0) res.setHeader('Content-Length', end - start);
    res.writeHead((entry.status = status));
    if (req.method === 'HEAD') return void res.end();
    const sendEnd = truncate ? Math.max(start, m.truncateAt!) : end;
    const dropped = drops.get(own) ?? 0;
    const dropAt = m.dropAfterBytes !== undefined && (m.dropTimes === undefined || dropped < m.dropTimes) ? m.dropAfterBytes : Infinity;
    if (dropAt !== Infinity) drops.set(own, dropped + 1);
    const t0 = performance.now();
    const stallAt = m.stallAfterBytes ?? Infinity;
    const step = m.bytesPerSecond ? Math.max(1024, Math.min(CHUNK, Math.floor(m.bytesPerSecond / 20))) : CHUNK;
    const buf = Buffer.allocUnsafe(step);
    let pos = start;
    while (pos < sendEnd && !res.destroyed) {
      if (entry.bytesSent >= stallAt) {
        // nothing more, the connection left open: until the client gives up (or the server closes)
        await new Promise<void>((r) => res.once('close', () => r()));
        return;
      }
      const want = Math.min(step, sendEnd - pos, dropAt - entry.bytesSent, stallAt - entry.bytesSent);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) break;
      const ok = res.write(Buffer.from(buf.subarray(0, bytesRead)));
      pos += bytesRead;
      entry.bytesSent += bytesRead;
      if (entry.bytesSent >= dropAt) {
        await new Promise((r) => setTimeout(r, 5)); // let the bytes written so far leave, then cut the line
        res.socket?.destroy();
        await m.onDrop?.(entry);
        return;
      }
      if (!ok) {
        await new Promise<void>((r) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            r();
          };
          res.on('drain', done).on('close', done);
        });
      }
      if (m.bytesPerSecond) {
        const due = (entry.bytesSent / m.bytesPerSecond) * 1000 - (performance.now() - t0);
        if (due > 0) await new Promise((r) => setTimeout(r, due));
      }
    }
    if (extra > 0 && pos >= sendEnd) await sendExtra(res, entry, fh, pos, size, extra);
    if (m.contentLength !== undefined) return void res.end(() => res.socket?.destroy());
    res.end();
  }

  /** `extra` bytes past the end asked for: the file's, then filler (Infinity: until the client hangs up). */
  async function sendExtra(res: ServerResponse, entry: RequestLogEntry, fh: FileHandle, pos: number, size: number, extra: number): Promise<void> {
    const filler = Buffer.alloc(64 * 1024, 0x5a);
    for (let sent = 0; sent < extra && !res.destroyed; ) {
      const n = Math.min(filler.length, extra - sent);
      const chunk = Buffer.from(filler.subarray(0, n));
      if (pos < size) {
        const { bytesRead } = await fh.read(chunk, 0, Math.min(n, size - pos), pos);
        pos += bytesRead;
      }
      sent += n;
      entry.bytesSent += n;
      if (!res.write(chunk)) {
        await new Promise<void>((r) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            r();
          };
          res.on('drain', done).on('close', done);
        });
      }
    }
  }

  const server = createServer((req, res) => {
    const entry: RequestLogEntry = {
      path: new URL(req.url ?? '/', 'http://x').pathname,
      range: req.headers.range ?? null,
      status: 0,
      bytesSent: 0,
    };
    handle.log.push(entry);
    serve(req, res, entry).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy();
    });
  });
  // Idle keep-alive connections stay open until the client closes them. With Node's default (closed after 5 s idle),
  // a test whose thread is blocked for longer (Dawn compiling pipelines on a busy CPU adapter) races the close: its
  // next request goes out on a connection the server is closing, and fetch() fails ("fetch failed", ECONNRESET).
  // That is why workers/load/cache-load.gpu.test.ts once failed under load; the engine retries such a
  // failure (http.ts, the probe included), and this server no longer provokes it.
  server.keepAliveTimeout = 0;
  await new Promise<void>((r) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', r));
  const addr = server.address() as AddressInfo;
  handle.url = `http://${addr.address}:${addr.port}/`;
  handle.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return handle;
}
