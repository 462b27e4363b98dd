import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { withLock } from './locks.ts';
import { Sha256, sha256Hex } from './sha256.ts';
import { probeValidator, validatorFromHeaders, validatorKey } from './validator.ts';

const ref = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('Sha256', () => {
  it('matches node:crypto for every length around the padding edges, fed in odd pieces', async () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003]) {
      const b = new Uint8Array(randomBytes(n));
      expect(await sha256Hex(b)).toBe(ref(b));
      const h = await Sha256.create();
      for (let o = 0; o < n; o += 37) h.update(b.subarray(o, o + 37));
      expect(h.hex()).toBe(ref(b));
    }
  });

  it('saves and restores its state at 64-byte boundaries', async () => {
    const b = new Uint8Array(randomBytes(64 * 100 + 5));
    const s = (await Sha256.create()).update(b.subarray(0, 640)).save();
    expect((await Sha256.restore(s)).update(b.subarray(640)).hex()).toBe(ref(b));
    expect((await Sha256.restore(s)).length).toBe(640);
    await expect(Sha256.create().then((h) => h.update(b.subarray(0, 3)).save())).rejects.toThrow(/boundary/);
    // the plain-JavaScript hasher's state (hex words:length), kept in older manifests, is refused, not misread
    await expect(Sha256.restore(`${'ab'.repeat(32)}:640`)).rejects.toThrow(/bad saved state/);
    await expect(Sha256.restore('hw1:640:AAAA')).rejects.toThrow(/not loadable/);
  });

  it('hashes without crypto.subtle (an insecure context) by WebAssembly', async () => {
    const b = new Uint8Array(randomBytes(5000));
    const subtle = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
    try {
      expect(globalThis.crypto.subtle).toBeUndefined();
      expect(await sha256Hex(b)).toBe(ref(b));
    } finally {
      Object.defineProperty(globalThis, 'crypto', subtle);
    }
  });
});

describe('validatorFromHeaders', () => {
  it('takes the hub’s linked ETag as the SHA-256 and the size from Content-Range', () => {
    const sha = 'ab'.repeat(32);
    const v = validatorFromHeaders(new Headers({ 'content-range': 'bytes 0-0/12345', 'x-linked-etag': `"${sha}"`, etag: 'W/"x"' }), 206);
    expect(v).toEqual({ size: 12345, etag: `"${sha}"`, lastModified: null, sha256: sha });
    const plain = validatorFromHeaders(new Headers({ 'content-length': '10', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' }), 200)!;
    expect(validatorKey(plain)).toBe('size:10;lm:Mon, 01 Jan 2024 00:00:00 GMT');
    expect(validatorFromHeaders(new Headers({}), 206)).toBeNull();
  });
});

describe('probeValidator', () => {
  it('tries again when the connection is reset before an answer (a kept-alive socket the server had closed)', async () => {
    let n = 0;
    const server = createServer((req, res) => {
      if (n++ === 0) return void req.socket.destroy();
      res.writeHead(206, { 'content-range': 'bytes 0-1/1000', etag: '"v1"', 'content-length': '2' }).end('ab');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.safetensors`;
    try {
      const retries: string[] = [];
      expect(await probeValidator(url, { backoffMs: 1, onRetry: (r) => retries.push(r.url) })).toMatchObject({ size: 1000, etag: '"v1"' });
      expect(retries).toEqual([url]);
      n = 0;
      await expect(probeValidator(url, { backoffMs: 1, retries: 0 })).rejects.toMatchObject({ code: 'network', details: { file: url } });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('withLock', () => {
  it('runs holders of one name one at a time, in order', async () => {
    const log: string[] = [];
    const job = (id: string) =>
      withLock('x', async () => {
        log.push(`${id}+`);
        await new Promise((r) => setTimeout(r, 5));
        log.push(`${id}-`);
      });
    await Promise.all([job('a'), job('b'), withLock('y', async () => void log.push('y'))]);
    expect(log.filter((s) => s !== 'y')).toEqual(['a+', 'a-', 'b+', 'b-']);
  });
});
