// One cached file: fixed-size blocks, each written whole and flushed before the manifest that lists it is committed,
// so a block is either listed and complete or not used at all. A block that fails its checks when read (missing,
// the wrong size, a SHA-256 that no longer matches) is dropped from the manifest and read from the network again.
import { EngineError } from '../errors.ts';
import { fileName } from '../net/http.ts';
import type { CacheDir } from './backend.ts';
import { blockName, writeManifest, type Manifest } from './manifest.ts';
import { Sha256, sha256Hex } from './sha256.ts';

/** What an entry needs from its cache: the space check and the storage error. */
export interface EntryHost {
  verifyReads: boolean;
  /** Throws EngineError('storage') when `bytes` more cannot be stored. */
  ensureSpace(bytes: number, what: string): Promise<void>;
  /** The 'storage' error for a failure of the storage (full, files removed, other); an EngineError passes as it is. */
  storageError(what: string, cause?: unknown): EngineError;
  /** Counts integrity failures (tests and logs). */
  onCorrupt?: (info: { url: string; block: number; reason: string }) => void;
}

/** Bytes in the committed blocks of a manifest. */
export function committedBytes(m: Manifest): number {
  let n = 0;
  for (const k of Object.keys(m.blocks)) n += Math.min(m.blockBytes, m.validator.size - Number(k) * m.blockBytes);
  return n;
}

export function isComplete(m: Manifest): boolean {
  return Object.keys(m.blocks).length === Math.ceil(m.validator.size / m.blockBytes);
}

export class CacheEntry {
  private commits: Promise<void> = Promise.resolve();
  private hasher: Sha256 | null = null;
  private spaceChecked = false;

  constructor(
    private readonly dir: CacheDir,
    readonly manifest: Manifest,
    private readonly host: EntryHost,
  ) {}

  get url(): string {
    return this.manifest.url;
  }
  get size(): number {
    return this.manifest.validator.size;
  }
  get blockBytes(): number {
    return this.manifest.blockBytes;
  }
  get blockCount(): number {
    return Math.ceil(this.size / this.blockBytes);
  }
  blockLen(i: number): number {
    return Math.min(this.blockBytes, this.size - i * this.blockBytes);
  }
  has(i: number): boolean {
    return this.manifest.blocks[i] !== undefined;
  }
  get committedBytes(): number {
    return committedBytes(this.manifest);
  }
  get complete(): boolean {
    return isComplete(this.manifest);
  }

  /** Drops listed blocks whose file is missing or has the wrong size (a cheap check on open). */
  async checkSizes(): Promise<void> {
    const bad: number[] = [];
    await Promise.all(
      Object.keys(this.manifest.blocks).map(async (k) => {
        const i = Number(k);
        const n = await this.dir.size(blockName(i));
        if (n !== this.blockLen(i)) bad.push(i);
      }),
    );
    for (const i of bad) this.host.onCorrupt?.({ url: this.url, block: i, reason: 'size' });
    if (bad.length) await this.drop(bad);
  }

  /** The bytes of committed block i, checked; null (and the block dropped) when it is not there or not intact. */
  async readBlock(i: number): Promise<Uint8Array | null> {
    const want = this.manifest.blocks[i];
    if (want === undefined) return null;
    let data: Uint8Array | null;
    try {
      data = await this.dir.read(blockName(i));
    } catch (e) {
      throw this.host.storageError(fileName(this.url), e);
    }
    let reason = '';
    if (!data || data.length !== this.blockLen(i)) reason = data ? 'size' : 'missing';
    else if (this.host.verifyReads && (await sha256Hex(data)) !== want) reason = 'sha256';
    if (!reason) return data;
    this.host.onCorrupt?.({ url: this.url, block: i, reason });
    await this.drop([i]);
    return null;
  }

