// SHA-256 for the cache. One-shot digests (a block, a manifest line, an entry's key) use the platform's native digest
// where there is one (crypto.subtle: secure contexts and Node) and hash-wasm's WebAssembly SHA-256 elsewhere. The
// whole-file check needs a hash fed block by block whose state survives a page load (kept in the manifest), which
// crypto.subtle cannot do: that is hash-wasm's resumable hasher (save/load of its state), about 3.5× the speed of the
// plain JavaScript SHA-256 it replaces (240 vs 69 MB/s on this repository's CPU-only machines; native: 840 MB/s).
import { createSHA256, sha256 as wasmSha256, type IHasher } from 'hash-wasm';

/** The state format kept in manifests; any other saved state (an older format) fails to restore. */
const STATE_PREFIX = 'hw1';

function toBase64(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b;
}

/** A SHA-256 fed piece by piece whose state can be saved between whole 64-byte blocks and restored later. */
export class Sha256 {
  /** Bytes hashed so far. */
  length = 0;

  private constructor(private readonly h: IHasher) {}

  static async create(): Promise<Sha256> {
    return new Sha256((await createSHA256()).init());
  }

  /** A hasher from a state saved by save(); throws on a state of another format (the caller hashes afresh). */
  static async restore(state: string): Promise<Sha256> {
    const m = /^hw1:(\d+):([A-Za-z0-9+/=]+)$/.exec(state);
    if (!m || Number(m[1]) % 64 !== 0) throw new Error(`sha256: bad saved state '${state.slice(0, 80)}'`);
    const s = new Sha256((await createSHA256()).init());
    try {
      s.h.load(fromBase64(m[2]));
    } catch (e) {
      throw new Error(`sha256: saved state not loadable: ${(e as Error).message}`, { cause: e });
    }
    s.length = Number(m[1]);
    return s;
  }

  update(data: Uint8Array): this {
    this.h.update(data);
    this.length += data.length;
    return this;
  }

  /** The digest as lowercase hex; the hasher is spent afterwards. */
  hex(): string {
    return this.h.digest('hex');
  }

  /**
   * The state, as a string to keep. Only at a 64-byte boundary: the cache saves between whole blocks, and a state
   * with bytes pending would carry file bytes into the manifest.
   */
  save(): string {
    if (this.length % 64 !== 0) throw new Error('sha256: state can be saved only at a 64-byte boundary');
    return `${STATE_PREFIX}:${this.length}:${toBase64(this.h.save())}`;
  }
}

/** SHA-256 of `data` as lowercase hex: the platform's native digest where there is one, else WebAssembly. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return wasmSha256(data);
  const d = new Uint8Array(await subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  let s = '';
  for (const x of d) s += x.toString(16).padStart(2, '0');
  return s;
}
