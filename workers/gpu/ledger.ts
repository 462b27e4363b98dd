// The memory ledger: the one place where GPU buffers are created and destroyed.
// Every buffer is recorded with its byte size and category, with timestamps, so the VRAM chart and the peaks that the
// load report gives are what the device really holds (as far as buffers go; pipelines and driver overhead are not
// counted and never claimed).

export const LEDGER_CATEGORIES = [
  'weights',
  'scales',
  'outliers',
  'kv-cache',
  'activations',
  'staging',
  'uniforms',
] as const;
export type LedgerCategory = (typeof LEDGER_CATEGORIES)[number];

export type CategoryBytes = Record<LedgerCategory, number>;

export interface LedgerSample {
  /** Milliseconds since the ledger was created. */
  t: number;
  total: number;
  bytes: CategoryBytes;
}

export interface LedgerBufferDescriptor {
  label: string;
  size: number;
  usage: GPUBufferUsageFlags;
  category: LedgerCategory;
  mappedAtCreation?: boolean;
}

interface Entry {
  size: number;
  category: LedgerCategory;
  label: string;
  group: BufferGroup | null;
  /** Destroyed, counted until the device has let its memory go (retire). */
  retiring?: boolean;
}

export function zeroBytes(): CategoryBytes {
  return Object.fromEntries(LEDGER_CATEGORIES.map((c) => [c, 0])) as CategoryBytes;
}

/** GPU buffer sizes must be multiples of 4; the ledger records the size actually allocated. */
export function alignedSize(size: number): number {
  return Math.max(4, Math.ceil(size / 4) * 4);
}

/** Empty submissions and waits before retire() takes a buffer off the ledger (see retire). */
const RETIRE_ROUNDS = 6;

export class MemoryLedger {
  private readonly entries = new Map<GPUBuffer, Entry>();
  private readonly bytes = zeroBytes();
  private totalBytes = 0;
  private peakBytes = 0;
  private readonly origin: number;
  private readonly history: LedgerSample[] = [];
  private readonly listeners = new Set<(s: LedgerSample) => void>();
  /** The coalescing window (record()): its start time, its first index in history, its highest sample. */
  private window: { start: number; index: number; peak: LedgerSample } | null = null;

  constructor(
    readonly device: GPUDevice,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.origin = now();
    this.record();
  }

  /** Creates a buffer and records it. `group`, when given, owns it (see BufferGroup.destroy). */
  createBuffer(desc: LedgerBufferDescriptor, group: BufferGroup | null = null): GPUBuffer {
    const size = alignedSize(desc.size);
    const buffer = this.device.createBuffer({
      label: desc.label,
      size,
      usage: desc.usage,
      mappedAtCreation: desc.mappedAtCreation ?? false,
    });
    this.entries.set(buffer, { size, category: desc.category, label: desc.label, group });
    this.bytes[desc.category] += size;
    this.totalBytes += size;
    if (this.totalBytes > this.peakBytes) this.peakBytes = this.totalBytes;
    this.record();
    return buffer;
  }

  /** Destroys a buffer created here. Destroying one twice, or one the ledger does not know, is a bug and throws. */
  destroy(buffer: GPUBuffer): void {
    const e = this.entries.get(buffer);
    if (!e) throw new Error(`ledger: destroy of an unknown buffer '${buffer.label}'`);
    this.entries.delete(buffer);
    if (!e.retiring) buffer.destroy();
    this.bytes[e.category] -= e.size;
    this.totalBytes -= e.size;
    this.record();
  }

  /**
   * Destroys a buffer now and counts it until the device has let its memory go. Dawn frees a destroyed buffer's
   * memory only once a submission made after the destroy has completed (measured on lavapipe: a buffer destroyed
   * with no submission after it is never freed), so this submits an empty batch and waits for the queue, in rounds,
   * and only then takes the buffer off the ledger: the ledger never shows less than the device holds. For large buffers let go in
   * the middle of a load (the int8 quantize scratch).
   */
  async retire(buffer: GPUBuffer): Promise<void> {
    const e = this.entries.get(buffer);
    if (!e) throw new Error(`ledger: retire of an unknown buffer '${buffer.label}'`);
    if (e.retiring) return;
    e.retiring = true;
    buffer.destroy();
    // Rounds of an empty submission and a wait: Dawn frees the memory in a later tick than the one that resolves
    // the wait, so one round did not always see it go. Measured on lavapipe (`/proc/self/smaps`, a 32 MiB buffer
    // that a copy submitted just before had read): still allocated after 1 round in 17 of 40 retires, after 2 in 2
    // of 40, after 3 or 4 in 1 of 80, after 6 in none of 80. A load retires only when the int8 scratch shrinks (a
    // few times per load), and one that was missed showed as a whole scratch of GPU memory beyond the ledger (77 MiB
    // at 6.7B) until the load's next wait.
    for (let round = 0; round < RETIRE_ROUNDS; round++) {
      this.letGo();
      await this.device.queue.onSubmittedWorkDone();
    }
    if (this.entries.get(buffer) === e) this.destroy(buffer);
  }