  /** Stores block i (exactly blockLen(i) bytes) and commits it; `data` may be reused once this resolves. */
  async writeBlock(i: number, data: Uint8Array): Promise<void> {
    if (data.length !== this.blockLen(i)) throw new Error(`cache: block ${i} of ${this.url} is ${data.length} bytes, not ${this.blockLen(i)}`);
    if (!this.spaceChecked) {
      this.spaceChecked = true;
      await this.host.ensureSpace(this.size - this.committedBytes, fileName(this.url));
    }
    const hash = await sha256Hex(data);
    try {
      await this.dir.write(blockName(i), data);
    } catch (e) {
      throw this.host.storageError(fileName(this.url), e);
    }
    await this.commit(async () => {
      this.manifest.blocks[i] = hash;
      await this.advanceHash(i, data);
    });
  }

  /** Removes blocks from the manifest (their files are overwritten when fetched again). */
  async drop(blocks: number[]): Promise<void> {
    await this.commit(async () => {
      for (const i of blocks) delete this.manifest.blocks[i];
      if (blocks.some((i) => i < this.manifest.hashedBlocks)) this.resetHash();
    });
  }

  /** Drops every block (a whole-file hash mismatch: the entry cannot be trusted). */
  async dropAll(): Promise<void> {
    await this.drop(Object.keys(this.manifest.blocks).map(Number));
  }

  private resetHash(): void {
    this.manifest.hashedBlocks = 0;
    this.manifest.hashState = null;
    this.manifest.verified = false;
    this.hasher = null;
  }

  /** The whole-file hasher at block `hashedBlocks`: restored from the manifest, or afresh from block 0. */
  private async resumeHash(): Promise<Sha256> {
    const m = this.manifest;
    if (m.hashState && m.hashedBlocks > 0) {
      try {
        const h = await Sha256.restore(m.hashState);
        if (h.length === m.hashedBlocks * this.blockBytes) return h;
      } catch {
        // a state saved by another implementation (or damaged): hash the file again from its first block
      }
    }
    m.hashedBlocks = 0;
    m.hashState = null;
    return Sha256.create();
  }

  /** Runs a manifest change and commits it, one at a time. */
  private commit(change: () => Promise<void>): Promise<void> {
    const run = this.commits.then(async () => {
      await change();
      try {
        await writeManifest(this.dir, this.manifest);
      } catch (e) {
        throw this.host.storageError(fileName(this.url), e);
      }
    });
    this.commits = run.catch(() => {});
    return run;
  }

  /**
   * Feeds the whole-file hash with every block now contiguous from the start (block `just` is in memory, others are
   * read back), and checks it once the file is complete. A mismatch drops the whole entry and throws.
   */
  private async advanceHash(just: number, data: Uint8Array): Promise<void> {
    const m = this.manifest;
    const expected = m.validator.sha256;
    if (!expected || m.verified) return;
    while (m.hashedBlocks < this.blockCount && this.has(m.hashedBlocks)) {
      const i = m.hashedBlocks;
      const bytes = i === just ? data : await this.dir.read(blockName(i));
      if (!bytes || bytes.length !== this.blockLen(i)) return; // caught by the next read of that block
      this.hasher ??= await this.resumeHash();
      if (m.hashedBlocks !== i) continue; // a state that could not be restored starts again from block 0
      this.hasher.update(bytes);
      m.hashedBlocks++;
      if (m.hashedBlocks < this.blockCount) m.hashState = this.hasher.save();
    }
    if (m.hashedBlocks < this.blockCount) return;
    const got = this.hasher!.hex();
    this.hasher = null;
    if (got === expected) {
      m.verified = true;
      m.hashState = null;
      return;
    }
    this.host.onCorrupt?.({ url: this.url, block: -1, reason: 'file sha256' });
    m.blocks = {};
    this.resetHash();
    await writeManifest(this.dir, m);
    throw new EngineError(
      'bad-file',
      `${fileName(this.url)}: the downloaded file does not match its published SHA-256 (expected ${expected}, got ${got}); ` +
        'the cached copy was discarded, load again to download it anew',
      { file: this.url, mismatch: 'sha256' },
    );
  }
}
