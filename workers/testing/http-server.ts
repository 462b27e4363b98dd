// A static file server with HTTP Range support for tests and the load benchmark, which can also misbehave on purpose:
// ignore Range, drop the connection mid-body, send a wrong Content-Range, go slowly, answer 403/404/503, end bodies
// early, hang up without answering (an unreachable network, as fetch sees it), or never answer. The tests use it
// through serveDir; scripts/serve-dir.ts is its command line.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { open, stat } from 'node:fs/promises';
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
}

export interface RequestLogEntry {
  path: string;
  range: string | null;
  status: number;
  bytesSent: number;
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

  async function serve(req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry): Promise<void> {
    const m = handle.misbehave;
    if (m.hangUp) return void req.socket.destroy();
    if (m.silent) return;
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
    if (req.method === 'OPTIONS') return void res.writeHead((entry.status = 204)).end();
    const seen = (requests.get(m) ?? 0) + 1;
    requests.set(m, seen);
    if (m.failFirst && seen <= m.failFirst) return void res.writeHead((entry.status = 503)).end('busy');
    for (const [suffix, status] of Object.entries(m.statusByPath ?? {})) {
      if (entry.path.endsWith(suffix)) return void res.writeHead((entry.status = status)).end(`status ${status}`);
    }
    const file = resolve(base, '.' + decodeURIComponent(entry.path));
    if (file !== base && !file.startsWith(base + sep)) return void res.writeHead((entry.status = 403)).end();
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return void res.writeHead((entry.status = 404)).end('not found');
    const size = st.size;
    let start = 0;
    let end = size;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && !m.ignoreRange) {
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
      res.setHeader('Content-Range', `bytes ${shown}-${shown + (end - start) - 1}/${m.contentRangeTotal ?? size}`);
    }
    res.setHeader('Accept-Ranges', m.ignoreRange ? 'none' : 'bytes');
    res.setHeader('Content-Type', contentType(file));
    const truncate = m.truncateAt !== undefined && m.truncateAt < end;
    if (!truncate) res.setHeader('Content-Length', end - start);
    res.writeHead((entry.status = status));
    if (req.method === 'HEAD') return void res.end();
    const sendEnd = truncate ? Math.max(start, m.truncateAt!) : end;
    const dropped = drops.get(m) ?? 0;
    const dropAt = m.dropAfterBytes !== undefined && (m.dropTimes === undefined || dropped < m.dropTimes) ? m.dropAfterBytes : Infinity;
    if (dropAt !== Infinity) drops.set(m, dropped + 1);
    const fh = await open(file, 'r');
    const t0 = performance.now();
    try {
      const step = m.bytesPerSecond ? Math.max(1024, Math.min(CHUNK, Math.floor(m.bytesPerSecond / 20))) : CHUNK;
      const buf = Buffer.allocUnsafe(step);
      let pos = start;
      while (pos < sendEnd && !res.destroyed) {
        const want = Math.min(step, sendEnd - pos, dropAt - entry.bytesSent);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) break;
        const ok = res.write(Buffer.from(buf.subarray(0, bytesRead)));
        pos += bytesRead;
        entry.bytesSent += bytesRead;
        if (entry.bytesSent >= dropAt) {
          await new Promise((r) => setTimeout(r, 5)); // let the bytes written so far leave, then cut the line
          res.socket?.destroy();
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
      res.end();
    } finally {
      await fh.close();
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