  /** Destroys every buffer: used when the device is lost or the engine is disposed. */
  destroyAll(): void {
    for (const b of [...this.entries.keys()]) this.destroy(b);
    this.letGo();
  }

  /**
   * An empty submission, so that the device frees what was destroyed before it (Dawn lets a destroyed buffer's memory
   * go only once a later submission completes; see retire). After destroying many buffers at once.
   */
  letGo(): void {
    this.device.queue.submit([]);
  }

  group(name: string): BufferGroup {
    return new BufferGroup(this, name);
  }

  get current(): number {
    return this.totalBytes;
  }

  /** The highest total since creation or the last resetPeak(). */
  get peak(): number {
    return this.peakBytes;
  }

  resetPeak(): void {
    this.peakBytes = this.totalBytes;
  }

  byCategory(): CategoryBytes {
    return { ...this.bytes };
  }

  /** Buffers alive now, largest first (for error messages and debugging). */
  live(): { label: string; size: number; category: LedgerCategory }[] {
    return [...this.entries.values()]
      .map(({ label, size, category }) => ({ label, size, category }))
      .sort((a, b) => b.size - a.size);
  }

  samples(sinceT = -Infinity): LedgerSample[] {
    return this.history.filter((s) => s.t > sinceT);
  }

  subscribe(listener: (s: LedgerSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  ownerOf(buffer: GPUBuffer): BufferGroup | null {
    return this.entries.get(buffer)?.group ?? null;
  }

  /** Milliseconds since the ledger began: the time base of its samples. */
  elapsed(): number {
    return this.now() - this.origin;
  }

  private record(): void {
    const s: LedgerSample = { t: this.now() - this.origin, total: this.totalBytes, bytes: { ...this.bytes } };
    const h = this.history;
    // Coalesce bursts (thousands of tensor buffers in one load) into at most two samples per millisecond window: the
    // window's highest total and its latest state. A peak is never coalesced away, so the highest sample is the
    // highest total the ledger ever held (what the VRAM chart marks as the peak).
    const w = this.window;
    if (w && s.t - w.start < 1) {
      if (s.total >= w.peak.total) {
        h.length = w.index; // the window's samples, replaced by the new peak (also its latest)
        h.push(s);
        w.peak = s;
      } else if (h[h.length - 1] === w.peak) h.push(s);
      else h[h.length - 1] = s;
    } else {
      h.push(s);
      this.window = { start: s.t, index: h.length - 1, peak: s };
    }
    if (h.length > 20_000) {
      const drop = h.length - 20_000;
      h.splice(0, drop);
      if (this.window) this.window.index = Math.max(0, this.window.index - drop);
    }
    for (const l of this.listeners) l(s);
  }
}

/**
 * A set of buffers that live and die together: one model's weights, one run state. A failed or cancelled load calls
 * destroy() and the ledger is back where it was before the load began.
 */
export class BufferGroup {
  private readonly buffers = new Set<GPUBuffer>();
  private destroyed = false;

  constructor(
    readonly ledger: MemoryLedger,
    readonly name: string,
  ) {}

  createBuffer(desc: LedgerBufferDescriptor): GPUBuffer {
    if (this.destroyed) throw new Error(`ledger: group '${this.name}' is destroyed`);
    const b = this.ledger.createBuffer(desc, this);
    this.buffers.add(b);
    return b;
  }

  /** Destroys one buffer of this group early (e.g. a scratch buffer reused no more). */
  release(buffer: GPUBuffer): void {
    if (!this.buffers.delete(buffer)) throw new Error(`ledger: '${buffer.label}' is not in group '${this.name}'`);
    this.ledger.destroy(buffer);
  }

  /**
   * Lets one buffer of this group go early, counted until the device has freed it (MemoryLedger.retire). The group
   * no longer owns it: destroying the group meanwhile leaves it to the retire in flight.
   */
  retire(buffer: GPUBuffer): Promise<void> {
    if (!this.buffers.delete(buffer)) throw new Error(`ledger: '${buffer.label}' is not in group '${this.name}'`);
    return this.ledger.retire(buffer);
  }

  get bytes(): number {
    let n = 0;
    for (const b of this.buffers) n += alignedSize(b.size);
    return n;
  }

  get size(): number {
    return this.buffers.size;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.buffers) this.ledger.destroy(b);
    if (this.buffers.size) this.ledger.letGo();
    this.buffers.clear();
  }
}
